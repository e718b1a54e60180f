import { describe, expect, it } from 'vitest';
import { startBackend } from '../../src/backend/index.js';
import type { Backend } from '../../src/backend/index.js';
import { ed25519Verifier } from '../../src/node/crypto.js';
import { createBundle } from '../../src/tools/bundle.js';
import { ed25519Signer, generateEd25519 } from '../../src/tools/keys.js';
import type { FirmwareBehaviour } from '../../hal/sim/firmware-image.js';
import { uniformGeometry } from '../../hal/flash.js';
import type { CutMode } from '../../hal/sim/faults.js';
import { SimFlash } from '../../hal/sim/sim-flash.js';
import { SimDevice } from '../../src/node/sim-device.js';
import { closeAfterEach, deviceFor, fw, powerOn, runOnceOrCut } from '../e2e/helpers.js';

// Anti-rollback that survives an erased journal: the floor lives in the main MCU's boot record (bootloader storage),
// raised when a bundle's image is confirmed. An attacker (or a fresh journal) that wipes the agent's journal sectors
// cannot get an older, properly signed bundle installed.

const started = closeAfterEach();

function signedBundles(): (version: string, sequence: number, behaviour?: FirmwareBehaviour) => Uint8Array {
  const keys = generateEd25519();
  const signer = ed25519Signer(keys.privatePem);
  bundles.verifier = ed25519Verifier(keys.publicPem);
  return (version, sequence, behaviour = 'healthy') => createBundle({ sequence, releaseVersion: version, hardwareVersions: ['evt'],
    parts: [{ softwareType: 'main-fw', version, data: fw(version, 24_000, behaviour) }] }, signer);
}
const bundles: { verifier: ReturnType<typeof ed25519Verifier> | null } = { verifier: null };

async function offer(backend: Backend, payload: Uint8Array, version: string): Promise<void> {
  await backend.admin.uploadPayload(payload, { hardwareVersion: 'evt', softwareType: 'main-fw', softwareVersion: version });
  backend.admin.deploy({ releaseVersion: version, cohort: 'default', rolloutPercent: 100 });
}

/** Erases every sector of the agent's journal (sectors 2 and 3 of the main flash), then powers the device on. */
async function eraseJournalAndReboot(device: SimDevice): Promise<void> {
  const area = device.journalArea;
  for (const sector of area.geometry.sectors) await area.erase(sector.offset, sector.size);
  const blank = await area.read(0, area.geometry.sectors.reduce((n, s) => n + s.size, 0));
  expect(blank.every((b) => b === 0xff)).toBe(true);
  await device.boot();
  expect((await device.status()).agent).toBeNull();
}

function flashBytes(flash: { geometry: { sectors: { size: number }[] } }): number {
  return flash.geometry.sectors.reduce((n, s) => n + s.size, 0);
}

async function banks(device: SimDevice): Promise<Buffer[]> {
  const slots = device.main.layout.slots;
  return [Buffer.from(await slots[0].read(0, 64 * 1024)), Buffer.from(await slots[1].read(0, 64 * 1024))];
}

describe('anti-rollback floor in the boot record', () => {
  it('after sequence 5 is confirmed and the journal erased, a signed sequence-3 bundle is refused and nothing is written', async () => {
    const bundle = signedBundles();
    const backend = started.backend(await startBackend({ http: true }));
    await offer(backend, bundle('1.0.0', 5), '1.0.0');
    const made = await deviceFor(backend, 'SN-FLOOR', { trust: { verifiers: [bundles.verifier!], allowUnsigned: false } });
    const device = started.device(made.device);
    expect((await device.runOnce()).outcome).toBe('confirmed');
    expect((await device.status()).main.running).toBe('1.0.0');
    const confirmed = await device.main.target().record();
    expect(confirmed?.floor).toBe(5);
    expect(device.main.installedSequence()).toBe(5);

    await eraseJournalAndReboot(device);
    expect(device.main.installedSequence()).toBe(5); // read by the bootloader from its record, not from the journal

    await offer(backend, bundle('1.1.0', 3), '1.1.0');
    const before = await banks(device);
    const record = await device.main.target().record();
    const refused = await device.runOnce();
    expect(refused.outcome).toBe('failed');
    expect(refused.error?.code).toBe('sequence-not-newer');
    expect(refused.error?.details).toMatchObject({ sequence: 3, installed: 5 });
    expect(made.events.some((e) => e.type === 'staged' && e.version === '1.1.0')).toBe(false);
    const after = await banks(device);
    expect(after[0].equals(before[0]), 'bank A untouched').toBe(true);
    expect(after[1].equals(before[1]), 'bank B (the staging slot) untouched').toBe(true);
    expect(await device.main.target().record()).toEqual(record);
    const status = await device.status();
    expect(status.main.running).toBe('1.0.0');
    expect(status.main.slots.map((s) => s.state)).toEqual(['confirmed', 'confirmed']);
  });

  it('a reverted trial does not raise the floor: after it, with the journal erased, a bundle between the two installs', async () => {
    const bundle = signedBundles();
    const backend = started.backend(await startBackend({ http: true }));
    await offer(backend, bundle('1.0.0', 5), '1.0.0');
    const made = await deviceFor(backend, 'SN-REVERT', { trust: { verifiers: [bundles.verifier!], allowUnsigned: false } });
    const device = started.device(made.device);
    expect((await device.runOnce()).outcome).toBe('confirmed');
    expect(device.main.installedSequence()).toBe(5);

    // Sequence 9 crashes on every boot: the bootloader spends its attempts and reverts to 1.0.0.
    await offer(backend, bundle('2.0.0', 9, 'crash-on-boot'), '2.0.0');
    const reverted = await device.runOnce();
    expect(reverted.outcome).toBe('rolled-back');
    const record = await device.main.target().record();
    expect(record?.slots.map((s) => s.state)).toContain('rejected');
    expect(record?.slots.find((s) => s.version === '2.0.0')?.sequence).toBe(9); // it was tagged, but never confirmed
    expect(record?.floor).toBe(5);
    expect(device.main.installedSequence()).toBe(5);
    expect((await device.status()).main.running).toBe('1.0.0');

    await eraseJournalAndReboot(device);
    await offer(backend, bundle('1.5.0', 7), '1.5.0');
    expect((await device.runOnce()).outcome).toBe('confirmed');
    expect((await device.status()).main.running).toBe('1.5.0');
    expect((await device.main.target().record())?.floor).toBe(7);
    expect(device.main.installedSequence()).toBe(7);
  });
});

describe('anti-rollback floor on the WiFi co-processor', () => {
  /** A key pair: its signer, and the trust that accepts only its signatures. */
  function signing(): { signer: ReturnType<typeof ed25519Signer>; trust: { verifiers: ReturnType<typeof ed25519Verifier>[]; allowUnsigned: false } } {
    const keys = generateEd25519();
    return { signer: ed25519Signer(keys.privatePem), trust: { verifiers: [ed25519Verifier(keys.publicPem)], allowUnsigned: false } };
  }

  /** A device with a co-processor (0.0.1 on both MCUs) that installed and confirmed `first` (release `version`). */
  async function installed(serial: string, trust: ReturnType<typeof signing>['trust'], first: Uint8Array, version: string):
    Promise<{ backend: Backend; device: SimDevice }> {
    const backend = started.backend(await startBackend({ http: true }));
    await offer(backend, first, version);
    const device = started.device((await deviceFor(backend, serial, { trust }, fw('0.0.1', 5_000))).device);
    let result = await device.runOnce();
    for (let i = 0; i < 4 && result.outcome === 'rebooting'; i++) result = await device.runOnce();
    expect(result.outcome).toBe('confirmed');
    return { backend, device };
  }

  it('a confirmed WiFi-only bundle raises the co-processor\'s floor; with the journal erased an older one is refused', async () => {
    const { signer, trust } = signing();
    const wifiOnly = (version: string, sequence: number): Uint8Array => createBundle({ sequence, releaseVersion: version,
      hardwareVersions: ['evt'], parts: [{ softwareType: 'wifi-fw', version, data: fw(version, 9_000) }] }, signer);
    const { backend, device } = await installed('SN-WIFI-FLOOR', trust, wifiOnly('1.0.0', 5), '1.0.0');
    const status = await device.status();
    expect([status.main.running, status.wifi?.running]).toEqual(['0.0.1', '1.0.0']);
    expect((await device.wifi!.device.target().record())?.floor).toBe(5);
    expect((await device.main.target().record())?.floor).toBeUndefined(); // the main image was not part of it

    await eraseJournalAndReboot(device);
    await offer(backend, wifiOnly('1.1.0', 3), '1.1.0');
    const wifiBefore = Buffer.from(await device.wifiFlash!.read(0, flashBytes(device.wifiFlash!)));
    const refused = await device.runOnce();
    expect(refused.outcome).toBe('failed');
    expect(refused.error?.code).toBe('sequence-not-newer');
    expect(refused.error?.details).toMatchObject({ sequence: 3, installed: 5 });
    const wifiAfter = Buffer.from(await device.wifiFlash!.read(0, flashBytes(device.wifiFlash!)));
    expect(wifiAfter.equals(wifiBefore), 'the co-processor\'s flash is untouched').toBe(true);
    expect((await device.status()).wifi?.running).toBe('1.0.0');
  });

  it('a bundle with a main image anchors its sequence on the main MCU only, though its WiFi part is confirmed first', async () => {
    const { signer, trust } = signing();
    const pair = (version: string, sequence: number): Uint8Array => createBundle({ sequence, releaseVersion: version,
      hardwareVersions: ['evt'], parts: [
        { softwareType: 'wifi-fw', version, data: fw(version, 9_000) },
        { softwareType: 'main-fw', version, data: fw(version, 12_000), requires: [{ softwareType: 'wifi-fw', minVersion: version }] },
      ] }, signer);
    const { backend, device } = await installed('SN-PAIR-FLOOR', trust, pair('1.0.0', 6), '1.0.0');
    const status = await device.status();
    expect([status.main.running, status.wifi?.running]).toEqual(['1.0.0', '1.0.0']);
    expect((await device.main.target().record())?.floor).toBe(6);
    const wifiRecord = await device.wifi!.device.target().record();
    expect(wifiRecord?.floor).toBeUndefined();
    expect(wifiRecord?.slots.every((s) => s.sequence === undefined)).toBe(true);

    await eraseJournalAndReboot(device);
    await offer(backend, pair('1.1.0', 6), '1.1.0');
    const refused = await device.runOnce();
    expect(refused.error?.code).toBe('sequence-not-newer');
    expect(refused.error?.details).toMatchObject({ sequence: 6, installed: 6 });
  });

  it('a bundle that re-ships the running main version anchors its sequence on the WiFi co-processor it changes', async () => {
    const { signer, trust } = signing();
    const { backend, device } = await installed('SN-SAME-MAIN', trust, createBundle({ sequence: 8, releaseVersion: '1.0.0',
      hardwareVersions: ['evt'], parts: [
        { softwareType: 'main-fw', version: '0.0.1', data: fw('0.0.1', 20_000) },
        { softwareType: 'wifi-fw', version: '1.0.0', data: fw('1.0.0', 9_000) },
      ] }, signer), '1.0.0');
    const status = await device.status();
    expect([status.main.running, status.wifi?.running]).toEqual(['0.0.1', '1.0.0']);
    expect((await device.main.target().record())?.floor).toBeUndefined();
    expect((await device.wifi!.device.target().record())?.floor).toBe(8);

    await eraseJournalAndReboot(device);
    await offer(backend, createBundle({ sequence: 7, releaseVersion: '1.1.0', hardwareVersions: ['evt'], parts: [
      { softwareType: 'wifi-fw', version: '1.1.0', data: fw('1.1.0', 9_000) },
    ] }, signer), '1.1.0');
    const refused = await device.runOnce();
    expect(refused.error?.code).toBe('sequence-not-newer');
    expect(refused.error?.details).toMatchObject({ sequence: 7, installed: 8 });
  });
});

describe('anti-rollback floor under power cuts', () => {
  const NEW = '1.0.0';
  const MODES: CutMode[] = ['before', 'after', 'torn-prefix', 'torn-unstable'];

  async function makeRig(backend: Backend, serial: string, verifier: ReturnType<typeof ed25519Verifier>):
    Promise<{ device: SimDevice; main: SimFlash; opsAt: { [k: string]: number } }> {
    const main = new SimFlash(uniformGeometry(4096, 4 + 2 * 8, 8, 0xff));
    const opsAt: { [k: string]: number } = {};
    const device = new SimDevice({
      serial, hardwareVersion: 'evt', wifi: false, mainFlash: main, api: { baseUrl: backend.baseUrl, projectKey: backend.projectKey },
      trust: { verifiers: [verifier], allowUnsigned: false },
      policy: { healthDeadlineMs: 5000, backoffBaseMs: 1, backoffMaxMs: 2, progressIntervalMs: 1e9 },
      onEvent: (e) => {
        const key = e.type === 'state' ? `state-${e.phase}` : e.type;
        if (opsAt[key] === undefined) opsAt[key] = main.ops;
      },
    });
    await device.provision(fw('0.0.1', 6_000), '0.0.1');
    await device.boot();
    return { device, main, opsAt };
  }

  /** The floor the record holds now; fails if it is anything but 0 or 5, or 5 without the new image confirmed. */
  async function checkFloor(device: SimDevice, where: string): Promise<number> {
    const record = await device.main.target().record();
    expect(record, `${where}: the boot record decodes`).not.toBeNull();
    const floor = record!.floor ?? 0;
    expect([0, 5], `${where}: floor ${floor}`).toContain(floor);
    if (floor === 5) {
      const slot = record!.slots.find((s) => s.version === NEW);
      expect(slot?.state, `${where}: floor 5 only with ${NEW} confirmed`).toBe('confirmed');
    }
    expect(device.main.installedSequence(), where).toBe(floor);
    return floor;
  }

  it('a cut at every main-flash operation from verifying to confirmed leaves floor 0 or 5 (5 only once confirmed), then 5', async () => {
    const bundle = signedBundles();
    const backend = started.backend(await startBackend({ http: true }));
    await offer(backend, bundle(NEW, 5), NEW);
    const verifier = bundles.verifier!;
    const reference = await makeRig(backend, 'SN-CUT-REF', verifier);
    let result = await reference.device.runOnce();
    for (let i = 0; i < 4 && result.outcome === 'rebooting'; i++) result = await reference.device.runOnce();
    expect(result.outcome).toBe('confirmed');
    expect(await checkFloor(reference.device, 'reference')).toBe(5);
    reference.device.close();
    const from = reference.opsAt['state-verifying'];
    const to = reference.opsAt.confirmed + 2;
    expect(to - from).toBeGreaterThan(6);
    let cuts = 0;
    for (const mode of MODES) {
      for (let op = from; op <= to; op++) {
        const where = `${mode} cut at main op ${op} (replay: main.armCut({ op: ${op}, mode: '${mode}', seed: ${op} }))`;
        const rig = await makeRig(backend, `SN-CUT-${mode}-${op}`, verifier);
        rig.main.armCut({ op, mode, seed: op });
        let outcome = await runOnceOrCut(rig.device);
        // The agent may report the cut as a failed cycle rather than throw it: the part stays dead until power-on.
        if (rig.main.isDead) cuts++;
        for (let cycle = 0; cycle < 10 && outcome !== 'up-to-date'; cycle++) {
          if (outcome !== 'confirmed') {
            await powerOn(rig.device);
            await checkFloor(rig.device, `${where}, power-on ${cycle}`);
          }
          outcome = await runOnceOrCut(rig.device);
        }
        expect(outcome, where).toBe('up-to-date');
        expect((await rig.device.status()).main.running, where).toBe(NEW);
        expect(await checkFloor(rig.device, `${where}, end`)).toBe(5);
        rig.device.close();
      }
    }
    expect(cuts).toBeGreaterThan(MODES.length * 6);
  });
});
