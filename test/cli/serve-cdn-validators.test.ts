import { describe, expect, it } from 'vitest';
import { checkForUpdate, httpCall, payloadBytes } from '../backend/helpers.js';
import { servedCli } from './served-cli.js';

// `ota serve --no-cdn-validators` is the command-line form of the backend's cdnValidators: false (whether Memfault's
// CDN sends ETag or Last-Modified is unverified), so a CI suite driving the CLI can test a client without them.

const evt = { hardware_version: 'evt', software_type: 'main', current_version: '1.0.0' };

async function cdnHeaders(served: ReturnType<typeof servedCli>, serial: string): Promise<{ [name: string]: unknown }> {
  await served.backend.admin.uploadPayload(payloadBytes(4096, 3), { hardwareVersion: 'evt', softwareType: 'main', softwareVersion: '1.1.0' });
  served.backend.admin.deploy({ releaseVersion: '1.1.0', cohort: 'default' });
  const link = (await checkForUpdate(served.backend, { device_serial: serial, ...evt })).body.toString();
  const reply = await httpCall(link);
  expect(reply.status).toBe(200);
  return reply.headers;
}

describe('ota serve --no-cdn-validators', () => {
  const served = servedCli('ota-cli-novalidators-', ['--no-cdn-validators']);
  it('serves payloads without ETag or Last-Modified', async () => {
    const headers = await cdnHeaders(served, 'SN-NOVAL');
    expect(headers.etag).toBeUndefined();
    expect(headers['last-modified']).toBeUndefined();
  });
});

describe('ota serve (default)', () => {
  const served = servedCli('ota-cli-validators-');
  it('serves payloads with ETag and Last-Modified', async () => {
    const headers = await cdnHeaders(served, 'SN-VAL');
    expect(headers.etag).toBeDefined();
    expect(headers['last-modified']).toBeDefined();
  });
});
