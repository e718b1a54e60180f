import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
// Only the package's entry modules: a fleet simulator must be buildable from the public API.
import type { AgentEvent, CycleResult } from '../../src/index.js';
import { SimDevice, mainGeometryFor, systemClock } from '../../src/node/index.js';
import type { SimDeviceOptions } from '../../src/node/index.js';
import { buildFirmwareImage } from '../../hal/sim/index.js';
import { inRollout, startBackend } from '../../src/backend/index.js';
import type { Backend } from '../../src/backend/index.js';

// What a fleet operator does to a fleet of SimDevices: staged rollouts to cohorts, an abort while devices are
// mid-download, the whole fleet powered off mid-download and brought back from its directories.

const FULL = process.env.OTA_SWEEP_FULL === '1';
const NEW = '1.1.0';
const OLD = '1.0.0';
const PAYLOAD = 40_000;
const FACTORY = buildFirmwareImage({ version: OLD, size: 16_384 });

let backend: Backend | null = null;
const fleets: SimDevice[][] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const fleet of fleets.splice(0)) {
    await Promise.all(fleet.map((device) => device.stop()));
    for (const device of fleet) device.close();
  }
  await backend?.close();
  backend = null;
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

interface Member {
  serial: string;
  device: SimDevice;
  events: AgentEvent[];
}

function member(serial: string, extra: Partial<SimDeviceOptions>): Member {
  const events: AgentEvent[] = [];
  const device = new SimDevice({
    serial, hardwareVersion: 'evt', wifi: false, mainGeometry: mainGeometryFor(65_536), clock: systemClock,
    api: { baseUrl: backend!.baseUrl, projectKey: backend!.projectKey },
    // A checkpoint every sector: a stop anywhere in the download keeps what reached flash.
    policy: { checkpointBytes: 0, progressIntervalMs: 0, healthDeadlineMs: 5_000 },
    onEvent: (event) => events.push(event), ...extra,
  });
  return { serial, device, events };
}

const received = (m: Member): number => {
  let most = 0;
  for (const e of m.events) if (e.type === 'download-progress' && e.received > most) most = e.received;
  return most;
};

/** Waits (real time, bounded) until `done()`. */
async function until(done: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function release(): Promise<void> {
  backend = await startBackend({ http: true });
  await backend.admin.uploadPayload(buildFirmwareImage({ version: NEW, size: PAYLOAD }), { hardwareVersion: 'evt', softwareType: 'main-fw', softwareVersion: NEW });
}

describe('staged rollouts to a fleet', () => {
  const size = FULL ? 400 : 100;
  it(`${size} devices, two cohorts: an abort while devices are mid-download withdraws the release from them only`, async () => {
    await release();
    const admin = backend!.admin;
    admin.createCohort('beta');
    const fleet: Member[] = [];
    for (let i = 0; i < size; i++) {
      const serial = `roll-${i}`;
      if (i < size / 5) admin.createDevice(serial, 'evt', 'beta');
      const m = member(serial, {});
      await m.device.provision(FACTORY, OLD);
      await m.device.boot();
      fleet.push(m);
    }
    fleets.push(fleet.map((m) => m.device));
    const beta = fleet.slice(0, size / 5);
    const rest = fleet.slice(size / 5);
    admin.deploy({ releaseVersion: NEW, cohort: 'beta', rolloutPercent: 100 });
    admin.deploy({ releaseVersion: NEW, cohort: 'default', rolloutPercent: 30 });
    const selected = rest.filter((m) => inRollout(m.serial, NEW, 30));
    expect(selected.length).toBeGreaterThan(10);
    // Each download takes at least a second: the abort lands while they run.
    const throttle = backend!.faults.add({ route: 'cdn', kind: 'throttle', bytesPerSecond: PAYLOAD, times: 'always' });
    const first = fleet.map((m) => m.device.runOnce());
    await until(() => selected.filter((m) => received(m) > 8192).length >= Math.min(10, selected.length), 'downloads under way');
    admin.abortRollout('default');
    // The operator also powers the fleet down (stop()): the next cycle asks the device API again before resuming.
    await Promise.all(fleet.map((m) => m.device.stop()));
    const outcomes: CycleResult[] = await Promise.all(first);
    backend!.faults.remove(throttle.id);
    const cut = selected.filter((m) => outcomes[size / 5 + rest.indexOf(m)].outcome === 'stopped' && received(m) > 0 && received(m) < PAYLOAD);
    expect(cut.length).toBeGreaterThanOrEqual(5);
    for (const m of rest) {
      if (!selected.includes(m)) expect(received(m), m.serial).toBe(0);
    }

    const second = await Promise.all(fleet.map((m) => m.device.runOnce()));
    for (const [i, m] of fleet.entries()) {
      const status = await m.device.status();
      if (i < size / 5) {
        // Beta is untouched by the abort of another cohort: stopped downloads resume and install.
        expect(second[i].outcome === 'confirmed' || (second[i].outcome === 'up-to-date' && status.main.running === NEW), m.serial).toBe(true);
        expect(status.main.running).toBe(NEW);
      } else {
        expect(second[i].outcome, m.serial).toBe('up-to-date');
        // Only a device that finished and confirmed before the abort runs the release; no one is left on a trial.
        expect(status.main.trial).toBe(false);
        if (status.main.running === NEW) expect(outcomes[i].outcome).toBe('confirmed');
        else expect(status.main.running).toBe(OLD);
      }
    }
    for (const m of cut) {
      const withdrawn = m.events.filter((e) => e.type === 'up-to-date').pop();
      expect(withdrawn !== undefined && withdrawn.type === 'up-to-date' ? withdrawn.reason : null, m.serial).toBe('release-withdrawn');
      expect((await m.device.status()).agent?.release).toBeNull();
    }
    expect(beta.every((m) => m.events.some((e) => e.type === 'confirmed'))).toBe(true);

    // Deployed again, to everyone: the withdrawn partial downloads start over and every device installs.
    admin.deploy({ releaseVersion: NEW, cohort: 'default', rolloutPercent: 100 });
    const third = await Promise.all(rest.map((m) => m.device.runOnce()));
    for (const [i, m] of rest.entries()) {
      const running = (await m.device.status()).main.running;
      expect(running, `${m.serial}: ${third[i].outcome} ${third[i].error?.code ?? ''}`).toBe(NEW);
    }
  }, 120_000);
});

describe('a file-backed fleet powered off mid-download', () => {
  const size = FULL ? 200 : 40;
  it(`${size} devices: stop() and close() all, then new SimDevices on the same directories resume where each stopped`, async () => {
    await release();
    backend!.admin.deploy({ releaseVersion: NEW, cohort: 'default', rolloutPercent: 100 });
    const root = mkdtempSync(join(tmpdir(), 'ota-fleet-dirs-'));
    dirs.push(root);
    const extra = (i: number): Partial<SimDeviceOptions> => ({ dir: join(root, `dev-${i}`), fileFlash: { sync: false } });
    const fleet: Member[] = [];
    for (let i = 0; i < size; i++) {
      const m = member(`dir-${i}`, extra(i));
      await m.device.provision(FACTORY, OLD);
      await m.device.boot();
      fleet.push(m);
    }
    fleets.push(fleet.map((m) => m.device));
    // Four seconds a download: every device is past its first sector, and none done, when the power goes.
    const throttle = backend!.faults.add({ route: 'cdn', kind: 'throttle', bytesPerSecond: PAYLOAD / 4, times: 'always' });
    const first = fleet.map((m) => m.device.runOnce());
    await until(() => fleet.every((m) => received(m) > 4096), 'every device past its first sector');
    await Promise.all(fleet.map((m) => m.device.stop()));
    const stopped = await Promise.all(first);
    expect(stopped.map((r) => r.outcome + (r.error ? ' ' + r.error.code : '')).filter((o) => o !== 'stopped')).toEqual([]);
    const journaled: number[] = [];
    for (const m of fleet) journaled.push((await m.device.status()).agent!.download!.offset);
    for (const m of fleet) m.device.close();
    fleets.pop();
    backend!.faults.remove(throttle.id);
    expect(journaled.every((offset) => offset > 0)).toBe(true);

    const again = fleet.map((m, i) => member(m.serial, extra(i)));
    fleets.push(again.map((m) => m.device));
    const outcomes = await Promise.all(again.map((m) => m.device.runOnce()));
    for (const [i, m] of again.entries()) {
      expect(outcomes[i].outcome, `${m.serial}: ${outcomes[i].error?.code ?? ''}`).toBe('confirmed');
      const resumed = m.events.find((e) => e.type === 'download-resumed');
      expect(resumed !== undefined && resumed.type === 'download-resumed' ? resumed.offset : -1, m.serial).toBe(journaled[i]);
      expect((await m.device.status()).main.running).toBe(NEW);
    }
  }, 120_000);
});
