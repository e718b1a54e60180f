import { describe, expect, it } from 'vitest';
import { closeAfterEach, backendWith, deviceFor, fw } from '../e2e/helpers.js';
import { payloadOf } from './fakes.js';

// QA's reports on a simulated device against the mock backend (releases/latest/url, raw images accepted): a raw image
// whose version cannot be told, or whose header names another version, must not be installed on every check.

const started = closeAfterEach();

describe('raw image versions on a simulated device', () => {
  it('random bytes uploaded as 9.0.0 are refused before any write; the device keeps 0.0.1 and its fallback', async () => {
    const backend = started.backend(await backendWith(payloadOf(20_000, 7), '9.0.0', { http: true }));
    const made = await deviceFor(backend, 'SN-RAW-RANDOM');
    const device = started.device(made.device);
    const first = await device.runOnce();
    expect(first.outcome).toBe('failed');
    expect(first.error?.code).toBe('image-version-unknown');
    const status = await device.status();
    expect(status.main.running).toBe('0.0.1');
    expect(status.main.slots.map((s) => s.state).sort()).toEqual(['confirmed', 'empty']);
    expect(made.events.some((e) => e.type === 'download-started')).toBe(true);
    expect(made.events.some((e) => e.type === 'staged')).toBe(false);
    // Given up: the next checks neither download nor flash it.
    for (let i = 0; i < 2; i++) expect((await device.runOnce()).outcome).toBe('up-to-date');
    expect(made.events.filter((e) => e.type === 'download-started').length).toBe(1);
  });

  it('an image whose header says 8.0.0 uploaded as release 10.0.0 is installed at most once', async () => {
    const backend = started.backend(await backendWith(fw('8.0.0', 20_000), '10.0.0', { http: true }));
    const made = await deviceFor(backend, 'SN-RAW-MISMATCH');
    const device = started.device(made.device);
    for (let i = 0; i < 5; i++) await device.runOnce();
    expect(made.events.filter((e) => e.type === 'staged').length).toBeLessThanOrEqual(1);
    const status = await device.status();
    // The factory image is still there to fall back to.
    expect(status.main.slots.some((s) => s.version === '0.0.1')).toBe(true);
  });
});
