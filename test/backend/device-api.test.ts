import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startBackend, rolloutBucket, type Backend } from '../../src/backend/index.js';
import { caOf, checkForUpdate, httpCall, payloadBytes, rawRequest } from './helpers.js';

const evt = { hardware_version: 'evt', software_type: 'main' };

function sdkRequest(host: string, key: string, query: string): string {
  // The firmware SDK's generic builder: `?&`, no space after the colons, no Accept/Connection.
  return `GET /api/v0/releases/latest/url?&${query} HTTP/1.1\r\nHost:${host}\r\nUser-Agent:MemfaultSDK/1.43.0\r\nMemfault-Project-Key:${key}\r\n\r\n`;
}

describe('device API (plain HTTP)', () => {
  let backend: Backend;
  beforeAll(async () => {
    backend = await startBackend({ http: true, dailyRequestLimit: 5 });
    await backend.admin.uploadPayload(payloadBytes(5000), { hardwareVersion: 'evt', softwareType: 'main', softwareVersion: '1.1.0', notes: 'n1', extraInfo: { channel: 'beta' } });
    await backend.admin.uploadPayload(payloadBytes(3000, 2), { hardwareVersion: 'dvt', softwareType: 'main', softwareVersion: '1.1.0' });
    await backend.admin.uploadPayload(payloadBytes(4000, 3), { hardwareVersion: 'evt', softwareType: 'wifi', softwareVersion: '0.9.0' });
    backend.admin.deploy({ releaseVersion: '1.1.0', cohort: 'default' });
  });
  afterAll(() => backend.close());

  it('answers /latest/url with 200 text/plain, Content-Length and the signed CDN URL as the whole body', async () => {
    const reply = await checkForUpdate(backend, { device_serial: 'A1', ...evt, current_version: '1.0.0' });
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(reply.headers['content-length']).toBe(String(reply.body.length));
    expect(reply.headers['transfer-encoding']).toBeUndefined();
    const url = reply.body.toString();
    expect(url).toMatch(new RegExp(`^${backend.cdnBaseUrl.replace(/[.]/g, '\\.')}/[^/]+/[0-9]+/[0-9a-f]{64}\\?token=[^&]+&expires=[0-9]+$`));
    const expires = Number(new URL(url).searchParams.get('expires'));
    expect(Math.abs(expires - (Date.now() / 1000 + 6 * 3600))).toBeLessThan(120);
  });

  it('accepts the exact request bytes of the firmware SDK and answers HTTP/1.1 with Content-Length, never chunked', async () => {
    const reply = await rawRequest(backend.baseUrl, sdkRequest('device.memfault.com', backend.projectKey, 'device_serial=SDK1&hardware_version=evt&software_type=main&current_version=1.0.0'));
    expect(reply.statusLine).toBe('HTTP/1.1 200 OK');
    expect(reply.chunked).toBe(false);
    expect(Number(reply.headers['content-length'])).toBe(reply.body.length);
    expect(reply.body.toString()).toMatch(/^http:\/\/127\.0\.0\.1:[0-9]+\/.+\?token=.+&expires=[0-9]+$/);
    const upToDate = await rawRequest(backend.baseUrl, sdkRequest('device.memfault.com', backend.projectKey, 'device_serial=SDK1&hardware_version=evt&software_type=main&current_version=1.1.0'));
    expect(upToDate.statusLine).toBe('HTTP/1.1 204 No Content');
    expect(upToDate.headers['memfault-reason']).toBe('latest');
  });

  it('accepts the ESP-IDF form (no "&", Accept: text/plain)', async () => {
    const bytes = `GET /api/v0/releases/latest/url?device_serial=ESP1&hardware_version=evt&software_type=main&current_version=1.0.0 HTTP/1.1\r\nHost: device.memfault.com\r\nAccept: text/plain\r\nMemfault-Project-Key: ${backend.projectKey}\r\n\r\n`;
    const reply = await rawRequest(backend.baseUrl, bytes);
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('text/plain; charset=utf-8');
  });

  it('answers /latest with the release JSON real clients parse', async () => {
    const reply = await checkForUpdate(backend, { device_serial: 'J1', ...evt, current_version: '1.0.0' }, true);
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('application/json');
    const release = JSON.parse(reply.body.toString());
    expect(release).toMatchObject({ version: '1.1.0', display_name: '1.1.0', notes: 'n1', is_forced: null, is_delta: false, extra_info: {}, revision: '' });
    expect(release.artifacts).toHaveLength(1);
    const artifact = release.artifacts[0];
    const bytes = payloadBytes(5000);
    expect(artifact).toMatchObject({ file_size: 5000, hardware_version: 'evt', type: 'firmware', filename: 'main-1.1.0.bin', extra_info: { channel: 'beta' } });
    expect(artifact.md5).toBe((await import('node:crypto')).createHash('md5').update(bytes).digest('hex'));
    expect(artifact.sha256).toBe((await import('node:crypto')).createHash('sha256').update(bytes).digest('hex'));
    const payload = await httpCall(artifact.url);
    expect(payload.status).toBe(200);
    expect(payload.body.equals(bytes)).toBe(true);
  });

  it('offers the latest release when current_version is omitted, and 204 latest when the device runs it', async () => {
    expect((await checkForUpdate(backend, { device_serial: 'L1', ...evt })).status).toBe(200);
    const latest = await checkForUpdate(backend, { device_serial: 'L1', ...evt, current_version: '1.1.0' });
    expect(latest.status).toBe(204);
    expect(latest.headers['memfault-reason']).toBe('latest');
    expect(latest.body.length).toBe(0);
  });

  it('creates devices in the default cohort with a sticky hardware version', async () => {
    await checkForUpdate(backend, { device_serial: 'S1', hardware_version: 'dvt', software_type: 'main', current_version: '1.0.0' });
    const again = await checkForUpdate(backend, { device_serial: 'S1', hardware_version: 'evt', software_type: 'main', current_version: '1.0.0' });
    const device = backend.admin.devices().find((d) => d.serial === 'S1');
    expect(device).toMatchObject({ cohort: 'default', hardwareVersion: 'dvt', lastVersion: '1.0.0' });
    // The dvt artifact (3000 bytes), not the evt one the second request claimed.
    const url = new URL(again.body.toString());
    const head = await httpCall(url.href, { method: 'HEAD' });
    expect(head.headers['content-length']).toBe('3000');
  });

  it.each([
    [{ ...evt }, /device_serial is required/],
    [{ device_serial: 'bad serial!', ...evt }, /device_serial must be/],
    [{ device_serial: 'x'.repeat(129), ...evt }, /device_serial must be/],
    [{ device_serial: 'B1', software_type: 'main' }, /hardware_version is required/],
    [{ device_serial: 'B1', hardware_version: 'evt' }, /software_type is required/],
    [{ device_serial: 'B1', hardware_version: 'proto9', software_type: 'main' }, /Unknown hardware_version "proto9"/],
    [{ device_serial: 'B1', hardware_version: 'evt', software_type: 'ble' }, /Unknown software_type "ble"/],
    [{ device_serial: 'B1', ...evt, current_version: '' }, /current_version must be/],
  ])('400 with a JSON error for %j and registers nothing', async (query, message) => {
    const before = backend.admin.devices().length;
    const reply = await checkForUpdate(backend, query);
    expect(reply.status).toBe(400);
    const body = JSON.parse(reply.body.toString());
    expect(body.error).toMatchObject({ code: 1000, http_code: 400, type: 'InvalidUsageError' });
    expect(body.error.message).toMatch(message);
    expect(backend.admin.devices().length).toBe(before);
  });

  it('403 with a JSON error for a missing or wrong project key', async () => {
    for (const key of [null, 'wrong', '']) {
      const reply = await checkForUpdate(backend, { device_serial: 'K1', ...evt }, false, key);
      expect(reply.status).toBe(403);
      expect(JSON.parse(reply.body.toString()).error).toMatchObject({ http_code: 403, type: expect.any(String), message: expect.any(String) });
      expect(reply.body.toString()).not.toContain(backend.projectKey);
    }
    expect(backend.admin.devices().some((d) => d.serial === 'K1')).toBe(false);
  });

  it('503 with Retry-After while told to shed load', async () => {
    const rule = backend.faults.add({ route: 'device-api', kind: 'status', status: 503, retryAfter: '30', times: 'always' });
    const reply = await checkForUpdate(backend, { device_serial: 'O1', ...evt });
    expect(reply.status).toBe(503);
    expect(reply.headers['retry-after']).toBe('30');
    expect(JSON.parse(reply.body.toString()).error.http_code).toBe(503);
    backend.faults.remove(rule.id);
    expect((await checkForUpdate(backend, { device_serial: 'O1', ...evt })).status).toBe(200);
  });

  it('answers 204 rate-limited past the per-device daily limit, counting each device apart', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await checkForUpdate(backend, { device_serial: 'R1', ...evt })).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 204, 204]);
    const limited = await checkForUpdate(backend, { device_serial: 'R1', ...evt });
    expect(limited.headers['memfault-reason']).toBe('rate-limited');
    expect((await checkForUpdate(backend, { device_serial: 'R2', ...evt })).status).toBe(200);
  });

  it('treats "__proto__" and "constructor" as ordinary serials, versions and cohorts (no prototype pollution)', async () => {
    await backend.admin.uploadPayload(payloadBytes(64, 7), { hardwareVersion: 'evt', softwareType: 'main', softwareVersion: 'constructor' });
    expect(() => backend.admin.deploy({ releaseVersion: 'toString', cohort: 'default' })).toThrow(/no release/);
    expect(() => backend.admin.createCohort('constructor')).not.toThrow();
    for (const serial of ['__proto__', 'constructor', 'hasOwnProperty']) {
      const reply = await checkForUpdate(backend, { device_serial: serial, ...evt, current_version: '1.0.0' });
      expect(reply.status).toBe(200);
      backend.admin.moveDevice(serial, 'constructor');
    }
    expect(({} as { lastSeen?: unknown }).lastSeen).toBeUndefined();
    expect(backend.admin.devices().filter((d) => d.cohort === 'constructor').map((d) => d.serial).sort()).toEqual(['__proto__', 'constructor', 'hasOwnProperty']);
    expect(backend.admin.cohorts().find((c) => c.slug === 'constructor')?.deviceCount).toBe(3);
    backend.admin.deploy({ releaseVersion: 'constructor', cohort: 'constructor', allowDowngrade: true });
    const offered = await checkForUpdate(backend, { device_serial: '__proto__', ...evt, current_version: '1.0.0' }, true);
    expect(JSON.parse(offered.body.toString()).version).toBe('constructor');
  });

  it('rejects other methods on the device routes with 405', async () => {
    const reply = await httpCall(`${backend.baseUrl}/api/v0/releases/latest/url?device_serial=M1&hardware_version=evt&software_type=main`, { method: 'POST', headers: { 'Memfault-Project-Key': backend.projectKey } });
    expect(reply.status).toBe(405);
  });
});

describe('release selection', () => {
  let backend: Backend;
  beforeAll(async () => {
    backend = await startBackend({ http: true, dailyRequestLimit: 100000 });
    for (const version of ['1.0.0', '1.0.1-rc2', '2.0.0']) {
      await backend.admin.uploadPayload(payloadBytes(100, version.length), { hardwareVersion: 'evt', softwareType: 'main', softwareVersion: version });
    }
    backend.admin.createCohort('beta');
    backend.admin.createCohort('canary');
  });
  afterAll(() => backend.close());

  it('offers nothing before any deployment', async () => {
    const reply = await checkForUpdate(backend, { device_serial: 'N1', ...evt, current_version: '0.1' });
    expect(reply.status).toBe(204);
    expect(reply.headers['memfault-reason']).toBeUndefined();
    expect(reply.headers['x-mock-reason']).toBe('no-deployment');
  });

  it('serves each cohort its own deployment and follows a device that moves', async () => {
    backend.admin.deploy({ releaseVersion: '2.0.0', cohort: 'default' });
    backend.admin.deploy({ releaseVersion: '1.0.1-rc2', cohort: 'beta' });
    await checkForUpdate(backend, { device_serial: 'MV1', ...evt, current_version: '0.1' });
    const before = await checkForUpdate(backend, { device_serial: 'MV1', ...evt, current_version: '0.1' }, true);
    expect(JSON.parse(before.body.toString()).version).toBe('2.0.0');
    backend.admin.moveDevice('MV1', 'beta');
    const after = await checkForUpdate(backend, { device_serial: 'MV1', ...evt, current_version: '0.1' }, true);
    expect(JSON.parse(after.body.toString()).version).toBe('1.0.1-rc2');
  });

  it('refuses downgrades unless the deployment allows them (Memfault version order)', async () => {
    backend.admin.createDevice('DG1', 'evt', 'canary');
    backend.admin.deploy({ releaseVersion: '1.0.1-rc2', cohort: 'canary' });
    const refused = await checkForUpdate(backend, { device_serial: 'DG1', ...evt, current_version: '1.0.1' });
    expect(refused.status).toBe(204);
    expect(refused.headers['memfault-reason']).toBe('latest');
    expect(refused.headers['x-mock-reason']).toBe('downgrade-refused');
    // 1.0.0 < 1.0.1-rc2: an upgrade.
    expect((await checkForUpdate(backend, { device_serial: 'DG1', ...evt, current_version: '1.0.0' })).status).toBe(200);
    backend.admin.deploy({ releaseVersion: '1.0.1-rc2', cohort: 'canary', allowDowngrade: true });
    expect((await checkForUpdate(backend, { device_serial: 'DG1', ...evt, current_version: '1.0.1' })).status).toBe(200);
  });

  it('offers an aborted rollout to nobody', async () => {
    backend.admin.createCohort('abort');
    backend.admin.createDevice('AB1', 'evt', 'abort');
    backend.admin.deploy({ releaseVersion: '2.0.0', cohort: 'abort' });
    expect((await checkForUpdate(backend, { device_serial: 'AB1', ...evt, current_version: '1.0.0' })).status).toBe(200);
    backend.admin.abortRollout('abort');
    const reply = await checkForUpdate(backend, { device_serial: 'AB1', ...evt, current_version: '1.0.0' });
    expect(reply.status).toBe(204);
    expect(reply.headers['x-mock-reason']).toBe('no-deployment');
  });

  it('stages a rollout by a stable hash of the serial: exactly the devices below the percentage', async () => {
    backend.admin.createCohort('staged');
    const serials = Array.from({ length: 200 }, (_, i) => `ST-${i}`);
    for (const serial of serials) backend.admin.createDevice(serial, 'evt', 'staged');
    for (const percent of [10, 50]) {
      backend.admin.deploy({ releaseVersion: '2.0.0', cohort: 'staged', rolloutPercent: percent });
      const offered: string[] = [];
      for (const serial of serials) {
        if ((await checkForUpdate(backend, { device_serial: serial, ...evt, current_version: '1.0.0' })).status === 200) offered.push(serial);
      }
      const expected = serials.filter((s) => rolloutBucket(s, '2.0.0') < percent);
      expect(offered).toEqual(expected);
      // A fair hash: within a loose band around the percentage of 200 devices.
      expect(offered.length).toBeGreaterThan(percent * 2 * 0.5);
      expect(offered.length).toBeLessThan(percent * 2 * 1.5 + 5);
    }
    expect(backend.admin.deployments('staged').at(-1)?.type).toBe('staged_rollout');
  });
});

describe('device API over HTTPS', () => {
  let backend: Backend;
  beforeAll(async () => {
    backend = await startBackend({});
    await backend.admin.uploadPayload(payloadBytes(2048), { hardwareVersion: 'evt', softwareType: 'main', softwareVersion: '1.1.0' });
    backend.admin.deploy({ releaseVersion: '1.1.0', cohort: 'default' });
  });
  afterAll(() => backend.close());

  it('accepts the SDK bytes over TLS and links to a CDN on a second listener with a different root', async () => {
    const ca = caOf(backend) as string;
    const reply = await rawRequest(backend.baseUrl, sdkRequest('localhost', backend.projectKey, 'device_serial=TLS1&hardware_version=evt&software_type=main&current_version=1.0.0'), { ca, servername: 'localhost' });
    expect(reply.status).toBe(200);
    const url = reply.body.toString();
    expect(url.startsWith(backend.cdnBaseUrl + '/')).toBe(true);
    expect(backend.cdnBaseUrl).not.toBe(backend.baseUrl);
    expect(backend.apiCaPem).not.toBe(backend.cdnCaPem);
    // The API's root alone does not verify the CDN: the two hosts chain to different roots.
    await expect(httpCall(url, { ca: backend.apiCaPem })).rejects.toThrow();
    const payload = await httpCall(url, { ca });
    expect(payload.body.equals(payloadBytes(2048))).toBe(true);
    expect(readFileSync(join(backend.dataDir, 'tls', 'ca.pem'), 'utf8')).toBe(ca);
  });
});
