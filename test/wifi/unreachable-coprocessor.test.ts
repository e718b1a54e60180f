import { describe, expect, it } from 'vitest';
import { uniformGeometry } from '../../hal/flash.js';
import { SimFlash } from '../../hal/sim/sim-flash.js';
import type { AgentEvent } from '../../src/agent/events.js';
import { SimDevice } from '../../src/node/sim-device.js';
import { createBundle } from '../../src/tools/bundle.js';
import { backendWith, closeAfterEach, fw } from '../e2e/helpers.js';

// A WiFi co-processor that does not answer at power-on (a dead serial link, or no bootable image of its own). Before
// the fix, a dead link made SimDevice.boot() reject (the main MCU never started its agent), and a co-processor with
// nothing bootable was left out of the targets, so a release with a WiFi part was refused as "part-unmapped" ("build a
// bundle for this device") and given up for good: once the co-processor answered again the release was never
// installed. Now the co-processor stands in as a target that fails with a retryable `wifi-unreachable`: the cycle
// backs off, nothing is given up, and the release installs once the co-processor answers.

const OLD = '0.0.1';
const NEW = '2.0.0';

const started = closeAfterEach();

async function rig(serial: string): Promise<{ device: SimDevice; wifi: SimFlash; events: AgentEvent[] }> {
  const backend = started.backend(await backendWith(createBundle({
    sequence: 1, releaseVersion: NEW, hardwareVersions: ['evt'], parts: [
      { softwareType: 'wifi-fw', version: NEW, data: fw(NEW, 9_000) },
      { softwareType: 'main-fw', version: NEW, data: fw(NEW, 12_000), requires: [{ softwareType: 'wifi-fw', minVersion: NEW }] },
    ],
  }, null), NEW, { http: true }));
  const wifi = new SimFlash(uniformGeometry(4096, 2 + 2 * 4, 4, 0xff));
  const events: AgentEvent[] = [];
  const device = started.device(new SimDevice({
    serial, hardwareVersion: 'evt', api: { baseUrl: backend.baseUrl, projectKey: backend.projectKey },
    mainFlash: new SimFlash(uniformGeometry(4096, 4 + 2 * 8, 8, 0xff)), wifiFlash: wifi,
    policy: { healthDeadlineMs: 5000, backoffBaseMs: 1, backoffMaxMs: 2, progressIntervalMs: 1e9 },
    onEvent: (e) => events.push(e),
  }));
  await device.provision(fw(OLD, 6_000), OLD, fw(OLD, 5_000), OLD);
  return { device, wifi, events };
}

function expectUnreachableFailure(events: AgentEvent[], outcome: string): void {
  expect(outcome).toBe('failed');
  const errors = events.filter((e) => e.type === 'error');
  expect(errors.map((e) => e.type === 'error' && e.code)).toEqual(['wifi-unreachable']);
  const error = errors[0];
  if (error.type !== 'error') return;
  expect(error.retryable).toBe(true);
  expect(error.details).toMatchObject({ softwareType: 'wifi-fw' });
  expect(error.message).toMatch(/WiFi co-processor/);
}

describe('a WiFi co-processor that does not answer at power-on', () => {
  it('a dead serial link: the main MCU boots, cycles back off with wifi-unreachable, and the release installs once the link works', async () => {
    const r = await rig('SN-DEAD-LINK');
    r.device.wifiLinkFaults = { dropRate: 1 };
    const boot = await r.device.boot();
    expect(boot.main.version).toBe(OLD);
    expect(boot.wifiError?.code).toBe('link-timeout');
    expectUnreachableFailure(r.events, (await r.device.runOnce()).outcome);
    expect((await r.device.status()).agent?.givenUp).toEqual([]);

    r.device.wifiLinkFaults = {};
    await r.device.boot();
    let outcome = (await r.device.runOnce()).outcome;
    for (let i = 0; i < 3 && outcome !== 'confirmed'; i++) outcome = (await r.device.runOnce()).outcome;
    expect(outcome).toBe('confirmed');
    const status = await r.device.status();
    expect([status.main.running, status.wifi?.running, status.main.trial, status.wifi?.trial]).toEqual([NEW, NEW, false, false]);
  });

  it('no bootable WiFi image: the release is not refused as "part-unmapped" nor given up', async () => {
    const r = await rig('SN-DEAD-WIFI');
    // Both boot-record sectors of the co-processor lost (its bootloader finds no record).
    await r.wifi.erase(0, 8192);
    await r.wifi.write(0, new Uint8Array(8).fill(0x12));
    const boot = await r.device.boot();
    expect(boot.wifi).toBeNull();
    expectUnreachableFailure(r.events, (await r.device.runOnce()).outcome);
    expect(boot.wifiError?.code).toBe('no-bootable-image');
    const status = await r.device.status();
    expect(status.agent?.givenUp).toEqual([]);
    expect([status.main.running, status.main.trial]).toEqual([OLD, false]);
  });
});
