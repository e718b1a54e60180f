import { describe, expect, it } from 'vitest';
import { closeAfterEach, backendWith, bareBundle, deviceFor, fw, kinds } from './helpers.js';

const started = closeAfterEach();

describe('rollback paths', () => {
  it('a crashing image reverts after its boot attempts and is not installed again', async () => {
    const backend = started.backend(await backendWith(fw('1.0.0', 30_000, 'crash-on-boot'), '1.0.0', { http: true }));
    const made = await deviceFor(backend, 'SN-CRASH');
    const device = started.device(made.device);
    const result = await device.runOnce();
    expect(result.outcome).toBe('rolled-back');
    expect(device.lastBoot!.crashes).toBeGreaterThan(0);
    expect(kinds(made.events)).toEqual(['checking', 'update-available', 'download-started', 'verified', 'staged', 'rebooting', 'rolled-back']);
    const status = await device.status();
    expect(status.main.running).toBe('0.0.1');
    expect(status.main.slots.map((s) => s.state).sort()).toEqual(['confirmed', 'rejected']);
    expect((await device.runOnce()).outcome).toBe('up-to-date');
  });

  it('a never-confirming image reverts at the health deadline', async () => {
    const backend = started.backend(await backendWith(fw('1.0.0', 30_000, 'never-confirm'), '1.0.0', { http: true }));
    const made = await deviceFor(backend, 'SN-SILENT', { policy: { healthDeadlineMs: 400, backoffBaseMs: 10, progressIntervalMs: 0 } });
    const device = started.device(made.device);
    const result = await device.runOnce();
    expect(result.outcome).toBe('rolled-back');
    expect(made.events.some((e) => e.type === 'error' && e.code === 'health-deadline')).toBe(true);
    expect(kinds(made.events)).toContain('trial-started');
    expect((await device.status()).main.running).toBe('0.0.1');
  });

  it('a WiFi part that fails verification leaves both MCUs on the old pair', async () => {
    const wifi = fw('2.0.0', 24_000);
    const main = fw('2.0.0', 30_000);
    const bundle = bareBundle('2.0.0', [
      { softwareType: 'wifi-fw', version: '2.0.0', data: wifi },
      { softwareType: 'main-fw', version: '2.0.0', data: main },
    ]);
    const backend = started.backend(await backendWith(bundle, '2.0.0', { http: true }));
    // Corrupt a byte inside the WiFi part (it comes first) on every download.
    backend.faults.add({ route: 'cdn', kind: 'corrupt', offset: bundle.length - main.length - 4 - 1000, times: 'always' });
    const made = await deviceFor(backend, 'SN-WIFI', {}, fw('0.0.1', 16_000));
    const device = started.device(made.device);
    const result = await device.runOnce();
    expect(result.outcome).toBe('failed');
    expect(kinds(made.events)).not.toContain('staged');
    const status = await device.status();
    expect(status.main.running).toBe('0.0.1');
    expect(status.wifi!.running).toBe('0.0.1');
    expect(status.main.trial || status.wifi!.trial).toBe(false);
    expect([...status.main.slots, ...status.wifi!.slots].some((s) => s.state === 'pending')).toBe(false);
    // Without the fault the same release installs on both MCUs.
    backend.faults.clear();
    expect((await device.runOnce()).outcome).toBe('confirmed');
    const after = await device.status();
    expect([after.main.running, after.wifi!.running]).toEqual(['2.0.0', '2.0.0']);
  });
});
