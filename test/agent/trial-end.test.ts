import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/util/virtual-clock.js';
import { closeAfterEach, backendWith, bareBundle, deviceFor, fw, kinds } from '../e2e/helpers.js';

// How a trial ends when the agent is not the one ending it (QA): a trial the bootloader reverted while the journal
// still said `trial`, and a bundle that does not touch the primary target (WiFi only).

const started = closeAfterEach();

/** Lets pending I/O and promise chains run, up to `rounds` macrotask turns, until `done()`. */
async function until(done: () => boolean, rounds = 2000): Promise<void> {
  for (let i = 0; i < rounds && !done(); i++) await new Promise((resolve) => setTimeout(resolve, 1));
  expect(done()).toBe(true);
}

describe('a trial that ended without the agent', () => {
  it('a never-confirming bundle the bootloader reverted ends rolled-back once, is given up, and the agent rests', async () => {
    const bundle = bareBundle('7.0.0', [{ softwareType: 'main-fw', version: '7.0.0', data: fw('7.0.0', 30_000, 'never-confirm') }]);
    const backend = started.backend(await backendWith(bundle, '7.0.0', { http: true }));
    // Virtual time: the health deadline never fires on its own, so the journal stays at `trial` (as when
    // `ota device run` was killed during the trial).
    const clock = new VirtualClock(Date.now());
    const made = await deviceFor(backend, 'SN-REVERTED', { clock, policy: { healthDeadlineMs: 600_000, progressIntervalMs: 0 } });
    const device = started.device(made.device);
    // Install and reboot into the trial (the agent's reboot boots the device and makes a fresh agent).
    expect((await device.agent!.runOnce()).outcome).toBe('rebooting');
    void device.agent!.runOnce();
    await until(() => made.events.some((e) => e.type === 'trial-started'));
    await until(() => clock.pending() > 0);
    expect((await device.status()).agent!.phase).toBe('trial');
    // Power cycles with the agent never deciding: each boot spends an attempt until the bootloader reverts.
    for (let i = 0; i < 8 && (await device.status()).main.trial; i++) await device.boot();
    const reverted = await device.status();
    expect(reverted.main.trial).toBe(false);
    expect(reverted.main.running).toBe('0.0.1');
    expect(reverted.agent!.phase).toBe('trial');

    made.events.length = 0;
    const result = await device.agent!.runOnce();
    expect(result.outcome).toBe('rolled-back');
    expect(result.phase).toBe('idle');
    // Once, with the version and why; no confirm attempts against an image that no longer runs.
    const rolled = made.events.filter((e) => e.type === 'rolled-back');
    expect(rolled).toHaveLength(1);
    expect(rolled[0]).toMatchObject({ version: '7.0.0', reason: 'trial-reverted' });
    expect(made.events.filter((e) => e.type === 'error')).toEqual([]);
    const state = (await device.status()).agent!;
    expect(state.phase).toBe('idle');
    expect(state.notBefore).toBeGreaterThan(clock.now());
    // Given up like a crashing image: the next check does not fetch it again.
    made.events.length = 0;
    expect((await device.agent!.runOnce()).outcome).toBe('up-to-date');
    expect(made.events.some((e) => e.type === 'up-to-date' && e.reason === 'release-rejected-before')).toBe(true);
    expect(kinds(made.events)).not.toContain('download-started');
  });

  it('a WiFi-only bundle for the main software type installs, confirms after one reboot, and is not installed again', async () => {
    const bundle = bareBundle('3.6.0', [{ softwareType: 'wifi-fw', version: '3.6.0', data: fw('3.6.0', 12_000) }]);
    const backend = started.backend(await backendWith(bundle, '3.6.0', { http: true }));
    const made = await deviceFor(backend, 'SN-WIFI-ONLY', {}, fw('0.0.1', 16_000));
    const device = started.device(made.device);
    const result = await device.runOnce();
    expect(result.outcome).toBe('confirmed');
    expect(kinds(made.events)).toEqual(['checking', 'update-available', 'download-started', 'verified', 'staged', 'rebooting',
      'trial-started', 'confirmed']);
    expect(made.events.find((e) => e.type === 'confirmed')!.version).toBe('3.6.0');
    const status = await device.status();
    expect(status.main.running).toBe('0.0.1');
    expect(status.wifi!.running).toBe('3.6.0');
    expect(status.main.trial || status.wifi!.trial).toBe(false);
    // current_version stays 0.0.1, so the server offers 3.6.0 again: it is not downloaded or installed again.
    made.events.length = 0;
    expect((await device.runOnce()).outcome).toBe('up-to-date');
    expect(kinds(made.events)).not.toContain('download-started');
    expect(made.events.find((e) => e.type === 'up-to-date')).toMatchObject({ reason: 'release-installed-before' });
    expect((await device.status()).wifi!.running).toBe('3.6.0');
  });
});
