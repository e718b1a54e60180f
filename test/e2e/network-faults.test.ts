import { afterEach, describe, expect, it } from 'vitest';
import type { Backend } from '../../src/backend/index.js';
import type { SimDevice } from '../../src/node/sim-device.js';
import { HttpClient } from '../../src/http/client.js';
import { TcpTransport } from '../../src/node/transports/tcp.js';
import { systemClock } from '../../src/node/clock.js';
import { networkOverHttp } from '../../src/agent/http-adapter.js';
import { backendWith, bareBundle, deviceFor, fw, kinds, runningImage } from './helpers.js';

// The network-fault matrix through the backend's fault rules. Plain HTTP on 127.0.0.1 so the "drop" rule can
// reset sockets; TLS is covered by the tutorial and demo tests.

let backend: Backend | null = null;
let devices: SimDevice[] = [];
afterEach(async () => {
  for (const d of devices) d.close();
  devices = [];
  await backend?.close();
  backend = null;
});

const SIZE = 40_000;

async function setup(payload = fw('1.0.0', SIZE), extra = {}) {
  backend = await backendWith(payload, '1.0.0', { http: true });
  const made = await deviceFor(backend, 'SN-' + Math.random().toString(36).slice(2, 8), extra);
  devices.push(made.device);
  return { ...made, payload };
}

describe('network-fault matrix against the mock backend', () => {
  it('drops at every 4 KiB boundary resume with Range and end byte-identical', async () => {
    const image = fw('1.0.0', SIZE);
    backend = await backendWith(image, '1.0.0', { http: true });
    for (let at = 4096; at < SIZE; at += 4096) {
      backend.faults.clear();
      backend.faults.add({ route: 'cdn', kind: 'drop', afterBytes: at, times: 1 });
      const { device, events } = await deviceFor(backend, `SN-DROP-${at}`);
      devices.push(device);
      const result = await device.runOnce();
      expect(result.outcome, `drop at ${at}`).toBe('confirmed');
      const resumed = events.filter((e) => e.type === 'download-resumed');
      expect(resumed.length, `drop at ${at}`).toBe(1);
      expect(resumed[0].offset).toBeLessThanOrEqual(at);
      expect(Buffer.from(await runningImage(device)).equals(Buffer.from(image))).toBe(true);
    }
  });

  it('a stall past the idle timeout is retried from where it stopped', async () => {
    const { device, events, payload } = await setup(fw('1.0.0', SIZE), { idleTimeoutMs: 300 });
    backend!.faults.add({ route: 'cdn', kind: 'stall', afterBytes: 10_000, ms: 1500, times: 1 });
    expect((await device.runOnce()).outcome).toBe('confirmed');
    expect(events.some((e) => e.type === 'download-resumed' && (e.offset ?? 0) > 0)).toBe(true);
    expect(Buffer.from(await runningImage(device)).equals(Buffer.from(payload))).toBe(true);
  });

  it('503 with Retry-After on the device API backs off at least that long, then updates', async () => {
    const { device, events } = await setup();
    backend!.faults.add({ route: 'device-api', kind: 'status', status: 503, retryAfter: '120', times: 1 });
    const first = await device.runOnce();
    expect(first.outcome).toBe('failed');
    expect(first.error?.code).toBe('api-unavailable');
    expect(events.find((e) => e.type === 'backoff')!.delayMs).toBeGreaterThanOrEqual(120_000);
    expect((await device.runOnce()).outcome).toBe('confirmed');
  });

  it('a server that ignores Range restarts from zero once and completes', async () => {
    const { device, events, payload } = await setup();
    backend!.faults.add({ route: 'cdn', kind: 'drop', afterBytes: 12_000, times: 1 });
    backend!.faults.add({ route: 'cdn', kind: 'ignore-range', times: 1 });
    expect((await device.runOnce()).outcome).toBe('confirmed');
    expect(kinds(events).filter((k) => k === 'download-resumed').length).toBe(1);
    // The restart says why, so a UI can tell a server without Range support from a payload that changed.
    expect(events.filter((e) => e.type === 'download-started').map((e) => e.reason)).toEqual([undefined, 'range-ignored']);
    expect(Buffer.from(await runningImage(device)).equals(Buffer.from(payload))).toBe(true);
  });

  it('a changed ETag makes If-Range fail and the download restart from zero', async () => {
    const { device, events, payload } = await setup();
    backend!.faults.add({ route: 'cdn', kind: 'drop', afterBytes: 12_000, times: 1 });
    backend!.faults.add({ route: 'cdn', kind: 'etag', etag: '"changed"', times: 1 });
    expect((await device.runOnce()).outcome).toBe('confirmed');
    expect(events.filter((e) => e.type === 'download-started').map((e) => e.reason)).toEqual([undefined, 'validator-changed']);
    expect(Buffer.from(await runningImage(device)).equals(Buffer.from(payload))).toBe(true);
  });

  it('an expired URL, or one the CDN refuses, is asked for again and the download continues', async () => {
    for (const mode of ['expiry', 'refused'] as const) {
      backend = await backendWith(fw('1.0.0', SIZE), '1.0.0', { http: true, urlLifetimeSeconds: mode === 'expiry' ? 1 : 3600 });
      const client = new HttpClient({ transport: new TcpTransport(), clock: systemClock });
      const network = networkOverHttp(client);
      let apiCalls = 0;
      const counted = { http: { get: (...a: Parameters<typeof network.http.get>) => { apiCalls++; return network.http.get(...a); } }, fetcher: network.fetcher };
      const { device, events } = await deviceFor(backend, 'SN-URL-' + mode, { network: counted });
      devices.push(device);
      backend.faults.add({ route: 'cdn', kind: 'drop', afterBytes: 8000, times: 1 });
      if (mode === 'refused') backend.faults.add({ route: 'cdn', kind: 'status', status: 403, times: 1 });
      expect((await device.runOnce()).outcome, mode).toBe('confirmed');
      // One check, then a fresh link for the resume (and, for expiry, before each request).
      expect(apiCalls, mode).toBeGreaterThanOrEqual(mode === 'expiry' ? 3 : 2);
      if (mode === 'expiry') expect(events.some((e) => e.type === 'download-resumed' && (e.offset ?? 0) > 0)).toBe(true);
      client.close();
      device.close();
      await backend.close();
      backend = null;
    }
  });

  it('a corrupted byte fails verification, nothing is activated, and the next cycle downloads again', async () => {
    const main = fw('1.0.0', SIZE);
    const bundle = bareBundle('1.0.0', [{ softwareType: 'main-fw', version: '1.0.0', data: main }]);
    const { device, events } = await setup(bundle);
    backend!.faults.add({ route: 'cdn', kind: 'corrupt', offset: bundle.length - 5000, times: 1 });
    const first = await device.runOnce();
    expect(first.outcome).toBe('failed');
    expect(kinds(events)).not.toContain('staged');
    const status = await device.status();
    expect(status.main.running).toBe('0.0.1');
    expect(status.main.slots.every((s) => s.state !== 'pending')).toBe(true);
    events.length = 0;
    expect((await device.runOnce()).outcome).toBe('confirmed');
    expect(events.find((e) => e.type === 'download-started')).toBeDefined();
    expect(Buffer.from(await runningImage(device)).equals(Buffer.from(main))).toBe(true);
  });

  it('a 416 on resume restarts from zero once, without looping', async () => {
    const { device, events, payload } = await setup();
    backend!.faults.add({ route: 'cdn', kind: 'drop', afterBytes: 12_000, times: 1 });
    backend!.faults.add({ route: 'cdn', kind: 'status', status: 416, times: 1 });
    expect((await device.runOnce()).outcome).toBe('confirmed');
    expect(events.filter((e) => e.type === 'download-started').map((e) => e.reason)).toEqual([undefined, 'range-not-satisfiable']);
    expect(Buffer.from(await runningImage(device)).equals(Buffer.from(payload))).toBe(true);
    const looping = await setup();
    backend!.faults.add({ route: 'cdn', kind: 'drop', afterBytes: 12_000, times: 1 });
    backend!.faults.add({ route: 'cdn', kind: 'status', status: 416, times: 'always' });
    const result = await looping.device.runOnce();
    expect(result.outcome).toBe('failed');
  });

  it('a rate-limited 204 is a transient failure with backoff, not "up to date"', async () => {
    const { device, events } = await setup();
    backend!.faults.add({ route: 'device-api', kind: 'status', status: 204, reason: 'rate-limited', times: 1 });
    const result = await device.runOnce();
    expect(result.outcome).toBe('failed');
    expect(result.error?.code).toBe('api-rate-limited');
    expect(kinds(events)).not.toContain('up-to-date');
    expect((await device.runOnce()).outcome).toBe('confirmed');
  });
});
