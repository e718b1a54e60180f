import { describe, expect, it } from 'vitest';
import { uniformGeometry } from '../../hal/flash.js';
import { SimFlash } from '../../hal/sim/sim-flash.js';
import type { AgentEvent } from '../../src/agent/events.js';
import { SimDevice } from '../../src/node/sim-device.js';
import { createBundle } from '../../src/tools/bundle.js';
import { backendWith, closeAfterEach, fw } from '../e2e/helpers.js';

// A WiFi image that crashes as soon as its bootloader starts it must never be confirmed: the co-processor's
// bootloader spends its boot attempts on it and reverts to the confirmed image, and the main image that needs it is
// never activated (or, when nothing requires it, the release rolls back as a whole). Before the fix the simulated
// co-processor ignored its image's behaviour, answered INFO from a crashing image and the release was confirmed.
// Either way the release ends the same: rolled back once (reason trial-reverted) and not installed again.

const OLD = '0.0.1';
const NEW = '2.0.0';

const started = closeAfterEach();

async function run(requires: boolean): Promise<{ outcomes: string[]; events: AgentEvent[]; device: SimDevice }> {
  const backend = started.backend(await backendWith(createBundle({
    sequence: 1, releaseVersion: NEW, hardwareVersions: ['evt'], parts: [
      { softwareType: 'wifi-fw', version: NEW, data: fw(NEW, 9_000, 'crash-on-boot') },
      { softwareType: 'main-fw', version: NEW, data: fw(NEW, 12_000), requires: requires ? [{ softwareType: 'wifi-fw', minVersion: NEW }] : undefined },
    ],
  }, null), NEW, { http: true }));
  const events: AgentEvent[] = [];
  const device = started.device(new SimDevice({
    serial: `SN-CRASH-${requires}`, hardwareVersion: 'evt', api: { baseUrl: backend.baseUrl, projectKey: backend.projectKey },
    mainFlash: new SimFlash(uniformGeometry(4096, 4 + 2 * 8, 8, 0xff)), wifiFlash: new SimFlash(uniformGeometry(4096, 2 + 2 * 4, 4, 0xff)),
    policy: { healthDeadlineMs: 5000, backoffBaseMs: 1, backoffMaxMs: 2, progressIntervalMs: 1e9 },
    onEvent: (e) => events.push(e),
  }));
  await device.provision(fw(OLD, 6_000), OLD, fw(OLD, 5_000), OLD);
  await device.boot();
  const outcomes: string[] = [];
  for (let i = 0; i < 3; i++) outcomes.push((await device.runOnce()).outcome);
  return { outcomes, events, device };
}

async function expectOldPairConfirmed(d: SimDevice): Promise<void> {
  const status = await d.status();
  expect([status.main.running, status.main.trial, status.wifi?.running, status.wifi?.trial]).toEqual([OLD, false, OLD, false]);
  // The crashing image was rejected by the co-processor's bootloader, not left pending or confirmed.
  expect(status.wifi?.slots.find((s) => s.version === NEW)?.state).toBe('rejected');
  await d.boot();
  expect([d.lastBoot?.main.version, d.lastBoot?.wifi?.version, d.lastBoot?.wifi?.trial]).toEqual([OLD, OLD, false]);
}

describe('a WiFi image that crashes on boot', () => {
  it('is reverted by the co-processor during the switch, and the main image that requires it is never activated', async () => {
    const { outcomes, events, device: d } = await run(true);
    // Rolled back once and given up, as when the same image's trial reverts after a reboot: before, the release was
    // downloaded, written and crash-booted again at every cycle until its attempts ran out.
    expect(outcomes).toEqual(['rolled-back', 'up-to-date', 'up-to-date']);
    expect(events.filter((e) => e.type === 'download-started')).toHaveLength(1);
    expect(events.find((e) => e.type === 'rolled-back')).toMatchObject({ version: NEW, reason: 'trial-reverted' });
    const failure = events.find((e) => e.type === 'error' && e.code === 'activation-failed');
    expect(failure, JSON.stringify(events.filter((e) => e.type === 'error'))).toBeDefined();
    expect(failure?.type === 'error' ? failure.details : undefined).toMatchObject({ softwareType: 'wifi-fw' });
    const mainSlots = (await d.status()).main.slots;
    expect(mainSlots.some((s) => s.version === NEW && (s.state === 'pending' || s.state === 'trial' || s.state === 'confirmed'))).toBe(false);
    await expectOldPairConfirmed(d);
  });

  it('reverts the whole release when nothing requires it (its trial never lands)', async () => {
    const { outcomes, events, device: d } = await run(false);
    expect(outcomes).toEqual(['rolled-back', 'up-to-date', 'up-to-date']);
    expect(events.find((e) => e.type === 'rolled-back')).toMatchObject({ version: NEW, reason: 'trial-reverted' });
    await expectOldPairConfirmed(d);
  });
});
