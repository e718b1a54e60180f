import { describe, expect, it } from 'vitest';
import { hmacVerifier } from '../../src/integrity/hmac.js';
import { nodeHashes } from '../../src/node/crypto.js';
import { startBackend } from '../../src/backend/index.js';
import { createBundle } from '../../src/tools/bundle.js';
import { hmacKeyId, hmacSigner } from '../../src/tools/keys.js';
import { closeAfterEach, deviceFor, fw } from './helpers.js';

// A bundle header whose MAC does not verify proves nothing about the release: over plain HTTP (or Espruino's TLS, which
// checks no certificate) one byte flipped on the way is enough. So the agent does not give the release up at the
// first bad MAC, as it does for a refusal of an authenticated manifest; it fetches it again, up to
// maxAttemptsPerRelease, and never writes a byte of an unverified bundle.

const started = closeAfterEach();
const KEY = new Uint8Array(32).fill(0x5a);
const OTHER_KEY = new Uint8Array(32).fill(0x33);
const trust = { verifiers: [hmacVerifier(nodeHashes, KEY, hmacKeyId(KEY))], allowUnsigned: false };

function signedBundle(version: string, key: Uint8Array): Uint8Array {
  return createBundle({ sequence: 2, releaseVersion: version, hardwareVersions: ['evt'],
    parts: [{ softwareType: 'main-fw', version, data: fw(version, 24_000) }] }, hmacSigner(key));
}

describe('a bundle header that fails to verify', () => {
  it('one byte of the header flipped in transit: signature-invalid, nothing written, and the next cycle installs the release', async () => {
    const backend = started.backend(await startBackend({ http: true }));
    await backend.admin.uploadPayload(signedBundle('1.0.0', KEY), { hardwareVersion: 'evt', softwareType: 'main-fw', softwareVersion: '1.0.0' });
    backend.admin.deploy({ releaseVersion: '1.0.0', cohort: 'default', rolloutPercent: 100 });
    // Offset 40 lies inside the signed header (manifest and MAC), before the first part.
    backend.faults.add({ route: 'cdn', kind: 'corrupt', offset: 40, times: 1 });
    const made = await deviceFor(backend, 'SN-FLIP', { trust });
    const device = started.device(made.device);
    const slots = device.main.layout.slots;
    const before = await slots[1].read(0, 64 * 1024);

    const first = await device.runOnce();
    expect(first.outcome).toBe('failed');
    expect(first.error?.code).toBe('signature-invalid');
    expect(Buffer.from(await slots[1].read(0, 64 * 1024)).equals(Buffer.from(before)), 'the fallback bank is untouched').toBe(true);
    expect((await device.status()).agent?.givenUp ?? []).toEqual([]);

    const second = await device.runOnce();
    expect(second.outcome).toBe('confirmed');
    expect((await device.status()).main.running).toBe('1.0.0');
    expect(made.events.some((e) => e.type === 'up-to-date' && e.reason === 'release-rejected-before')).toBe(false);
  });

  it('a header altered on every fetch is fetched again up to maxAttemptsPerRelease, then given up, never written', async () => {
    const backend = started.backend(await startBackend({ http: true }));
    await backend.admin.uploadPayload(signedBundle('1.0.0', KEY), { hardwareVersion: 'evt', softwareType: 'main-fw', softwareVersion: '1.0.0' });
    backend.admin.deploy({ releaseVersion: '1.0.0', cohort: 'default', rolloutPercent: 100 });
    backend.faults.add({ route: 'cdn', kind: 'corrupt', offset: 40, times: 'always' });
    const made = await deviceFor(backend, 'SN-FORGED', { trust,
      policy: { healthDeadlineMs: 2000, backoffBaseMs: 10, backoffMaxMs: 50, progressIntervalMs: 0, maxAttemptsPerRelease: 3 } });
    const device = started.device(made.device);
    const slots = device.main.layout.slots;
    const before = await slots[1].read(0, 64 * 1024);

    const outcomes: (string | undefined)[] = [];
    for (let i = 0; i < 3; i++) outcomes.push((await device.runOnce()).error?.code);
    expect(outcomes).toEqual(['signature-invalid', 'signature-invalid', 'signature-invalid']);
    const exhausted = await device.runOnce();
    expect(exhausted.error?.code).toBe('release-attempts-exhausted');
    const fetches = made.events.filter((e) => e.type === 'download-started').length;
    expect(fetches).toBe(3);

    expect((await device.runOnce()).outcome).toBe('up-to-date');
    expect(made.events.some((e) => e.type === 'up-to-date' && e.reason === 'release-rejected-before')).toBe(true);
    expect(made.events.filter((e) => e.type === 'download-started').length, 'given up: not fetched again').toBe(fetches);
    expect(made.events.some((e) => e.type === 'staged')).toBe(false);
    expect(Buffer.from(await slots[1].read(0, 64 * 1024)).equals(Buffer.from(before)), 'the fallback bank is untouched').toBe(true);
    expect((await device.status()).main.running).toBe('0.0.1');
  });

  it('a bundle MACed with a key the device does not hold (key-unknown) is not given up at the first fetch either', async () => {
    const backend = started.backend(await startBackend({ http: true }));
    await backend.admin.uploadPayload(signedBundle('1.0.0', OTHER_KEY), { hardwareVersion: 'evt', softwareType: 'main-fw', softwareVersion: '1.0.0' });
    backend.admin.deploy({ releaseVersion: '1.0.0', cohort: 'default', rolloutPercent: 100 });
    const made = await deviceFor(backend, 'SN-OTHER', { trust });
    const device = started.device(made.device);
    expect((await device.runOnce()).error?.code).toBe('key-unknown');
    expect((await device.status()).agent?.givenUp).toEqual([]);
    expect((await device.runOnce()).error?.code).toBe('key-unknown');
    expect(made.events.filter((e) => e.type === 'download-started').length).toBe(2);
    expect(made.events.some((e) => e.type === 'staged')).toBe(false);
  });
});
