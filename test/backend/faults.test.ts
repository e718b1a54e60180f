import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startBackend, parseFaultSpec, type Backend } from '../../src/backend/index.js';
import { captureUntilClose, checkForUpdate, httpCall, payloadBytes } from './helpers.js';

const SIZE = 100_000;
const evt = { hardware_version: 'evt', software_type: 'main', current_version: '1.0.0' };

describe('fault injection', () => {
  let backend: Backend;
  const bytes = payloadBytes(SIZE);
  const links: { [serial: string]: string } = {};
  const get = (serial: string, extra = ''): string => {
    const url = new URL(links[serial]);
    return `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: cdn\r\nConnection: close\r\n${extra}\r\n`;
  };
  beforeAll(async () => {
    backend = await startBackend({ http: true, dailyRequestLimit: 100000 });
    await backend.admin.uploadPayload(bytes, { hardwareVersion: 'evt', softwareType: 'main', softwareVersion: '1.1.0' });
    backend.admin.deploy({ releaseVersion: '1.1.0', cohort: 'default' });
    for (const serial of ['F1', 'F2']) links[serial] = (await checkForUpdate(backend, { device_serial: serial, ...evt })).body.toString();
  });
  beforeEach(() => backend.faults.clear());
  afterAll(() => backend.close());

  it('drop: resets the connection after N body bytes, once', async () => {
    backend.faults.add({ route: 'cdn', kind: 'drop', afterBytes: 4096 });
    const dropped = await captureUntilClose(backend.cdnBaseUrl, get('F1'));
    expect(dropped.status).toBe(200);
    expect(dropped.body.length).toBe(4096);
    expect(dropped.body.equals(bytes.subarray(0, 4096))).toBe(true);
    expect(dropped.reset).toBe(true);
    const next = await captureUntilClose(backend.cdnBaseUrl, get('F1'));
    expect(next.body.equals(bytes)).toBe(true);
    expect(backend.faults.list()).toEqual([]);
  });

  it('drop with afterBytes 0 answers nothing at all', async () => {
    backend.faults.add({ route: 'cdn', kind: 'drop' });
    const dropped = await captureUntilClose(backend.cdnBaseUrl, get('F1'));
    expect(dropped.head).toBe('');
    expect(dropped.body.length).toBe(0);
  });

  it('truncate: closes cleanly after N bytes although Content-Length promised more', async () => {
    backend.faults.add({ route: 'cdn', kind: 'truncate', afterBytes: 1000 });
    const cut = await captureUntilClose(backend.cdnBaseUrl, get('F1'));
    expect(cut.headers['content-length']).toBe(String(SIZE));
    expect(cut.body.length).toBe(1000);
    expect(cut.endedCleanly).toBe(true);
    expect(cut.reset).toBe(false);
  });

  it('corrupt: inverts exactly the byte at the absolute offset, in full and ranged answers', async () => {
    backend.faults.add({ route: 'cdn', kind: 'corrupt', offset: 70_000, times: 2 });
    const whole = await captureUntilClose(backend.cdnBaseUrl, get('F1'));
    const expected = Buffer.from(bytes);
    expected[70_000] ^= 0xff;
    expect(whole.body.equals(expected)).toBe(true);
    const ranged = await captureUntilClose(backend.cdnBaseUrl, get('F1', 'Range: bytes=69990-70009\r\n'));
    expect(ranged.status).toBe(206);
    expect(ranged.body.equals(expected.subarray(69990, 70010))).toBe(true);
  });

  it('a rule is used up only by a request it acts on: a corrupt byte beyond a drop waits for the resumed range', async () => {
    backend.faults.add({ route: 'cdn', kind: 'drop', afterBytes: 1000 });
    backend.faults.add({ route: 'cdn', kind: 'corrupt', offset: 70_000 });
    const dropped = await captureUntilClose(backend.cdnBaseUrl, get('F1'));
    expect(dropped.body.equals(bytes.subarray(0, 1000))).toBe(true);
    expect(backend.faults.list()).toMatchObject([{ kind: 'corrupt', fired: 0, remaining: 1 }]);
    // Neither a HEAD nor a range that does not hold the byte uses it up.
    expect((await httpCall(links.F1, { method: 'HEAD' })).status).toBe(200);
    const before = await captureUntilClose(backend.cdnBaseUrl, get('F1', 'Range: bytes=1000-1999\r\n'));
    expect(before.body.equals(bytes.subarray(1000, 2000))).toBe(true);
    expect(backend.faults.list()).toHaveLength(1);
    const resumed = await captureUntilClose(backend.cdnBaseUrl, get('F1', 'Range: bytes=1000-\r\n'));
    const expected = Buffer.from(bytes.subarray(1000));
    expected[70_000 - 1000] ^= 0xff;
    expect(resumed.status).toBe(206);
    expect(resumed.body.equals(expected)).toBe(true);
    expect(backend.faults.list()).toEqual([]);
  });

  it('a cut at or beyond the end of the body changes nothing and is left for a longer one', async () => {
    backend.faults.add({ route: 'cdn', kind: 'truncate', afterBytes: 500 });
    const short = await captureUntilClose(backend.cdnBaseUrl, get('F1', 'Range: bytes=0-99\r\n'));
    expect(short.body.equals(bytes.subarray(0, 100))).toBe(true);
    expect(backend.faults.list()).toHaveLength(1);
    const cut = await captureUntilClose(backend.cdnBaseUrl, get('F1'));
    expect(cut.body.length).toBe(500);
    expect(backend.faults.list()).toEqual([]);
  });

  it('ignore-range: answers 200 with everything', async () => {
    backend.faults.add({ route: 'cdn', kind: 'ignore-range' });
    const reply = await httpCall(links.F1, { headers: { Range: 'bytes=10-19' } });
    expect(reply.status).toBe(200);
    expect(reply.body.equals(bytes)).toBe(true);
  });

  it('ignore-range waits for a request that asks for a range: a plain GET does not use it up', async () => {
    backend.faults.add({ route: 'cdn', kind: 'ignore-range' });
    expect((await httpCall(links.F1)).status).toBe(200);
    expect(backend.faults.list()).toMatchObject([{ kind: 'ignore-range', fired: 0, remaining: 1 }]);
    const ranged = await httpCall(links.F1, { headers: { Range: 'bytes=1000-' } });
    expect(ranged.status).toBe(200);
    expect(ranged.body.equals(bytes)).toBe(true);
    expect(backend.faults.list()).toEqual([]);
  });

  it('etag: reports another ETag, so If-Range with the old one gets the whole payload', async () => {
    const original = (await httpCall(links.F1, { method: 'HEAD' })).headers.etag as string;
    backend.faults.add({ route: 'cdn', kind: 'etag', times: 'always' });
    const changed = await httpCall(links.F1, { headers: { Range: 'bytes=0-9', 'If-Range': original } });
    expect(changed.headers.etag).not.toBe(original);
    expect(changed.status).toBe(200);
    const fresh = await httpCall(links.F1, { headers: { Range: 'bytes=0-9', 'If-Range': changed.headers.etag as string } });
    expect(fresh.status).toBe(206);
  });

  it('status: answers the status with Retry-After, for N requests', async () => {
    backend.faults.add({ route: 'cdn', kind: 'status', status: 429, retryAfter: '7', times: 2 });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const reply = await httpCall(links.F1);
      statuses.push(reply.status);
      if (reply.status === 429) expect(reply.headers['retry-after']).toBe('7');
    }
    expect(statuses).toEqual([429, 429, 200]);
  });

  it('status on the device API: a 204 rate-limited answer, and a redirect on the CDN', async () => {
    backend.faults.add({ route: 'latest-url', kind: 'status', status: 204, reason: 'rate-limited' });
    const limited = await checkForUpdate(backend, { device_serial: 'F1', ...evt });
    expect(limited.status).toBe(204);
    expect(limited.headers['memfault-reason']).toBe('rate-limited');
    backend.faults.add({ route: 'cdn', kind: 'status', status: 302, location: links.F2 });
    const moved = await httpCall(links.F1);
    expect(moved.status).toBe(302);
    expect(moved.headers.location).toBe(links.F2);
  });

  it('scopes CDN faults to the device the link was issued to', async () => {
    backend.faults.add({ route: 'cdn', kind: 'status', status: 500, serial: 'F2', times: 'always' });
    expect((await httpCall(links.F1)).status).toBe(200);
    expect((await httpCall(links.F2)).status).toBe(500);
    expect((await httpCall(links.F2)).status).toBe(500);
    expect(backend.faults.list()[0]).toMatchObject({ fired: 2, remaining: 'always' });
  });

  it('scopes device API faults to a serial and a route', async () => {
    backend.faults.add({ route: 'latest', kind: 'status', status: 503, serial: 'F1', times: 'always' });
    expect((await checkForUpdate(backend, { device_serial: 'F1', ...evt })).status).toBe(200);
    expect((await checkForUpdate(backend, { device_serial: 'F2', ...evt }, true)).status).toBe(200);
    expect((await checkForUpdate(backend, { device_serial: 'F1', ...evt }, true)).status).toBe(503);
  });

  it('drop on the device API cuts the URL body', async () => {
    backend.faults.add({ route: 'device-api', kind: 'drop', afterBytes: 10 });
    const reply = await captureUntilClose(backend.baseUrl, `GET /api/v0/releases/latest/url?device_serial=F1&hardware_version=evt&software_type=main&current_version=1.0.0 HTTP/1.1\r\nHost: x\r\nMemfault-Project-Key: ${backend.projectKey}\r\nConnection: close\r\n\r\n`);
    expect(reply.status).toBe(200);
    expect(reply.body.length).toBe(10);
    expect(reply.reset).toBe(true);
  });

  it('drop and stall also act on 204 answers of the device API', async () => {
    backend.faults.add({ route: 'device-api', kind: 'drop', serial: 'F1' });
    const check = `GET /api/v0/releases/latest/url?device_serial=F1&hardware_version=evt&software_type=main&current_version=1.1.0 HTTP/1.1\r\nHost: x\r\nMemfault-Project-Key: ${backend.projectKey}\r\nConnection: close\r\n\r\n`;
    const dropped = await captureUntilClose(backend.baseUrl, check);
    expect(dropped.head).toBe('');
    backend.faults.add({ route: 'device-api', kind: 'stall', ms: 500, serial: 'F1' });
    const stalled = await captureUntilClose(backend.baseUrl, check);
    expect(stalled.status).toBe(204);
    expect(stalled.headers['memfault-reason']).toBe('latest');
    expect(stalled.firstByteAfterMs).toBeGreaterThanOrEqual(450);
  });

  it('stall: nothing arrives during the stall, then the full answer', async () => {
    backend.faults.add({ route: 'cdn', kind: 'stall', ms: 800 });
    const reply = await captureUntilClose(backend.cdnBaseUrl, get('F1'));
    expect(reply.firstByteAfterMs).toBeGreaterThanOrEqual(750);
    expect(reply.body.equals(bytes)).toBe(true);
  });

  it('stall after N bytes: the first N arrive, then the rest', async () => {
    backend.faults.add({ route: 'cdn', kind: 'stall', ms: 300, afterBytes: 5000 });
    const reply = await captureUntilClose(backend.cdnBaseUrl, get('F1'));
    expect(reply.body.equals(bytes)).toBe(true);
  });

  it('throttle: the body cannot arrive faster than the rate', async () => {
    backend.faults.add({ route: 'cdn', kind: 'throttle', bytesPerSecond: 100_000 });
    const started = Date.now();
    const reply = await captureUntilClose(backend.cdnBaseUrl, get('F1', 'Range: bytes=0-49999\r\n'));
    expect(reply.body.equals(bytes.subarray(0, 50_000))).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(450);
  });

  it('a rule is not used up by a device-API answer it does not change: a drop meant for the download reaches the CDN', async () => {
    backend.faults.add({ route: 'any', kind: 'drop', afterBytes: 4096 });
    backend.faults.add({ route: 'any', kind: 'corrupt', offset: 5000 });
    const check = await checkForUpdate(backend, { device_serial: 'F1', ...evt });
    expect(check.status).toBe(200);
    expect(check.body.toString()).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/[\w/-]+\?token=[\w.-]+&expires=\d+$/);
    const upToDate = await checkForUpdate(backend, { ...evt, device_serial: 'F1', current_version: '1.1.0' });
    expect(upToDate.status).toBe(204);
    expect(backend.faults.list().map((r) => [r.kind, r.fired])).toEqual([['drop', 0], ['corrupt', 0]]);
    const cut = await captureUntilClose(backend.cdnBaseUrl, get('F1'));
    expect(cut.body.length).toBe(4096);
    expect(cut.reset).toBe(true);
    expect(backend.faults.list().map((r) => r.kind)).toEqual(['corrupt']);
  });

  it('an admin request uses up only a status rule: a download fault on "any" is left for the CDN', async () => {
    backend.faults.add({ route: 'any', kind: 'truncate', afterBytes: 100 });
    backend.faults.add({ route: 'admin', kind: 'status', status: 503 });
    const token = { headers: { Authorization: `Bearer ${backend.orgToken}` } };
    const releases = `${backend.baseUrl}/api/v0/organizations/${backend.org}/projects/${backend.project}/releases`;
    expect((await httpCall(releases, token)).status).toBe(503);
    expect((await httpCall(releases, token)).status).toBe(200);
    expect(backend.faults.list().map((r) => r.kind)).toEqual(['truncate']);
  });

  it('refuses a rule that could never act: a field its kind ignores, a download-only kind on the device API, a non-status admin fault', () => {
    expect(() => parseFaultSpec({ kind: 'drop', route: 'cdn', ms: 5 })).toThrow(/"ms" does nothing for a "drop" fault \(its fields: afterBytes\)/);
    expect(() => parseFaultSpec({ kind: 'status', route: 'cdn', status: 503, afterBytes: 4 })).toThrow(/"afterBytes" does nothing/);
    expect(() => parseFaultSpec({ kind: 'etag', route: 'latest-url' })).toThrow(/acts only on payload downloads; use route "cdn"/);
    expect(() => parseFaultSpec({ kind: 'ignore-range', route: 'device-api' })).toThrow(/acts only on payload downloads/);
    expect(() => parseFaultSpec({ kind: 'stall', route: 'admin', ms: 100 })).toThrow(/only "status" faults act on the admin route/);
    expect(() => parseFaultSpec({ kind: 'drop', route: 'cdn', times: 0 })).toThrow(/integer from 1 to 1000000 or "always", got 0/);
    expect(parseFaultSpec({ kind: 'etag', route: 'any' })).toEqual({ kind: 'etag', route: 'any' });
  });

  it('rejects malformed fault specs with a message naming the field', () => {
    expect(() => parseFaultSpec({ kind: 'explode', route: 'cdn' })).toThrow(/kind must be one of/);
    expect(() => parseFaultSpec({ kind: 'drop', route: 'moon' })).toThrow(/route must be one of/);
    expect(() => parseFaultSpec({ kind: 'status', route: 'cdn' })).toThrow(/needs "status"/);
    expect(() => parseFaultSpec({ kind: 'drop', route: 'cdn', afterBytes: -1 })).toThrow(/afterBytes/);
    expect(() => parseFaultSpec({ kind: 'drop', route: 'cdn', times: 0 })).toThrow(/times/);
    expect(() => parseFaultSpec({ kind: 'drop', route: 'cdn', serial: 'a b' })).toThrow(/serial/);
    expect(() => parseFaultSpec({ kind: 'drop', route: 'cdn', bogus: 1 })).toThrow(/unknown fault field "bogus"/);
    expect(() => parseFaultSpec({ kind: 'status', status: 503, retryAfter: '1\r\nX: y' })).toThrow(/one-line/);
  });
});
