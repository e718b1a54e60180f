import { describe, expect, it } from 'vitest';
import { uniformGeometry } from '../../hal/flash.js';
import type { FirmwareBehaviour } from '../../hal/sim/firmware-image.js';
import { SimFlash } from '../../hal/sim/sim-flash.js';
import type { AgentEvent } from '../../src/agent/events.js';
import { SimDevice } from '../../src/node/sim-device.js';
import { createBundle } from '../../src/tools/bundle.js';
import { backendWith, closeAfterEach, fw } from '../e2e/helpers.js';

// A release whose WiFi image requires the new main image (a new link protocol, say): main activates first, both boot
// as trials. When the main trial fails, the agent reverts every trial it can and reboots. The WiFi target had no
// revert(), so its trial was left to its bootloader: the device rebooted again and again, running the old main beside
// the new WiFi trial (a pair the manifest forbids) until the co-processor had spent all its boot attempts. With REVERT
// over the link the WiFi trial is rejected with the main one, and the next boot runs the old pair.

const OLD = '0.0.1';
const NEW = '2.0.0';

const started = closeAfterEach();

async function run(mainBehaviour: FirmwareBehaviour): Promise<{ boots: string[]; events: AgentEvent[]; outcome: string; device: SimDevice }> {
  const backend = started.backend(await backendWith(createBundle({
    sequence: 1, releaseVersion: NEW, hardwareVersions: ['evt'], parts: [
      { softwareType: 'main-fw', version: NEW, data: fw(NEW, 12_000, mainBehaviour) },
      { softwareType: 'wifi-fw', version: NEW, data: fw(NEW, 9_000), requires: [{ softwareType: 'main-fw', minVersion: NEW }] },
    ],
  }, null), NEW, { http: true }));
  const events: AgentEvent[] = [];
  const boots: string[] = [];
  let seen: unknown = null;
  const d: SimDevice = new SimDevice({
    serial: `SN-REVERT-${mainBehaviour}`, hardwareVersion: 'evt', api: { baseUrl: backend.baseUrl, projectKey: backend.projectKey },
    mainFlash: new SimFlash(uniformGeometry(4096, 4 + 2 * 8, 8, 0xff)), wifiFlash: new SimFlash(uniformGeometry(4096, 2 + 2 * 4, 4, 0xff)),
    policy: { healthDeadlineMs: 50, backoffBaseMs: 1, backoffMaxMs: 2, progressIntervalMs: 1e9 },
    onEvent: (e) => {
      events.push(e);
      // Every power-on makes a new DeviceBoot: the first event after it records the pair that booted.
      const boot = d.lastBoot;
      if (boot !== null && boot !== seen) {
        seen = boot;
        boots.push(`${boot.main.version}${boot.main.trial ? '*' : ''}/${boot.wifi?.version}${boot.wifi?.trial ? '*' : ''}`);
      }
    },
  });
  started.device(d);
  await d.provision(fw(OLD, 6_000), OLD, fw(OLD, 5_000), OLD);
  await d.boot();
  const outcome = (await d.runOnce()).outcome;
  return { boots, events, outcome, device: d };
}

describe('a failed main trial reverts the WiFi trial that requires it, over the link', () => {
  it('self-test never answers: one revert reboot, and old main never runs beside the new WiFi', async () => {
    const { boots, events, outcome, device } = await run('never-confirm');
    expect(outcome).toBe('rolled-back');
    expect(events.find((e) => e.type === 'rolled-back')).toMatchObject({ version: NEW, reason: 'health-deadline' });
    // (* = trial) factory boot, the trial boot of the release, the boot after the revert.
    expect(boots).toEqual([`${OLD}/${OLD}`, `${NEW}*/${NEW}*`, `${OLD}/${OLD}`]);
    const status = await device.status();
    expect([status.main.running, status.main.trial, status.wifi?.running, status.wifi?.trial]).toEqual([OLD, false, OLD, false]);
    expect(status.wifi?.slots.find((s) => s.version === NEW)?.state).toBe('rejected');
  });

  it('main crashes on boot: the forbidden pair its bootloader leaves runs for one boot only', async () => {
    const { boots, outcome } = await run('crash-on-boot');
    expect(outcome).toBe('rolled-back');
    // The main bootloader reverts on its own at the trial boot while the WiFi trial starts: that boot cannot be
    // avoided (two bootloaders, no shared state), but the agent then reverts the WiFi trial at once.
    expect(boots).toEqual([`${OLD}/${OLD}`, `${OLD}/${NEW}*`, `${OLD}/${OLD}`]);
  });
});
