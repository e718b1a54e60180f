import { describe, expect, it } from 'vitest';
import { startBackend } from '../../src/backend/index.js';
import { ed25519Verifier } from '../../src/node/crypto.js';
import { createBundle } from '../../src/tools/bundle.js';
import { ed25519Signer, generateEd25519 } from '../../src/tools/keys.js';
import { closeAfterEach, deviceFor, fw } from './helpers.js';

// Anti-rollback: the sequence of a confirmed bundle is journaled, and a later bundle that is not newer is refused
// by the unpacker's device check before any flash write, even when it is properly signed and its version is newer.

const started = closeAfterEach();

describe('anti-rollback through the agent', () => {
  it('after confirming sequence 5, a signed bundle with sequence 4 is refused with sequence-not-newer and both banks stay untouched', async () => {
    const keys = generateEd25519();
    const signer = ed25519Signer(keys.privatePem);
    const bundle = (version: string, sequence: number): Uint8Array => createBundle({ sequence, releaseVersion: version, hardwareVersions: ['evt'],
      parts: [{ softwareType: 'main-fw', version, data: fw(version, 24_000) }] }, signer);
    const backend = started.backend(await startBackend({ http: true }));
    await backend.admin.uploadPayload(bundle('1.0.0', 5), { hardwareVersion: 'evt', softwareType: 'main-fw', softwareVersion: '1.0.0' });
    backend.admin.deploy({ releaseVersion: '1.0.0', cohort: 'default', rolloutPercent: 100 });
    const made = await deviceFor(backend, 'SN-SEQ', { trust: { verifiers: [ed25519Verifier(keys.publicPem)], allowUnsigned: false } });
    const device = started.device(made.device);
    expect((await device.runOnce()).outcome).toBe('confirmed');
    const confirmed = await device.status();
    expect(confirmed.main.running).toBe('1.0.0');
    expect(confirmed.agent?.installedSequence).toBe(5);

    // A power cycle: the floor comes back from the journal, not from RAM.
    await device.boot();
    await backend.admin.uploadPayload(bundle('1.1.0', 4), { hardwareVersion: 'evt', softwareType: 'main-fw', softwareVersion: '1.1.0' });
    backend.admin.deploy({ releaseVersion: '1.1.0', cohort: 'default', rolloutPercent: 100 });
    const slots = device.main.layout.slots;
    const before = [await slots[0].read(0, 64 * 1024), await slots[1].read(0, 64 * 1024)];
    const record = await device.main.target().record();
    const refused = await device.runOnce();
    expect(refused.outcome).toBe('failed');
    expect(refused.error?.code).toBe('sequence-not-newer');
    expect(made.events.some((e) => e.type === 'staged' && e.version === '1.1.0')).toBe(false);
    const after = [await slots[0].read(0, 64 * 1024), await slots[1].read(0, 64 * 1024)];
    expect(Buffer.from(after[0]).equals(Buffer.from(before[0])), 'bank A untouched').toBe(true);
    expect(Buffer.from(after[1]).equals(Buffer.from(before[1])), 'bank B untouched').toBe(true);
    expect(await device.main.target().record()).toEqual(record);
    const status = await device.status();
    expect(status.main.running).toBe('1.0.0');
    expect(status.agent?.installedSequence).toBe(5);
  });
});
