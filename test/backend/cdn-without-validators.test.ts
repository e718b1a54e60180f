import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBackend, type Backend } from '../../src/backend/index.js';
import { checkForUpdate, httpCall, payloadBytes } from './helpers.js';

// Whether Memfault's CDN sends ETag or Last-Modified (and so whether If-Range can ever keep a range) is unverified
// (reference memfault-api.md §2, "ETag, Last-Modified, If-Range, Accept-Ranges: unverified"). A mock that always
// sends them would let a client pass that only resumes when they exist; `cdnValidators: false` takes them away.

const SIZE = 50_000;
const evt = { hardware_version: 'evt', software_type: 'main', current_version: '1.0.0' };

describe('payload CDN with cdnValidators: false', () => {
  let backend: Backend;
  let link = '';
  const bytes = payloadBytes(SIZE, 7);
  beforeAll(async () => {
    backend = await startBackend({ http: true, cdnValidators: false });
    await backend.admin.uploadPayload(bytes, { hardwareVersion: 'evt', softwareType: 'main', softwareVersion: '1.1.0' });
    backend.admin.deploy({ releaseVersion: '1.1.0', cohort: 'default' });
    link = (await checkForUpdate(backend, { device_serial: 'NV1', ...evt })).body.toString();
  });
  afterAll(() => backend.close());

  it('sends neither ETag nor Last-Modified, on GET, HEAD, 206 and 416', async () => {
    const answers = [
      await httpCall(link),
      await httpCall(link, { method: 'HEAD' }),
      await httpCall(link, { headers: { Range: 'bytes=100-199' } }),
      await httpCall(link, { headers: { Range: `bytes=${SIZE}-` } }),
    ];
    expect(answers.map((a) => a.status)).toEqual([200, 200, 206, 416]);
    for (const answer of answers) {
      expect(answer.headers.etag).toBeUndefined();
      expect(answer.headers['last-modified']).toBeUndefined();
    }
  });

  it('still serves a plain Range (no If-Range) as 206 with the right bytes', async () => {
    const reply = await httpCall(link, { headers: { Range: 'bytes=1000-' } });
    expect(reply.status).toBe(206);
    expect(reply.headers['content-range']).toBe(`bytes 1000-${SIZE - 1}/${SIZE}`);
    expect(reply.body.equals(bytes.subarray(1000))).toBe(true);
  });

  it('answers any If-Range with the whole payload (nothing it could match, RFC 9110 §13.1.5)', async () => {
    const strong = `"${'0'.repeat(64)}"`;
    for (const validator of [strong, new Date().toUTCString()]) {
      const reply = await httpCall(link, { headers: { Range: 'bytes=10-19', 'If-Range': validator } });
      expect(reply.status).toBe(200);
      expect(reply.body.length).toBe(SIZE);
    }
  });

  it('can be switched at run time and checks the value', async () => {
    backend.configure({ cdnValidators: true });
    expect((await httpCall(link, { method: 'HEAD' })).headers.etag).toMatch(/^"[0-9a-f]{64}"$/);
    backend.configure({ cdnValidators: false });
    expect((await httpCall(link, { method: 'HEAD' })).headers.etag).toBeUndefined();
    expect(() => backend.configure({ cdnValidators: 'no' as unknown as boolean })).toThrow(/cdnValidators must be true or false/);
  });
});
