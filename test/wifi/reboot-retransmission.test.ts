import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { drive } from '../../hal/sim/wifi/drive.js';
import { WifiTarget } from '../../hal/sim/wifi/wifi-target.js';
import { crc32 } from '../../src/integrity/crc32.js';
import { VirtualClock } from '../../src/util/virtual-clock.js';
import { images, provisionedDevice } from './fixtures.js';

// The co-processor's answer cache (a retransmitted request is answered again, never run twice) lived in RAM only, and
// REBOOT clears RAM. So when the answer to REBOOT was lost, the main MCU's retransmission rebooted the co-processor
// again, each time spending one of the new image's boot attempts: three lost answers rejected a healthy image, and
// switchNow reported "its bootloader refused the new image". A software reset now keeps the REBOOT it answered (as
// RTC memory survives a reset on an ESP32), so the retransmission gets the same answer and reboots nothing.
// And a retransmission is recognised by its sequence number, command and body: a main MCU that reset alone (the
// co-processor kept running) starts its sequence numbers again and must not get the answer to another command.

const SIZES = { main: 5000, wifi: 3000 };

async function stagedAndActivated() {
  const made = await provisionedDevice({ sizes: SIZES });
  const clock = new VirtualClock(0);
  const boot = await drive(clock, made.device.powerOn(clock));
  const target = boot.wifiTarget!;
  const image = images(SIZES).wifiNew;
  await drive(clock, (async () => {
    const writer = await target.begin({ size: image.length, version: '1.4.0', crc32: crc32(image),
      sha256: new Uint8Array(createHash('sha256').update(image).digest()) }, 0);
    await writer.write(image);
    await writer.finish();
    await target.activate();
  })());
  return { ...made, clock, boot, target };
}

describe('REBOOT over a lossy link', () => {
  for (const lost of [1, 3]) {
    it(`${lost} lost answer(s) to REBOOT reboot the co-processor once: the new image boots as a trial, one attempt spent`, async () => {
      const s = await stagedAndActivated();
      const n = s.boot.link.stats.frames;
      // Frame n is REBOOT, n + 1 its answer; each retransmission (n + 2, n + 4, ...) is answered at n + 3, n + 5, ...
      s.boot.link.faults = { dropFrames: Array.from({ length: lost }, (_, i) => n + 1 + 2 * i) };
      expect(await drive(s.clock, s.target.reboot())).toMatchObject({ runningVersion: '1.4.0', trial: true });
      expect(s.target.client.stats.retransmissions).toBeGreaterThanOrEqual(lost);
      const record = await s.device.wifi.device.target().record();
      // Booted once: one of its three attempts spent.
      expect(record!.slots.map((e) => [e.version, e.state, e.attempts])).toContainEqual(['1.4.0', 'trial', 2]);
      s.boot.link.faults = {};
      await drive(s.clock, s.target.confirm());
      expect(await drive(s.clock, s.target.status())).toMatchObject({ runningVersion: '1.4.0', trial: false });
    });
  }

  it('a real power cycle still clears the cache: a REBOOT after it runs', async () => {
    const s = await stagedAndActivated();
    await drive(s.clock, s.target.reboot());
    const clock = new VirtualClock(0);
    const boot = await drive(clock, s.device.powerOn(clock));
    // The trial booted twice (the REBOOT, then the power-on).
    expect([boot.wifi?.version, boot.wifi?.trial, boot.wifi?.attemptsLeft]).toEqual(['1.4.0', true, 1]);
  });
});

describe('a main MCU that resets alone', () => {
  it('reconnects even when its first sequence number equals the last one the co-processor answered', async () => {
    const made = await provisionedDevice({ sizes: SIZES });
    const clock = new VirtualClock(0);
    const boot = await drive(clock, made.device.powerOn(clock));
    const target = boot.wifiTarget!;
    // The hello was seq 0; 254 INFOs take 1..254, then CONFIRM takes 255 and ACTIVATE wraps to 0 (refused: nothing staged).
    await drive(clock, (async () => {
      for (let i = 0; i < 254; i++) await target.status();
      await target.confirm();
      await target.activate().catch(() => undefined);
    })());
    // The main MCU resets; the co-processor keeps running and its cache holds ACTIVATE's answer under seq 0.
    const again = await drive(clock, WifiTarget.connect({ port: boot.link.ports[0], clock, baud: 115200 }));
    expect(await drive(clock, again.status())).toMatchObject({ runningVersion: '1.0.0', trial: false });
  });
});
