import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniformGeometry } from '../../hal/flash.js';
import { SimFlash } from '../../hal/sim/sim-flash.js';
import type { AgentNetwork } from '../../src/agent/agent.js';
import type { AgentEvent } from '../../src/agent/events.js';
import { networkOverHttp } from '../../src/agent/http-adapter.js';
import type { Backend } from '../../src/backend/index.js';
import { HttpClient } from '../../src/http/client.js';
import { systemClock } from '../../src/node/clock.js';
import { SimDevice } from '../../src/node/sim-device.js';
import { TcpTransport } from '../../src/node/transports/tcp.js';
import { createBundle } from '../../src/tools/bundle.js';
import { backendWith, fw, powerOn, runOnceOrCut } from './helpers.js';

// Resuming a bundle after its first part finished: a power cut while the second part streams must continue in
// that part (the finished, verified first part is neither downloaded nor written again), and the release still
// activates only after every part verified.

// A multiple of the sector size, so the journal can name part 0's very end (a durable offset equal to its size).
const WIFI_SIZE = 16_384;
const MAIN_SIZE = 40_000;
const wifiImage = fw('2.0.0', WIFI_SIZE);
const mainImage = fw('2.0.0', MAIN_SIZE);
const bundle = createBundle({ sequence: 1, releaseVersion: '2.0.0', hardwareVersions: ['evt'], parts: [
  { softwareType: 'wifi-fw', version: '2.0.0', data: wifiImage },
  { softwareType: 'main-fw', version: '2.0.0', data: mainImage },
] }, null);
// The main part is the last bytes of the bundle: it starts here.
const MAIN_START = bundle.length - MAIN_SIZE;

let backend: Backend;
let client: HttpClient;

/** Provisions the old pair, boots, and runs the update until the cut armed during it stops it. */
async function updateUntilCut(device: SimDevice, armed: () => boolean): Promise<void> {
  await device.provision(fw('0.0.1', 6_000), '0.0.1', fw('0.0.1', 5_000), '0.0.1');
  await device.boot();
  const outcome = await runOnceOrCut(device);
  expect(armed()).toBe(true);
  expect(outcome).not.toBe('confirmed');
}
beforeAll(async () => {
  backend = await backendWith(bundle, '2.0.0', { http: true });
  client = new HttpClient({ transport: new TcpTransport(), clock: systemClock, bufferSize: 1024 });
});
afterAll(async () => {
  client.close();
  await backend.close();
});

describe('bundle resume after a finished part', () => {
  // Cuts around the end of part 0 (its last sector, its read-back and staging, the journal checkpoints that follow)
  // and inside part 1: [bytes into part 1 when the cut is armed, main-flash operations until it fires].
  const cases: [number, number][] = [[-5000, 1], [-5000, 2], [-5000, 3], [-5000, 4], [-1000, 1], [-1000, 2], [0, 1], [0, 2], [0, 3],
    [2048, 1], [24_000, 1]];
  for (const [into, after] of cases) {
    it(`a power cut ${after} flash op(s) after byte ${into} of part 1 resumes without downloading or rewriting part 0`, async () => {
      const main = new SimFlash(uniformGeometry(4096, 4 + 2 * 16, 8, 0xff));
      const wifi = new SimFlash(uniformGeometry(4096, 2 + 2 * 8, 4, 0xff));
      const events: AgentEvent[] = [];
      const wire = { bytes: 0, from: [] as number[] };
      const inner = networkOverHttp(client);
      const network: AgentNetwork = {
        http: inner.http,
        fetcher: { fetch: (request) => {
          wire.from.push(request.offset);
          return inner.fetcher.fetch({ ...request, data: (chunk) => { wire.bytes += chunk.length; return request.data(chunk); } });
        } },
      };
      let armed = false;
      const device = new SimDevice({
        serial: `SN-RESUME-${into}`, hardwareVersion: 'evt', mainFlash: main, wifiFlash: wifi, network,
        api: { baseUrl: backend.baseUrl, projectKey: backend.projectKey },
        policy: { snapshotBytes: 1024, checkpointBytes: 0, healthDeadlineMs: 5000, backoffBaseMs: 1, backoffMaxMs: 2, progressIntervalMs: 0 },
        onEvent: (e) => {
          events.push(e);
          if (!armed && e.type === 'download-progress' && (e.received ?? 0) >= MAIN_START + into) {
            armed = true;
            main.armCut({ op: main.ops + after, mode: 'torn-prefix', seed: into + after });
          }
        },
      });
      try {
        await updateUntilCut(device, () => armed);
        const bytesBefore = wire.bytes;
        const requestsBefore = wire.from.length;
        await powerOn(device);
        const atCut = await device.status();
        expect(atCut.agent!.phase).toBe('downloading');
        expect(atCut.wifi!.slots.map((s) => s.state).sort()).toEqual(['confirmed', 'staged']);
        // Erases of the WiFi image slots (sectors 2..): activation may rewrite boot records, never part 0's image.
        const slotErases = (): number => wifi.eraseCounts().slice(2).reduce((a, b) => a + b, 0);
        const wifiErases = slotErases();
        const result = await device.runOnce();
        expect(result.outcome, JSON.stringify(result.error)).toBe('confirmed');
        // After the header replay (from byte 0) the payload continues where the journal's checksums stand: at most one
        // sector of part 0 is read again, for the running CRC/MD5 only (the WiFi slot checks below: never rewritten).
        const resumedFrom = wire.from.slice(requestsBefore).filter((offset) => offset > 0);
        expect(resumedFrom.length).toBeGreaterThan(0);
        expect(Math.min(...resumedFrom)).toBe(atCut.agent!.download!.hashOffset);
        expect(Math.min(...resumedFrom)).toBeGreaterThanOrEqual(MAIN_START - 4096 - 1024);
        expect(wire.bytes - bytesBefore).toBeLessThan(MAIN_SIZE + 4096 + 1024);
        // The WiFi slot holding part 0 was not erased again.
        expect(slotErases()).toBe(wifiErases);
        const status = await device.status();
        expect([status.main.running, status.wifi!.running]).toEqual(['2.0.0', '2.0.0']);
        expect(status.main.trial || status.wifi!.trial).toBe(false);
      } finally {
        device.close();
      }
    }, 60_000);
  }
});

describe('bundle resume with the default checkpoint spacing', () => {
  // Progress is journaled every 64 KiB, so a power cut can find part 0 already staged while the journal still points
  // inside it, more than one received chunk before its end. The resumed download must jump over the staged part (the
  // sink moves past it on its first checkpoint step) and feed part 1 at its own offset.
  const first = fw('2.0.0', 160_000);
  const second = fw('2.0.0', 60_000);
  const spaced = createBundle({ sequence: 1, releaseVersion: '2.0.0', hardwareVersions: ['evt'], parts: [
    { softwareType: 'main-fw', version: '2.0.0', data: first },
    { softwareType: 'wifi-fw', version: '2.0.0', data: second },
  ] }, null);
  const secondStart = spaced.length - second.length;
  let spacedBackend: Backend;
  beforeAll(async () => { spacedBackend = await backendWith(spaced, '2.0.0', { http: true }); });
  afterAll(async () => { await spacedBackend.close(); });

  it('a power cut after part 0 was staged, with the journal still inside it, resumes in part 1', async () => {
    const main = new SimFlash(uniformGeometry(4096, 4 + 2 * 48, 8, 0xff));
    const wifi = new SimFlash(uniformGeometry(4096, 2 + 2 * 16, 4, 0xff));
    const spacedClient = new HttpClient({ transport: new TcpTransport(), clock: systemClock, bufferSize: 16_384 });
    let armed = false;
    const device = new SimDevice({
      serial: 'SN-SPACED', hardwareVersion: 'evt', mainFlash: main, wifiFlash: wifi, network: networkOverHttp(spacedClient),
      api: { baseUrl: spacedBackend.baseUrl, projectKey: spacedBackend.projectKey },
      policy: { healthDeadlineMs: 5000, backoffBaseMs: 1, backoffMaxMs: 2, progressIntervalMs: 0 },
      onEvent: (e) => {
        // Part 1 is streaming; the next main-flash operation is the journal's next checkpoint: cut power there.
        if (!armed && e.type === 'download-progress' && (e.received ?? 0) >= secondStart + 10_000) {
          armed = true;
          main.armCut({ op: main.ops + 1, mode: 'before' });
        }
      },
    });
    try {
      await updateUntilCut(device, () => armed);
      await powerOn(device);
      const atCut = await device.status();
      const journaled = atCut.agent!.download!;
      expect((journaled.sink as { partIndex: number }).partIndex).toBe(0);
      expect(secondStart - journaled.offset).toBeGreaterThan(16_384);
      expect(atCut.main.slots.map((s) => s.state).sort()).toEqual(['confirmed', 'staged']);
      // Sectors 0-3 hold the boot records and the journal; the image slots follow.
      const slotErases = (): number => main.eraseCounts().slice(4).reduce((a, b) => a + b, 0);
      const before = slotErases();
      const result = await device.runOnce();
      expect(result.outcome, JSON.stringify(result.error)).toBe('confirmed');
      const status = await device.status();
      expect([status.main.running, status.wifi!.running]).toEqual(['2.0.0', '2.0.0']);
      // Part 0 was checked by reading it back, not written again.
      expect(slotErases()).toBe(before);
    } finally {
      device.close();
      spacedClient.close();
    }
  }, 60_000);
});
