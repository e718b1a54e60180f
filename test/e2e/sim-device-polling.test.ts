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
