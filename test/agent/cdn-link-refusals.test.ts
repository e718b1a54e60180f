import { describe, expect, it } from 'vitest';
import type { SimDevice } from '../../src/node/sim-device.js';
import type { AgentEvent } from '../../src/agent/events.js';
import { backendWith, closeAfterEach, deviceFor, fw, kinds, runningImage } from '../e2e/helpers.js';

// Which status Memfault's CDN gives an expired or forged link is unverified (reference memfault-api.md §2: "expired/
// forged token status: unverified (do not hard-code 403)"), and what the client must do is re-query the device API
// (§5). The mock's `expiredLinkStatus` picks the status; the agent must get a fresh link in the same cycle whatever
// 4xx it is. The device's clock lags the server's here (an MCU without a battery-backed RTC), so the agent's own
// "refresh before expires" cannot save it: the CDN's refusal is all it has.

const SIZE = 40_000;
const SEVEN_HOURS = 7 * 3600 * 1000;

const started = closeAfterEach();

async function expiringMidDownload(status: number): Promise<{ events: AgentEvent[]; image: Uint8Array; device: SimDevice }> {
  let skew = 0;
  const image = fw('1.0.0', SIZE);
  const backend = started.backend(await backendWith(image, '1.0.0', { http: true, expiredLinkStatus: status, now: () => Date.now() + skew }));
  // The first CDN answer is cut after 8000 bytes; by the time the agent resumes, the server is 7 h on (links last 6 h).
  backend.faults.add({ route: 'cdn', kind: 'drop', afterBytes: 8000, times: 1 });
  const events: AgentEvent[] = [];
  const made = await deviceFor(backend, `SN-EXP-${status}`, {
    onEvent: (event) => {
      events.push(event);
      if (event.type === 'download-started') skew = SEVEN_HOURS;
    },
  });
  return { events, image, device: started.device(made.device) };
}

describe('a CDN link refused mid-download', () => {
  it.each([401, 400, 403, 404, 410])('expired link answered %i: the agent asks the device API again and finishes in the same cycle', async (status) => {
    const { events, image, device } = await expiringMidDownload(status);
    const result = await device.runOnce();
    expect(result.outcome, JSON.stringify(result.error)).toBe('confirmed');
    expect(kinds(events)).not.toContain('backoff');
    const resumed = events.filter((e) => e.type === 'download-resumed');
    expect(resumed.length).toBeGreaterThanOrEqual(1);
    expect(resumed[resumed.length - 1].offset).toBeGreaterThan(0);
    expect(Buffer.from(await runningImage(device)).equals(Buffer.from(image))).toBe(true);
  });

  it('a link the fresh one cannot fix either (every link refused) ends the cycle after one re-query, not in a loop', async () => {
    const image = fw('1.0.0', SIZE);
    const backend = started.backend(await backendWith(image, '1.0.0', { http: true }));
    backend.faults.add({ route: 'cdn', kind: 'status', status: 401, times: 'always' });
    const events: AgentEvent[] = [];
    const made = await deviceFor(backend, 'SN-EXP-LOOP', { onEvent: (event) => events.push(event) });
    const device = started.device(made.device);
    const result = await device.runOnce();
    expect(result.outcome).toBe('failed');
    expect(result.error?.details?.status).toBe(401);
    expect(kinds(events).filter((k) => k === 'backoff').length).toBe(1);
  });
});

describe('a CDN without ETag or Last-Modified (cdnValidators: false; whether Memfault sends them is unverified)', () => {
  it('a dropped download resumes with a plain Range and installs byte-identical', async () => {
    const image = fw('1.0.0', SIZE);
    const backend = started.backend(await backendWith(image, '1.0.0', { http: true, cdnValidators: false }));
    backend.faults.add({ route: 'cdn', kind: 'drop', afterBytes: 12_000, times: 1 });
    const made = await deviceFor(backend, 'SN-NOVAL');
    const device = started.device(made.device);
    const result = await device.runOnce();
    expect(result.outcome).toBe('confirmed');
    const resumed = made.events.filter((e) => e.type === 'download-resumed');
    expect(resumed.length).toBe(1);
    expect(resumed[0].offset).toBeGreaterThan(0);
    // Resumed, not restarted from zero.
    expect(made.events.filter((e) => e.type === 'download-started').map((e) => e.reason)).toEqual([undefined]);
    expect(Buffer.from(await runningImage(device)).equals(Buffer.from(image))).toBe(true);
  });
});
