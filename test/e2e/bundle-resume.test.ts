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
import { backendWith, fw } from './helpers.js';

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
        await device.provision(fw('0.0.1', 6_000), '0.0.1', fw('0.0.1', 5_000), '0.0.1');
        await device.boot();
        let outcome = '';
        try {
          outcome = (await device.runOnce()).outcome;
        } catch (error) {
          if ((error as { code?: string }).code !== 'power-cut') throw error;
        }
        expect(armed).toBe(true);
        expect(outcome).not.toBe('confirmed');
        const bytesBefore = wire.bytes;
        const requestsBefore = wire.from.length;
        for (let i = 0; i < 5; i++) {
          try {
            await device.boot();
            break;
          } catch (error) {
            if ((error as { code?: string }).code !== 'power-cut') throw error;
          }
        }
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
