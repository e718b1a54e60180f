import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBackend, type Backend } from '../../src/backend/index.js';
import { makeDirectories } from '../../src/tools/make-directories.js';
import { checkForUpdate, httpCall, payloadBytes, rawRequest } from './helpers.js';

// Defects found by a QA round that used `ota serve` and curl as a CI suite would: huge range positions answered 416,
// an asctime If-Range read in the server's time zone, a data directory under /proc that hung startup at full CPU,
// a faulted 204 carrying Content-Length, a 529 without a reason phrase, and a mistyped device route answered 401.

const evt = { hardware_version: 'evt', software_type: 'main' };

describe('data directory creation', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ota-qa-mkdir-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('makes missing parents, accepts an existing directory and refuses a file in the way', () => {
    const deep = join(dir, 'a', 'b', 'c');
    makeDirectories(deep);
    expect(statSync(deep).isDirectory()).toBe(true);
    makeDirectories(deep);
    makeDirectories(dir);
    writeFileSync(join(dir, 'file'), 'x');
    expect(() => makeDirectories(join(dir, 'file'))).toThrow(/EEXIST/);
    expect(() => makeDirectories(join(dir, 'file', 'below'))).toThrow(/ENOTDIR/);
  });

  it('refuses a data directory under /proc at once instead of spinning forever (Node\'s recursive mkdir loops there)', () => {
    // In a child process: the old code never returned, and a synchronous loop cannot be timed out in-process.
    const code = `import('./src/backend/index.ts').then((m) => m.startBackend({ http: true, dataDir: '/proc/ota-qa-no-such-dir/data' }))
      .then((b) => b.close().then(() => process.exit(0)), (e) => { process.stderr.write(String(e.code)); process.exit(1); });`;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '-e', code], { cwd: process.cwd(), encoding: 'utf8', timeout: 60_000 });
    expect(child.signal).toBeNull();
    expect(child.status).toBe(1);
    expect(child.stderr).toContain('backend-data-dir-invalid');
  }, 70_000);
});

describe('CDN ranges and device API answers seen with curl', () => {
  let backend: Backend;
  let link = '';
  const size = 5000;

  beforeAll(async () => {
    backend = await startBackend({ http: true });
    await backend.admin.uploadPayload(payloadBytes(size), { hardwareVersion: 'evt', softwareType: 'main', softwareVersion: '1.1.0' });
    backend.admin.deploy({ releaseVersion: '1.1.0', cohort: 'default' });
    const reply = await checkForUpdate(backend, { device_serial: 'SN1', ...evt, current_version: '1.0.0' });
    link = reply.body.toString();
  });
  afterAll(() => backend.close());

  it('answers a range whose last position or suffix is past the object with 206, however many digits it has', async () => {
    for (const [range, first, last] of [['bytes=0-99999999999999999999999', 0, size - 1], ['bytes=100-18446744073709551615', 100, size - 1],
      ['bytes=-9007199254740993', 0, size - 1]] as const) {
      const reply = await httpCall(link, { headers: { Range: range } });
      expect(reply.status, range).toBe(206);
      expect(reply.headers['content-range']).toBe(`bytes ${first}-${last}/${size}`);
      expect(reply.body.equals(payloadBytes(size).subarray(first, last + 1))).toBe(true);
    }
    const past = await httpCall(link, { headers: { Range: 'bytes=99999999999999999999-' } });
    expect(past.status).toBe(416);
    expect(past.headers['content-range']).toBe(`bytes */${size}`);
  });

  it('keeps the range for an asctime If-Range equal to Last-Modified in any server time zone', async () => {
    const head = await httpCall(link, { method: 'HEAD' });
    const lastModified = String(head.headers['last-modified']);
    const date = new Date(Date.parse(lastModified));
    const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
    const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
    const pad = (n: number): string => String(n).padStart(2, '0');
    const asctime = `${days[date.getUTCDay()]} ${months[date.getUTCMonth()]} ${String(date.getUTCDate()).padStart(2, ' ')} ` +
      `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} ${date.getUTCFullYear()}`;
    const saved = process.env.TZ;
    try {
      process.env.TZ = 'Asia/Tokyo';
      const reply = await httpCall(link, { headers: { Range: 'bytes=10-19', 'If-Range': asctime } });
      expect(reply.status).toBe(206);
      const iso = await httpCall(link, { headers: { Range: 'bytes=10-19', 'If-Range': date.toISOString() } });
      expect(iso.status).toBe(200);
    } finally {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    }
  });

  it('sends no Content-Length on a faulted 204, as on a real one, and a reason phrase on a 529', async () => {
    const base = await rawRequest(backend.baseUrl, `GET /api/v0/releases/latest/url?device_serial=SN2&hardware_version=evt&software_type=main&current_version=1.1.0 HTTP/1.1\r\nHost: x\r\nMemfault-Project-Key: ${backend.projectKey}\r\n\r\n`);
    expect(base.status).toBe(204);
    expect(base.headers['content-length']).toBeUndefined();
    backend.faults.add({ route: 'device-api', kind: 'status', status: 204, reason: 'rate-limited' });
    const faulted = await rawRequest(backend.baseUrl, `GET /api/v0/releases/latest/url?device_serial=SN2&hardware_version=evt&software_type=main HTTP/1.1\r\nHost: x\r\nMemfault-Project-Key: ${backend.projectKey}\r\n\r\n`);
    expect(faulted.status).toBe(204);
    expect(faulted.headers['memfault-reason']).toBe('rate-limited');
    expect(faulted.headers['content-length']).toBeUndefined();
    backend.faults.add({ route: 'device-api', kind: 'status', status: 529 });
    const overloaded = await rawRequest(backend.baseUrl, `GET /api/v0/releases/latest/url?device_serial=SN2&hardware_version=evt&software_type=main HTTP/1.1\r\nHost: x\r\nMemfault-Project-Key: ${backend.projectKey}\r\n\r\n`);
    expect(overloaded.statusLine).toBe('HTTP/1.1 529 Site Is Overloaded');
  });

  it('answers a mistyped device route with 404 naming the device routes, not 401 asking for an org token', async () => {
    for (const path of ['/api/v0/releases/latest/url/', '/api/v0/release/latest', '/api/v0/releases/nope']) {
      const reply = await httpCall(`${backend.baseUrl}${path}?device_serial=SN1&hardware_version=evt&software_type=main`, { headers: { 'Memfault-Project-Key': backend.projectKey } });
      expect(reply.status, path).toBe(404);
      expect(JSON.parse(reply.body.toString()).error.message).toContain('/api/v0/releases/latest/url');
    }
    // The admin API still asks for its token first.
    const admin = await httpCall(`${backend.baseUrl}/api/v0/organizations/${backend.org}/projects/${backend.project}/releases`);
    expect(admin.status).toBe(401);
    const mock = await httpCall(`${backend.baseUrl}/api/v0/mock/faults`);
    expect(mock.status).toBe(401);
  });
});
