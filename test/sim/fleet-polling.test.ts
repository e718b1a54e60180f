import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// Only the package's entry modules ('ota-agent', 'ota-agent/node', 'ota-agent/sim', 'ota-agent/backend'): a fleet
// simulator must be buildable from the public API.
import { VirtualClock } from '../../src/index.js';
import type { AgentEvent, AgentNetwork, ApiResponse } from '../../src/index.js';
import { SimDevice, mainGeometryFor, systemClock } from '../../src/node/index.js';
import { buildFirmwareImage, seededRandom } from '../../hal/sim/index.js';
import { startBackend } from '../../src/backend/index.js';
import type { Backend } from '../../src/backend/index.js';

// A fleet of SimDevices in one process polling one backend on one VirtualClock: the first checks spread over the
// jitter window and later ones stay spread, each device keeps exactly one poll timer, the schedule replays from the
// seeds, no device's state leaks into another's, and months of polling do not grow the heap.

const FLEET = process.env.OTA_SWEEP_FULL === '1' ? 500 : 200;
const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 0, 1);
const FACTORY = buildFirmwareImage({ version: '1.0.0', size: 16_384 });
const POLICY = { firstCheckMs: 60_000, firstCheckJitterMs: 60_000, intervalMs: HOUR, intervalJitter: 0.1, progressIntervalMs: 1e9 };

let backend: Backend;
beforeAll(async () => {
  backend = await startBackend({ http: true });
  // A payload makes the hardware version known (an unknown one is a 400, which halts polling); nothing is deployed to
  // the default cohort, so every check is a 204.
  await backend.admin.uploadPayload(buildFirmwareImage({ version: '1.1.0', size: 8_192 }), { hardwareVersion: 'evt', softwareType: 'main-fw', softwareVersion: '1.1.0' });
});
afterAll(async () => { await backend.close(); });

interface Fleet {
  clock: VirtualClock;
  devices: SimDevice[];
  checks: number[][];
}

/** `count` devices on one VirtualClock, device i seeded with `seed + i`; HTTP timeouts on real time (networkClock). */
async function fleetOf(count: number, seed: number, prefix: string, network?: AgentNetwork): Promise<Fleet> {
  const clock = new VirtualClock(T0);
  const checks: number[][] = [];
  const devices: SimDevice[] = [];
  for (let i = 0; i < count; i++) {
    const times: number[] = [];
    checks.push(times);
    const device = new SimDevice({
      serial: `${prefix}-${i}`, hardwareVersion: 'evt', wifi: false, mainGeometry: mainGeometryFor(32_768),
      api: { baseUrl: backend.baseUrl, projectKey: backend.projectKey }, network, clock, networkClock: systemClock,
      random: seededRandom(seed + i), policy: POLICY,
      onEvent: (event: AgentEvent) => { if (event.type === 'checking') times.push(clock.now()); },
    });
    await device.provision(FACTORY, '1.0.0');
    devices.push(device);
  }
  return { clock, devices, checks };
}

/** Waits (real time, bounded) until every polling device is back in its poll wait: one pending timer each. */
async function settle(fleet: Fleet, polling: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (fleet.clock.pending() < polling && Date.now() < deadline) await new Promise((resolve) => setImmediate(resolve));
  expect(fleet.clock.pending()).toBe(polling);
}

/** Advances virtual time wake by wake until `until`, letting every woken cycle finish before the next wake. */
async function runUntil(fleet: Fleet, until: number, polling: number): Promise<void> {
  for (let wake = fleet.clock.nextWake(); wake >= 0 && wake <= until; wake = fleet.clock.nextWake()) {
    fleet.clock.advanceTo(wake);
    await settle(fleet, polling);
  }
  fleet.clock.advanceTo(until);
}

async function startAll(fleet: Fleet): Promise<void> {
  for (const device of fleet.devices) await device.start();
  await settle(fleet, fleet.devices.length);
}

async function closeAll(fleet: Fleet): Promise<void> {
  await Promise.all(fleet.devices.map((device) => device.stop()));
  for (const device of fleet.devices) device.close();
}

describe(`a fleet of ${FLEET} SimDevices on one VirtualClock`, () => {
  it('spreads the first checks over the jitter window and keeps later ones spread; one poll timer per device', async () => {
    const fleet = await fleetOf(FLEET, 1000, 'spread');
    try {
      await startAll(fleet);
      await runUntil(fleet, T0 + 3 * HOUR + 30 * 60_000, FLEET);
      const first = fleet.checks.map((times) => times[0] - T0);
      for (const at of first) expect(at >= 60_000 && at < 120_000).toBe(true);
      // Six 10 s bins of the 60 s window: about FLEET / 6 each; none empty or holding a herd.
      const bins = [0, 0, 0, 0, 0, 0];
      for (const at of first) bins[Math.floor((at - 60_000) / 10_000)]++;
      for (const n of bins) expect(n).toBeGreaterThan(FLEET / 12);
      for (const n of bins) expect(n).toBeLessThan(FLEET / 3);
      for (const times of fleet.checks) {
        expect(times.length).toBeGreaterThanOrEqual(3);
        for (let k = 1; k < times.length; k++) {
          const gap = times[k] - times[k - 1];
          expect(gap >= 0.9 * HOUR && gap <= 1.1 * HOUR, `interval ${gap}`).toBe(true);
        }
      }
      // The third checks are not synchronised either: nearly every device checks at its own moment.
      expect(new Set(fleet.checks.map((times) => times[2])).size).toBeGreaterThan(FLEET * 0.95);
      const seen = new Set(backend.admin.devices().map((d) => d.serial));
      expect(fleet.devices.every((device, i) => seen.has(`spread-${i}`) && device.agent !== null)).toBe(true);
    } finally {
      await closeAll(fleet);
    }
  }, 120_000);

  it('replays the same schedule from the same seeds, and another seed gives another', async () => {
    const schedule = async (seed: number, prefix: string): Promise<number[][]> => {
      const fleet = await fleetOf(30, seed, prefix);
      try {
        await startAll(fleet);
        await runUntil(fleet, T0 + 2 * HOUR + 30 * 60_000, 30);
        return fleet.checks;
      } finally {
        await closeAll(fleet);
      }
    };
    const a = await schedule(7, 'replay-a');
    const b = await schedule(7, 'replay-b');
    const c = await schedule(8, 'replay-c');
    expect(a.every((times) => times.length === 3)).toBe(true);
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
  }, 60_000);

  it('devices share no mutable state: one device stopped, power-cut or misconfigured leaves the others polling', async () => {
    const fleet = await fleetOf(20, 50, 'indep');
    try {
      // One options object for all but the serial is the natural way to build a fleet: nothing may write into it.
      await startAll(fleet);
      await fleet.devices[0].stop();
      await runUntil(fleet, T0 + HOUR + 30 * 60_000, 19);
      expect(fleet.checks[0]).toEqual([]);
      for (let i = 1; i < 20; i++) expect(fleet.checks[i].length).toBe(2);
      const states = await Promise.all(fleet.devices.map((device) => device.status()));
      expect(states.slice(1).every((s) => s.agent !== null && s.agent.phase === 'idle')).toBe(true);
      // Each device has its own flash: what one holds is not another's.
      expect(new Set(fleet.devices.map((d) => d.mainFlash)).size).toBe(20);
    } finally {
      await closeAll(fleet);
    }
  }, 60_000);

  it('a shared, frozen options object works for every device (SimDevice and its agent write nothing into it)', async () => {
    const clock = new VirtualClock(T0);
    const deepFreeze = <T>(value: T): T => {
      if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
        Object.freeze(value);
        for (const key of Object.keys(value as object)) deepFreeze((value as Record<string, unknown>)[key]);
      }
      return value;
    };
    const shared = deepFreeze({ api: { baseUrl: backend.baseUrl, projectKey: backend.projectKey }, policy: { ...POLICY }, hardwareVersion: 'evt' });
    const devices = [0, 1, 2].map((i) => new SimDevice({ ...shared, serial: `frozen-${i}`, wifi: false, clock, networkClock: systemClock,
      random: seededRandom(i), mainGeometry: mainGeometryFor(32_768) }));
    try {
      for (const device of devices) {
        await device.provision(FACTORY, '1.0.0');
        await device.boot();
      }
      const outcomes = await Promise.all(devices.map((device) => device.runOnce()));
      expect(outcomes.map((o) => o.outcome)).toEqual(['up-to-date', 'up-to-date', 'up-to-date']);
    } finally {
      for (const device of devices) device.close();
    }
  });

  it('months of polling do not grow the heap (no per-cycle state is kept)', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    // An in-memory device API (a 204 at once): a year of hourly checks in seconds, with nothing but the agents allocating.
    const latest: ApiResponse = { status: 204, headers: { 'memfault-reason': 'latest' }, body: new Uint8Array(0) };
    const network: AgentNetwork = {
      http: { get: () => Promise.resolve(latest) },
      fetcher: { fetch: () => Promise.reject(new Error('no download in this test')) },
    };
    const count = 10;
    const fleet = await fleetOf(count, 99, 'heap', network);
    const heap = (): number => { gc(); gc(); return process.memoryUsage().heapUsed; };
    try {
      await startAll(fleet);
      // Warm up (JIT, first allocations), then measure about 1 000 checks per device.
      await runUntil(fleet, T0 + 100 * HOUR, count);
      const before = heap();
      const checksBefore = fleet.checks.reduce((n, t) => n + t.length, 0);
      await runUntil(fleet, T0 + 1100 * HOUR, count);
      const after = heap();
      const checks = fleet.checks.reduce((n, t) => n + t.length, 0) - checksBefore;
      expect(checks).toBeGreaterThan(count * 900);
      // The recorded check times themselves take 8 bytes each (plus array growth); a chain of one promise per cycle
      // kept about 300 bytes per check.
      expect((after - before) / checks, `heap grew ${after - before} bytes over ${checks} checks`).toBeLessThan(60);
    } finally {
      await closeAll(fleet);
    }
  }, 120_000);
});
