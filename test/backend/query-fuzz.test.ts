import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBackend, type Backend } from '../../src/backend/index.js';
import { httpCall, payloadBytes } from './helpers.js';

describe('device API under arbitrary queries', () => {
  let backend: Backend;
  beforeAll(async () => {
    backend = await startBackend({ http: true, dailyRequestLimit: 1e9 });
    await backend.admin.uploadPayload(payloadBytes(100), { hardwareVersion: 'evt', softwareType: 'main', softwareVersion: '1.1.0' });
    backend.admin.deploy({ releaseVersion: '1.1.0', cohort: 'default' });
  });
  afterAll(() => backend.close());

  it('answers 200, 204 or 400 (never 5xx, never a hang) and registers a device only for a valid query', async () => {
    const value = fc.oneof(fc.constantFrom('evt', 'main', '1.0.0', '', 'SN-1'), fc.string({ maxLength: 20 }), fc.string({ unit: 'binary', maxLength: 10 }));
    const maybe = fc.option(value, { nil: undefined });
    await fc.assert(fc.asyncProperty(maybe, maybe, maybe, maybe, fc.boolean(), async (serial, hardware, type, current, sdkForm) => {
      const parts: string[] = [];
      const add = (name: string, v: string | undefined): void => { if (v !== undefined) parts.push(`${name}=${encodeURIComponent(v)}`); };
      add('device_serial', serial);
      add('hardware_version', hardware);
      add('software_type', type);
      add('current_version', current);
      const before = backend.admin.devices().length;
      const reply = await httpCall(`${backend.baseUrl}/api/v0/releases/latest/url?${sdkForm ? '&' : ''}${parts.join('&')}`, { headers: { 'Memfault-Project-Key': backend.projectKey } });
      const valid = serial !== undefined && /^[-a-zA-Z0-9_]{1,128}$/.test(serial) && hardware === 'evt' && type === 'main' &&
        (current === undefined || /^[-a-zA-Z0-9_.+:\\()[\]/ ]{1,128}$/.test(current));
      expect([200, 204, 400]).toContain(reply.status);
      expect(reply.status === 400).toBe(!valid);
      if (reply.status === 400) expect(JSON.parse(reply.body.toString()).error.http_code).toBe(400);
      if (valid) expect(backend.admin.devices().some((d) => d.serial === serial)).toBe(true);
      else expect(backend.admin.devices().length).toBe(before);
    }), { seed: 4242, numRuns: 300 });
  });
});
