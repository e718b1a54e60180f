import { describe, expect, it } from 'vitest';
import { closeAfterEach, backendWith, bareBundle, deviceFor, fw } from './helpers.js';

// /releases/latest/url names no version: a bundle's comes from its manifest. Once the manifest is read, the progress
// events say which release is downloading, as they do with /releases/latest.

const started = closeAfterEach();

describe('events through /releases/latest/url', () => {
  it('download-progress carries the bundle manifest\'s version once the header is read; update-available says the size is unknown', async () => {
    const bundle = bareBundle('1.0.0', [{ softwareType: 'main-fw', version: '1.0.0', data: fw('1.0.0', 150_000) }]);
    const backend = started.backend(await backendWith(bundle, '1.0.0', { http: true }));
    const made = await deviceFor(backend, 'SN-URL', { trust: { verifiers: [], allowUnsigned: true } });
    const device = started.device(made.device);
    expect((await device.runOnce()).outcome).toBe('confirmed');

    const offered = made.events.find((e) => e.type === 'update-available');
    expect(offered).toMatchObject({ version: null, total: -1 });
    const progress = made.events.flatMap((e) => e.type === 'download-progress' ? [e] : []);
    expect(progress.length).toBeGreaterThan(2);
    const last = progress[progress.length - 1];
    expect(last).toMatchObject({ received: bundle.length, total: bundle.length, version: '1.0.0' });
    // The manifest sits in the first few hundred bytes: every event after the first chunk names the release.
    expect(progress.filter((e) => e.received >= 64 * 1024).every((e) => e.version === '1.0.0')).toBe(true);
  });
});
