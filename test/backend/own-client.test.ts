// The backend against the project's own portable client stack: src/api's device API client over src/http's
// HttpClient over the node:tls transport, trusting only the backend's two roots (DER), as a device would.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBackend, type Backend } from '../../src/backend/index.js';
import { checkForUpdate, type DeviceQuery } from '../../src/api/device-api.js';
import type { ApiHttp } from '../../src/api/http-port.js';
import { HttpClient } from '../../src/http/client.js';
import { headersFromObject, headersToObject } from '../../src/http/headers.js';
import { NodeTlsTransport } from '../../src/node/transports/tls.js';
import { systemClock } from '../../src/node/clock.js';
import { payloadBytes } from './helpers.js';

describe('backend with the project\'s own client (HTTPS)', () => {
  let backend: Backend;
  let client: HttpClient;
  let api: ApiHttp;
  const bytes = payloadBytes(200_000, 4);
  const device = (serial: string, currentVersion: string | null): DeviceQuery => ({ serial, hardwareVersion: 'evt', softwareType: 'main', currentVersion });

  beforeAll(async () => {
    backend = await startBackend({ dailyRequestLimit: 3 });
    await backend.admin.uploadPayload(bytes, { hardwareVersion: 'evt', softwareType: 'main', softwareVersion: '1.1.0' });
    backend.admin.deploy({ releaseVersion: '1.1.0', cohort: 'default' });
    client = new HttpClient({ transport: new NodeTlsTransport(), clock: systemClock, ca: backend.trustedRootsDer });
    api = {
      get: (url, headers, maxBody, timeoutMs) => client.request({ url, headers: headersFromObject(headers), requestTimeoutMs: timeoutMs, maxRedirects: 0 }, maxBody)
        .then((result) => ({ status: result.status, headers: headersToObject(result.headers), body: result.body })),
    };
  });
  afterAll(async () => {
    client.close();
    await backend.close();
  });

  it('gets an offer from /latest/url and /latest, and the payload downloads byte-identical in ranges', async () => {
    const config = { baseUrl: backend.baseUrl, projectKey: backend.projectKey };
    const offer = await checkForUpdate(api, config, device('OWN1', '1.0.0'), false, 10_000, Date.now());
    expect(offer.update?.url.startsWith(backend.cdnBaseUrl)).toBe(true);
    expect(offer.update?.expiresAt).toBeGreaterThan(Date.now());
    const json = await checkForUpdate(api, config, device('OWN1', '1.0.0'), true, 10_000, Date.now());
    expect(json.update).toMatchObject({ version: '1.1.0', size: bytes.length });
    const url = offer.update?.url as string;
    const parts: Uint8Array[] = [];
    for (let at = 0; at < bytes.length; at += 65_536) {
      const end = Math.min(bytes.length, at + 65_536) - 1;
      const part = await client.request({ url, headers: headersFromObject({ Range: `bytes=${at}-${end}`, 'Accept-Encoding': 'identity' }) }, 65_536);
      expect(part.status).toBe(206);
      parts.push(part.body);
    }
    expect(Buffer.concat(parts).equals(bytes)).toBe(true);
  });

  it('reads 204 latest as up to date, 204 rate-limited as a retryable failure, 403 as a configuration error', async () => {
    const config = { baseUrl: backend.baseUrl, projectKey: backend.projectKey };
    const upToDate = await checkForUpdate(api, config, device('OWN2', '1.1.0'), false, 10_000, Date.now());
    expect(upToDate).toEqual({ update: null, reason: 'latest' });
    await checkForUpdate(api, config, device('OWN2', '1.1.0'), false, 10_000, Date.now());
    await checkForUpdate(api, config, device('OWN2', '1.1.0'), false, 10_000, Date.now());
    await expect(checkForUpdate(api, config, device('OWN2', '1.1.0'), false, 10_000, Date.now())).rejects.toMatchObject({ code: 'api-rate-limited', retryable: true });
    await expect(checkForUpdate(api, { ...config, projectKey: 'wrong' }, device('OWN3', '1.0.0'), false, 10_000, Date.now())).rejects.toMatchObject({ retryable: false });
  });
});
