import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../../src/backend/index.js';
import type { AgentEvent } from '../../src/agent/events.js';
import { HttpClient } from '../../src/http/client.js';
import { networkOverHttp } from '../../src/agent/http-adapter.js';
import { systemClock } from '../../src/node/clock.js';
import { SimDevice } from '../../src/node/sim-device.js';
import { TcpTransport } from '../../src/node/transports/tcp.js';
import { backendWith, bareBundle, fw } from './helpers.js';

// SimDevice as a fleet simulator drives it: polling through a reboot, and stop() followed by runOnce().

const NEW = '2.0.0';
let backend: Backend;
let client: HttpClient;
beforeAll(async () => {
  backend = await backendWith(bareBundle(NEW, [{ softwareType: 'main-fw', version: NEW, data: fw(NEW, 30_000) }]), NEW, { http: true });
  client = new HttpClient({ transport: new TcpTransport(), clock: systemClock });
});
afterAll(async () => {
  client.close();
  await backend.close();
});

/** A device over `client`, or (ownNetwork) over the HTTP client SimDevice makes itself, whose reads stop() can end. */
function device(serial: string, events: AgentEvent[], ownNetwork = false): SimDevice {
  return new SimDevice({
    serial, hardwareVersion: 'evt', wifi: false, network: ownNetwork ? undefined : networkOverHttp(client),
    api: { baseUrl: backend.baseUrl, projectKey: backend.projectKey },
    policy: { firstCheckMs: 0, firstCheckJitterMs: 0, intervalMs: 1000, progressIntervalMs: 0 },
    onEvent: (event) => events.push(event),
  });
}

describe('SimDevice polling', () => {
  it('start() keeps polling across the reboot into the trial, so the update confirms without a caller driving it', async () => {
    const events: AgentEvent[] = [];
    const sim = device('SN-POLL-1', events);
    await sim.provision(fw('0.0.1', 4_000), '0.0.1');
    await sim.start();
    for (let i = 0; i < 200 && !events.some((e) => e.type === 'confirmed'); i++) await new Promise((r) => setTimeout(r, 25));
    await sim.stop();
    expect(events.map((e) => e.type)).toContain('confirmed');
    expect((await sim.status()).main.running).toBe(NEW);
    sim.close();
  });

  it('runOnce() after stop() runs a whole cycle, through the reboot into the trial and the confirmation', async () => {
    const events: AgentEvent[] = [];
    const sim = device('SN-POLL-2', events);
    await sim.provision(fw('0.0.1', 4_000), '0.0.1');
    await sim.boot();
    await sim.stop();
    expect((await sim.runOnce()).outcome).toBe('confirmed');
    sim.close();
  });
});

describe('SimDevice.stop() while the server sends nothing', () => {
  // A stalled server must not hold a stop for the request timeout, and a stop before any response byte must leave
  // the journal where the cycle was (checking, downloading), never past a body that never came.
  for (const route of ['latest-url', 'cdn'] as const) {
    it(`ends a cycle stalled on the ${route === 'cdn' ? 'CDN before its response head' : 'update check'} at once, and the next cycle installs`, async () => {
      const serial = `SN-STALL-${route}`;
      const events: AgentEvent[] = [];
      const sim = device(serial, events, true);
      await sim.provision(fw('0.0.1', 4_000), '0.0.1');
      await sim.boot();
      const rule = backend.faults.add({ route, kind: 'stall', ms: 60_000, serial, times: 1 });
      const cycle = sim.runOnce();
      for (let i = 0; i < 200 && !events.some((e) => e.type === (route === 'cdn' ? 'update-available' : 'checking')); i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      await new Promise((r) => setTimeout(r, 100));
      await sim.stop();
      const result = await cycle;
      expect(result.outcome).toBe('stopped');
      expect(events.some((e) => e.type === 'verified')).toBe(false);
      expect(events.some((e) => e.type === 'backoff')).toBe(false);
      expect((await sim.status()).agent!.phase).toBe(route === 'cdn' ? 'downloading' : 'checking');
      backend.faults.remove(rule.id);
      expect((await sim.runOnce()).outcome).toBe('confirmed');
      sim.close();
    }, 60_000);
  }
});

describe('SimDevice.boot() while an agent runs', () => {
  // A power-on ends the previous boot's agent: two agents on one flash would program the same slot twice, reject a good
  // release, and keep polling behind the caller's back.
  it('mid-download: the old cycle ends, the new boot resumes and confirms, and the release is not rejected', async () => {
    const serial = 'SN-BOOT-MID';
    const events: AgentEvent[] = [];
    const sim = device(serial, events, true);
    await sim.provision(fw('0.0.1', 4_000), '0.0.1');
    await sim.boot();
    backend.faults.add({ route: 'cdn', kind: 'throttle', bytesPerSecond: 40_000, serial, times: 1 });
    const first = sim.runOnce();
    for (let i = 0; i < 200 && !events.some((e) => e.type === 'download-progress' && (e.received ?? 0) > 0); i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    await sim.boot();
    expect((await first).outcome).toBe('stopped');
    const second = await sim.runOnce();
    expect(second.outcome).toBe('confirmed');
    const status = await sim.status();
    expect(status.main.running).toBe(NEW);
    expect(status.main.slots.some((s) => s.state === 'rejected')).toBe(false);
    expect(events.filter((e) => e.type === 'error').map((e) => e.code)).not.toContain('flash-rewrite');
    sim.close();
  });

  it('while polling: the new boot polls on, and stop() afterwards ends all polling (no agent of the old boot is left)', async () => {
    const serial = 'SN-BOOT-POLL';
    const events: AgentEvent[] = [];
    const sim = new SimDevice({
      serial, hardwareVersion: 'other-hw', wifi: false, network: networkOverHttp(client),
      api: { baseUrl: backend.baseUrl, projectKey: backend.projectKey },
      // No release for this hardware: every check is a short answer, and the next one follows a second later.
      policy: { firstCheckMs: 0, firstCheckJitterMs: 0, intervalMs: 1000, progressIntervalMs: 0 },
      onEvent: (event) => events.push(event),
    });
    const checks = (): number => events.filter((e) => e.type === 'checking').length;
    const until = async (done: () => boolean): Promise<void> => {
      for (let i = 0; i < 300 && !done(); i++) await new Promise((r) => setTimeout(r, 10));
    };
    await sim.provision(fw('0.0.1', 4_000), '0.0.1');
    await sim.start();
    await until(() => checks() >= 1);
    await sim.boot();
    const booted = checks();
    await until(() => checks() > booted);
    expect(checks()).toBeGreaterThan(booted);
    await sim.stop();
    const stopped = checks();
    // Longer than the poll interval: an agent of the old boot still polling would check in this window.
    await new Promise((r) => setTimeout(r, 1300));
    expect(checks()).toBe(stopped);
    sim.close();
  });
});
