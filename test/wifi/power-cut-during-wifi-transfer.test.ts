import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniformGeometry } from '../../hal/flash.js';
import { SimFlash } from '../../hal/sim/sim-flash.js';
import type { Backend } from '../../src/backend/index.js';
import type { AgentEvent } from '../../src/agent/events.js';
import { SimDevice } from '../../src/node/sim-device.js';
import { createBundle } from '../../src/tools/bundle.js';
import { backendWith, fw } from '../e2e/helpers.js';

// A power cut armed on the WiFi co-processor's flash while its part streams over the link: the co-processor alone
// loses power (in SimDevice the main MCU runs on). A co-processor without power answers nothing, so the main MCU's
// WRITE times out (`link-timeout`, naming the co-processor and the link). Before, the simulated co-processor's CPU kept
// serving over its dead flash and had already counted the bytes of the WRITE that died, so the retransmission of that
// WRITE was answered `write-out-of-order` (once `part-digest-mismatch`): an error that pointed at the agent's byte
// accounting, not at a power loss.

const OLD = '0.0.1';
const NEW = '2.0.0';
let backend: Backend;

beforeAll(async () => {
  backend = await backendWith(createBundle({ sequence: 1, releaseVersion: NEW, hardwareVersions: ['evt'], parts: [
    { softwareType: 'wifi-fw', version: NEW, data: fw(NEW, 30_000) },
    { softwareType: 'main-fw', version: NEW, data: fw(NEW, 12_000), requires: [{ softwareType: 'wifi-fw', minVersion: NEW }] },
  ] }, null), NEW, { http: true });
});
afterAll(async () => {
  await backend.close();
});

async function rig(serial: string): Promise<{ device: SimDevice; wifi: SimFlash; events: AgentEvent[] }> {
  const wifi = new SimFlash(uniformGeometry(4096, 2 + 2 * 8, 4, 0xff));
  const events: AgentEvent[] = [];
  const device = new SimDevice({ serial, hardwareVersion: 'evt', mainFlash: new SimFlash(uniformGeometry(4096, 4 + 2 * 8, 8, 0xff)), wifiFlash: wifi,
    api: { baseUrl: backend.baseUrl, projectKey: backend.projectKey },
    policy: { healthDeadlineMs: 5000, backoffBaseMs: 1, backoffMaxMs: 2, progressIntervalMs: 1e9 },
    onEvent: (e) => events.push(e) });
  await device.provision(fw(OLD, 6_000), OLD, fw(OLD, 5_000), OLD);
  await device.boot();
  return { device, wifi, events };
}

describe('the WiFi co-processor loses power during its transfer', () => {
  it('the cycle fails with link-timeout (the co-processor went silent), nothing is given up, the next power-on installs', async () => {
    // A clean update writes the 30 KB part over dozens of WiFi flash operations (8 sector erases, 32 writes of 960 B,
    // records): ops 12 and 36 after boot fall inside the transfer.
    const reference = await rig('SN-XFER-REF');
    const first = reference.wifi.ops;
    expect((await reference.device.runOnce()).outcome).toBe('confirmed');
    expect(reference.wifi.ops - first).toBeGreaterThan(40);
    reference.device.close();
    for (const [op, mode] of [[first + 12, 'before'], [first + 36, 'torn-prefix']] as const) {
      const where = `cut at wifi op ${op} (replay: wifi.armCut({ op: ${op}, mode: '${mode}', seed: ${op} }))`;
      const r = await rig(`SN-XFER-${op}-${mode}`);
      r.wifi.armCut({ op, mode, seed: op });
      const cycle = await r.device.runOnce();
      expect(r.wifi.isDead, where).toBe(true);
      expect([cycle.outcome, cycle.error?.code], where).toEqual(['failed', 'link-timeout']);
      expect(cycle.error?.message, where).toMatch(/WiFi co-processor did not answer WRITE/);
      expect(r.events.filter((e) => e.type === 'error').map((e) => e.type === 'error' && e.code), where).toEqual(['link-timeout']);
      expect((await r.device.status()).agent?.givenUp, where).toEqual([]);
      await r.device.boot();
      let end = (await r.device.runOnce()).outcome;
      for (let i = 0; i < 3 && end !== 'confirmed'; i++) end = (await r.device.runOnce()).outcome;
      expect(end, where).toBe('confirmed');
      const status = await r.device.status();
      expect([status.main.running, status.wifi?.running, status.main.trial, status.wifi?.trial], where).toEqual([NEW, NEW, false, false]);
      r.device.close();
    }
  }, 30_000);
});
