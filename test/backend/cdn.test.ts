import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBackend, type Backend } from '../../src/backend/index.js';
import { caOf, checkForUpdate, httpCall, payloadBytes, rawRequest } from './helpers.js';

const SIZE = 300_000;
const evt = { hardware_version: 'evt', software_type: 'main', current_version: '1.0.0' };

describe('payload CDN', () => {
  let backend: Backend;
  let clock = Date.now();
  let link = '';
  const bytes = payloadBytes(SIZE);
  beforeAll(async () => {
    backend = await startBackend({ http: true, now: () => clock, urlLifetimeSeconds: 60 });
    await backend.admin.uploadPayload(bytes, { hardwareVersion: 'evt', softwareType: 'main', softwareVersion: '1.1.0' });
    backend.admin.deploy({ releaseVersion: '1.1.0', cohort: 'default' });
    link = (await checkForUpdate(backend, { device_serial: 'C1', ...evt })).body.toString();
  });
  afterAll(() => backend.close());

  it('serves the whole payload with ETag, Last-Modified, Accept-Ranges and Content-Length', async () => {
    const reply = await httpCall(link);
    expect(reply.status).toBe(200);
    expect(reply.body.equals(bytes)).toBe(true);
    expect(reply.headers['content-length']).toBe(String(SIZE));
    expect(reply.headers['accept-ranges']).toBe('bytes');
    expect(reply.headers.etag).toMatch(/^"[0-9a-f]{64}"$/);
    expect(Date.parse(reply.headers['last-modified'] as string)).not.toBeNaN();
    expect(reply.headers['transfer-encoding']).toBeUndefined();
  });

  it('answers HEAD with the headers of GET and no body', async () => {
    const path = link.slice(backend.cdnBaseUrl.length);
    const reply = await rawRequest(backend.cdnBaseUrl, `HEAD ${path} HTTP/1.1\r\nHost: cdn\r\n\r\n`, { head: true });
    expect(reply.status).toBe(200);
    expect(reply.headers['content-length']).toBe(String(SIZE));
    expect(reply.headers['accept-ranges']).toBe('bytes');
    expect(reply.raw.length).toBe(reply.raw.indexOf('\r\n\r\n') + 4);
  });

  it.each([
    ['bytes=0-0', 0, 0],
    ['bytes=1000-1999', 1000, 1999],
    ['bytes=299000-', 299000, SIZE - 1],
    ['bytes=-500', SIZE - 500, SIZE - 1],
    ['bytes=299990-400000', 299990, SIZE - 1],
  ])('%s gives 206 with Content-Range and exactly those bytes', async (range, start, end) => {
    const reply = await httpCall(link, { headers: { Range: range } });
    expect(reply.status).toBe(206);
    expect(reply.headers['content-range']).toBe(`bytes ${start}-${end}/${SIZE}`);
    expect(reply.headers['content-length']).toBe(String(end - start + 1));
    expect(reply.body.equals(bytes.subarray(start, end + 1))).toBe(true);
  });

  it('reassembles the payload byte-identical from ranges', async () => {
    const parts: Buffer[] = [];
    for (let at = 0; at < SIZE; at += 70_000) parts.push((await httpCall(link, { headers: { Range: `bytes=${at}-${Math.min(SIZE, at + 70_000) - 1}` } })).body);
    expect(Buffer.concat(parts).equals(bytes)).toBe(true);
  });

  it.each(['bytes=300000-', 'bytes=999999-1000000', 'bytes=-0'])('%s is unsatisfiable: 416 with Content-Range */size', async (range) => {
    const reply = await httpCall(link, { headers: { Range: range } });
    expect(reply.status).toBe(416);
    expect(reply.headers['content-range']).toBe(`bytes */${SIZE}`);
  });

  it.each(['bytes=0-1,5-6', 'items=0-5', 'bytes=9-3', 'bytes=abc'])('ignores %s and sends the whole payload', async (range) => {
    const reply = await httpCall(link, { headers: { Range: range } });
    expect(reply.status).toBe(200);
    expect(reply.body.length).toBe(SIZE);
  });

  it('honours If-Range only while the ETag or date still matches', async () => {
    const first = await httpCall(link, { headers: { Range: 'bytes=0-9' } });
    const etag = first.headers.etag as string;
    expect((await httpCall(link, { headers: { Range: 'bytes=10-19', 'If-Range': etag } })).status).toBe(206);
    expect((await httpCall(link, { headers: { Range: 'bytes=10-19', 'If-Range': first.headers['last-modified'] as string } })).status).toBe(206);
    const stale = await httpCall(link, { headers: { Range: 'bytes=10-19', 'If-Range': '"0000"' } });
    expect(stale.status).toBe(200);
    expect(stale.body.length).toBe(SIZE);
    expect((await httpCall(link, { headers: { Range: 'bytes=10-19', 'If-Range': `W/${etag}` } })).status).toBe(200);
  });

  it('refuses a forged or missing token with 403 and an expired link with the configured status', async () => {
    const url = new URL(link);
    const token = url.searchParams.get('token') as string;
    const forged = new URL(link);
    forged.searchParams.set('token', token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A'));
    expect((await httpCall(forged.href)).status).toBe(403);
    const longer = new URL(link);
    longer.searchParams.set('expires', String(Number(url.searchParams.get('expires')) + 3600));
    expect((await httpCall(longer.href)).status).toBe(403);
    expect((await httpCall(`${backend.cdnBaseUrl}${url.pathname}`)).status).toBe(403);
    const otherPath = `${backend.cdnBaseUrl}${url.pathname.replace(/\/[0-9]+\//, '/999/')}${url.search}`;
    expect((await httpCall(otherPath)).status).toBe(403);
    clock += 62_000;
    const expired = await httpCall(link);
    expect(expired.status).toBe(403);
    expect(JSON.parse(expired.body.toString()).error.message).toMatch(/expired/);
    backend.configure({ expiredLinkStatus: 410 });
    expect((await httpCall(link)).status).toBe(410);
    backend.configure({ expiredLinkStatus: 403 });
    clock -= 62_000;
    expect((await httpCall(link)).status).toBe(200);
  });

  it('answers 404 for unknown objects and paths, 405 for other methods', async () => {
    expect((await httpCall(`${backend.cdnBaseUrl}/../../etc/passwd`)).status).toBe(404);
    expect((await httpCall(`${backend.cdnBaseUrl}/x/1/${'a'.repeat(64)}?token=a.b&expires=1`)).status).toBe(403);
    expect((await httpCall(link, { method: 'DELETE' })).status).toBe(405);
  });

  it('streams large payloads from disk (8 MiB arrives byte-identical, ranges across chunk boundaries)', async () => {
    const big = payloadBytes(8 * 1024 * 1024, 9);
    await backend.admin.uploadPayload(big, { hardwareVersion: 'evt', softwareType: 'main', softwareVersion: '3.0.0' });
    backend.admin.deploy({ releaseVersion: '3.0.0', cohort: 'default' });
    const url = (await checkForUpdate(backend, { device_serial: 'BIG', ...evt })).body.toString();
    const whole = await httpCall(url);
    expect(whole.body.equals(big)).toBe(true);
    const mid = await httpCall(url, { headers: { Range: 'bytes=65530-131080' } });
    expect(mid.body.equals(big.subarray(65530, 131081))).toBe(true);
  });
});

describe('CDN over HTTPS with --require-sni', () => {
  let backend: Backend;
  beforeAll(async () => {
    backend = await startBackend({ requireSni: true });
    await backend.admin.uploadPayload(payloadBytes(1000), { hardwareVersion: 'evt', softwareType: 'main', softwareVersion: '1.1.0' });
    backend.admin.deploy({ releaseVersion: '1.1.0', cohort: 'default' });
  });
  afterAll(() => backend.close());

  it('serves clients that send SNI and closes on clients that do not', async () => {
    const ca = caOf(backend) as string;
    const link = (await rawRequest(backend.baseUrl, `GET /api/v0/releases/latest/url?device_serial=SNI1&hardware_version=evt&software_type=main HTTP/1.1\r\nHost: localhost\r\nMemfault-Project-Key: ${backend.projectKey}\r\n\r\n`, { ca, servername: 'localhost' })).body.toString();
    const path = new URL(link).pathname + new URL(link).search;
    const ok = await rawRequest(backend.cdnBaseUrl, `GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`, { ca, servername: 'localhost' });
    expect(ok.status).toBe(200);
    expect(ok.body.equals(payloadBytes(1000))).toBe(true);
    // Node sends no SNI to an IP address: the server must refuse that connection.
    await expect(rawRequest(backend.cdnBaseUrl, `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`, { ca })).rejects.toThrow();
  });
});
