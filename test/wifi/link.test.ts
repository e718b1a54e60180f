import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Deframer, encodeFrame } from '../../hal/sim/wifi/frame.js';
import { drive } from '../../hal/sim/wifi/drive.js';
import type { TwoMcuDevice } from '../../hal/sim/wifi/two-mcu-device.js';
import type { SimFlash } from '../../hal/sim/sim-flash.js';
import { BundleUnpacker } from '../../src/bundle/unpacker.js';
import { activateRelease, confirmRelease } from '../../src/bundle/activation.js';
import { nodeHashes } from '../../src/node/crypto.js';
import { createBundle } from '../../src/tools/bundle.js';
import { isOtaError } from '../../src/util/errors.js';
import type { OtaError } from '../../src/util/errors.js';
import { VirtualClock } from '../../src/util/virtual-clock.js';
import { ed25519Trust, testSigner } from '../bundle/helpers.js';
import { images, provisionedDevice } from './fixtures.js';
import type { DeviceSpec } from './fixtures.js';

const SIZES = { main: 5000, wifi: 3000 };
const SEED = 4242;

/** A bundle with only the WiFi part (1.4.0). */
function wifiOnlyBundle(): Uint8Array {
  return createBundle({ sequence: 50, releaseVersion: 'wifi-1.4.0', hardwareVersions: ['evt'],
    parts: [{ softwareType: 'wifi-fw', version: '1.4.0', data: images(SIZES).wifiNew }] }, testSigner());
}

/** The running WiFi slot's bytes and its record entry, to prove they did not change. */
function wifiRunningSnapshot(device: TwoMcuDevice, flash: SimFlash, slot: number): Uint8Array {
  const area = device.wifi.device.layout.slots[slot];
  return flash.peek(area.offset, area.size);
}

interface UpdateOutcome {
  error: OtaError | null;
  /** True once every part was activated (the co-processor then boots 1.4.0 as a trial). */
  activated: boolean;
  elapsedMs: number;
  retransmissions: number;
}

/** Streams the WiFi-only bundle into the co-processor over the link, then activates, reboots it and confirms. */
async function updateWifi(spec: DeviceSpec): Promise<UpdateOutcome & { device: TwoMcuDevice; wifiFlash: SimFlash; before: Uint8Array; runningSlot: number }> {
  const { device, wifiFlash } = await provisionedDevice(spec);
  const clock = new VirtualClock(0);
  const faults = spec.linkFaults;
  // Power on over a clean link (the hello must pass), then turn the faults on for the transfer.
  device['options'].linkFaults = {};
  const boot = await drive(clock, device.powerOn(clock));
  boot.link.faults = faults ?? {};
  const runningSlot = boot.wifi?.slot ?? -1;
  const before = wifiRunningSnapshot(device, wifiFlash, runningSlot);
  const bytes = wifiOnlyBundle();
  const unpacker = new BundleUnpacker({ device: { hardwareVersion: 'evt', targets: boot.targets, installedSequence: 0 }, trust: ed25519Trust(), hashes: nodeHashes });
  const start = clock.now();
  let error: OtaError | null = null;
  let activated = false;
  try {
    await drive(clock, (async () => {
      for (let at = 0; at < bytes.length; at += 1024) await unpacker.push(bytes.subarray(at, at + 1024));
      const result = await unpacker.end();
      await activateRelease(result);
      activated = true;
      const after = await boot.wifiTarget!.reboot();
      expect(after).toMatchObject({ runningVersion: '1.4.0', trial: true });
      await confirmRelease(result);
    })());
  } catch (e) {
    if (!isOtaError(e)) throw e;
    error = e;
  }
  return { device, wifiFlash, before, runningSlot, error, activated, elapsedMs: clock.now() - start, retransmissions: boot.wifiTarget!.client.stats.retransmissions };
}

describe('serial framing', () => {
  it('round-trips any payload, flags and escapes included, split anywhere (fast-check)', () => {
    fc.assert(fc.property(fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { minLength: 1, maxLength: 4 }), fc.nat({ max: 100 }), (payloads, split) => {
      const stream = Buffer.concat(payloads.map(encodeFrame));
      const deframer = new Deframer();
      const cut = Math.min(split, stream.length);
      const got = [...deframer.push(stream.subarray(0, cut)), ...deframer.push(stream.subarray(cut))];
      expect(got.map((g) => Buffer.from(g).toString('hex'))).toEqual(payloads.map((p) => Buffer.from(p).toString('hex')));
    }), { seed: SEED, numRuns: 200 });
  });

  it('drops every frame with a flipped bit and resyncs on the next flag (fast-check)', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 200 }), fc.nat(), (payload, bitSeed) => {
      const frame = encodeFrame(payload);
      const bit = 8 + (bitSeed % ((frame.length - 2) * 8)); // any bit between the flags
      const bad = new Uint8Array(frame);
      bad[bit >> 3] ^= 1 << (bit & 7);
      const deframer = new Deframer();
      const got = [...deframer.push(bad), ...deframer.push(encodeFrame(Uint8Array.of(1, 2, 3)))];
      expect(got.map((g) => Buffer.from(g).toString('hex'))).toEqual(['010203']);
    }), { seed: SEED, numRuns: 300 });
  });
});

describe('WiFi co-processor update over the serial link', () => {
  it('completes on a clean link: the co-processor boots 1.4.0 as a trial, then it is confirmed', async () => {
    const outcome = await updateWifi({ sizes: SIZES, baud: 115200 });
    expect(outcome.error).toBeNull();
    expect(outcome.retransmissions).toBe(0);
    const record = outcome.device.wifi.device.target();
    expect(await record.status()).toMatchObject({ runningVersion: '1.4.0', trial: false });
  });

  it('the baud rate sets the simulated transfer time', async () => {
    const fast = await updateWifi({ sizes: SIZES, baud: 115200 });
    const slow = await updateWifi({ sizes: SIZES, baud: 9600 });
    const imageBits = images(SIZES).wifiNew.length * 10;
    expect(fast.elapsedMs).toBeGreaterThan((imageBits / 115200) * 1000);
    expect(slow.elapsedMs).toBeGreaterThan((imageBits / 9600) * 1000);
    // Same frames, 12x slower line: the virtual durations scale with it.
    expect(slow.elapsedMs / fast.elapsedMs).toBeGreaterThan(10);
    expect(slow.elapsedMs / fast.elapsedMs).toBeLessThan(13);
  });

  it('completes through bit errors and dropped frames by retransmitting, with the exact image', async () => {
    const outcome = await updateWifi({ sizes: SIZES, linkFaults: { bitErrorRate: 2e-5, dropRate: 0.05 }, linkSeed: 7 });
    expect(outcome.error).toBeNull();
    expect(outcome.retransmissions).toBeGreaterThan(0);
    expect(await outcome.device.wifi.device.target().status()).toMatchObject({ runningVersion: '1.4.0', trial: false });
  });

  it('scheduled drops of a request and of its response are recovered without running a command twice', async () => {
    // Frames 4 and 7 (counted over both directions, after power-on) are lost: one WRITE and one answer to a WRITE.
    const outcome = await updateWifi({ sizes: SIZES, linkFaults: { dropFrames: [4, 7], corruptFrames: [10] } });
    expect(outcome.error).toBeNull();
    expect(outcome.retransmissions).toBe(3);
    expect(await outcome.device.wifi.device.target().status()).toMatchObject({ runningVersion: '1.4.0', trial: false });
  });

  it('a link that goes dead mid-transfer fails cleanly (retryable) without touching the running WiFi image', async () => {
    const outcome = await updateWifi({ sizes: SIZES, linkFaults: { dropFrames: Array.from({ length: 400 }, (_, i) => 12 + i) } });
    expect(outcome.error?.code).toBe('link-timeout');
    expect(outcome.error?.retryable).toBe(true);
    expect(wifiRunningSnapshot(outcome.device, outcome.wifiFlash, outcome.runningSlot)).toEqual(outcome.before);
    const clock = new VirtualClock(0);
    outcome.device['options'].linkFaults = {};
    const boot = await drive(clock, outcome.device.powerOn(clock));
    expect(boot.wifi).toMatchObject({ version: '1.0.0', trial: false, slot: outcome.runningSlot });
  });

  it('random link faults: the update completes or fails cleanly, and the WiFi MCU always boots a verified image (fast-check)', async () => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 1_000_000 }), fc.constantFrom(1e-5, 1e-4, 5e-4), fc.constantFrom(0, 0.1, 0.3),
      async (linkSeed, bitErrorRate, dropRate) => {
        const outcome = await updateWifi({ sizes: SIZES, linkFaults: { bitErrorRate, dropRate }, linkSeed });
        const clock = new VirtualClock(0);
        outcome.device['options'].linkFaults = {};
        const boot = await drive(clock, outcome.device.powerOn(clock));
        if (outcome.error === null) {
          expect(boot.wifi?.version).toBe('1.4.0');
        } else {
          expect(['link-timeout'], `${outcome.error.code}: ${outcome.error.message}`).toContain(outcome.error.code);
          // Before activation nothing changes; after it the new image runs only as an unconfirmed trial.
          if (outcome.activated) expect(boot.wifi?.trial || boot.wifi?.version === '1.0.0').toBe(true);
          else expect(boot.wifi?.version, 'a failed update left the old image running').toBe('1.0.0');
          expect(wifiRunningSnapshot(outcome.device, outcome.wifiFlash, outcome.runningSlot)).toEqual(outcome.before);
        }
      }), { seed: SEED, numRuns: 12 });
  });
});
