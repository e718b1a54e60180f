import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { checkForUpdate } from '../../src/api/device-api.js';
import { apiOverHttp } from '../../src/agent/http-adapter.js';
import { HttpClient } from '../../src/http/client.js';
import { systemClock } from '../../src/node/clock.js';
import { TcpTransport } from '../../src/node/transports/tcp.js';
import { isOtaError } from '../../src/util/errors.js';

// The device API request as it leaves the agent, checked against the reference notes (memfault-api.md):
// §1 header `Memfault-Project-Key`, params device_serial / hardware_version / software_type / current_version;
// §3 the SDK percent-encodes each value with only alnum and `-_.~` left as they are, and never follows a redirect
// on the device API; a device keeps no cookies.

interface Seen {
  url: string;
  rawHeaders: string[];
}

let server: Server | null = null;
afterEach(async () => {
  if (server !== null) await new Promise<void>((resolve) => server!.close(() => resolve()));
  server = null;
});

async function serve(answer: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ base: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  server = createServer((req, res) => {
    seen.push({ url: req.url ?? '', rawHeaders: req.rawHeaders });
    answer(req, res);
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', () => resolve()));
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

function client(): HttpClient {
  return new HttpClient({ transport: new TcpTransport(), clock: systemClock });
}

/** What the SDK's encoder makes of `value`: every byte but alnum and -_.~ as %XX (upper-case hex). */
function sdkEncoded(value: string): string {
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-_.~]/.test(c) ? c : '%' + byte.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

function headerNames(seen: Seen): string[] {
  return seen.rawHeaders.filter((_, i) => i % 2 === 0);
}

describe('the device API request on the wire', () => {
  it('path, parameter names, SDK percent-encoding of every value, and the Memfault-Project-Key header spelt as documented', async () => {
    const { base, seen } = await serve((_req, res) => { res.writeHead(204, { 'memfault-reason': 'latest' }); res.end(); });
    const http = apiOverHttp(client());
    // Characters the current docs allow in versions (\()[]/ and space) plus the ones encodeURIComponent leaves alone.
    const device = { serial: 'SN-1_a', hardwareVersion: 'evt:2+b (rev) [x]/y', softwareType: 'main-fw.a+b:c', currentVersion: "1.0.0 (beta!)*'~\\" };
    const result = await checkForUpdate(http, { baseUrl: base, projectKey: 'k3y' }, device, false, 5000, Date.now());
    expect(result).toEqual({ update: null, reason: 'latest' });
    expect(seen.length).toBe(1);
    expect(seen[0].url).toBe('/api/v0/releases/latest/url?device_serial=' + sdkEncoded(device.serial) +
      '&hardware_version=' + sdkEncoded(device.hardwareVersion) + '&software_type=' + sdkEncoded(device.softwareType) +
      '&current_version=' + sdkEncoded(device.currentVersion));
    // And the server reads back exactly what the device reported.
    const params = new URL(seen[0].url, base).searchParams;
    expect([params.get('device_serial'), params.get('hardware_version'), params.get('software_type'), params.get('current_version')])
      .toEqual([device.serial, device.hardwareVersion, device.softwareType, device.currentVersion]);
    const names = headerNames(seen[0]);
    expect(names).toContain('Memfault-Project-Key');
    expect(seen[0].rawHeaders[seen[0].rawHeaders.indexOf('Memfault-Project-Key') + 1]).toBe('k3y');
  });

  it('omits current_version when the running version is unknown (the server then offers its latest)', async () => {
    const { base, seen } = await serve((_req, res) => { res.writeHead(204, { 'memfault-reason': 'latest' }); res.end(); });
    await checkForUpdate(apiOverHttp(client()), { baseUrl: base, projectKey: 'k' },
      { serial: 'S', hardwareVersion: 'evt', softwareType: 'main', currentVersion: null }, true, 5000, Date.now());
    expect(seen[0].url).toBe('/api/v0/releases/latest?device_serial=S&hardware_version=evt&software_type=main');
  });

  it('sends no cookie back, however often the server sets one', async () => {
    const { base, seen } = await serve((_req, res) => {
      res.writeHead(204, { 'memfault-reason': 'latest', 'Set-Cookie': 'session=abc; Path=/' });
      res.end();
    });
    const http = apiOverHttp(client());
    const device = { serial: 'S', hardwareVersion: 'evt', softwareType: 'main', currentVersion: '1.0.0' };
    for (let i = 0; i < 2; i++) await checkForUpdate(http, { baseUrl: base, projectKey: 'k' }, device, false, 5000, Date.now());
    expect(seen.length).toBe(2);
    for (const request of seen) expect(headerNames(request).map((n) => n.toLowerCase())).not.toContain('cookie');
  });

  it.each([301, 302, 307, 308])('does not follow a %i from the device API: one request, api-redirect, not retried at once', async (status) => {
    const { base, seen } = await serve((req, res) => {
      res.writeHead(status, { Location: `${base}/elsewhere${req.url}` });
      res.end();
    });
    const error = await checkForUpdate(apiOverHttp(client()), { baseUrl: base, projectKey: 'k' },
      { serial: 'S', hardwareVersion: 'evt', softwareType: 'main', currentVersion: '1.0.0' }, false, 5000, Date.now()).then(() => null, (e: unknown) => e);
    expect(isOtaError(error) && error.code).toBe('api-redirect');
    expect(seen.length).toBe(1);
  });
});
