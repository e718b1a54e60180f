import { describe, expect, it } from 'vitest';
import { drive } from '../../hal/sim/wifi/drive.js';
import { BundleUnpacker } from '../../src/bundle/unpacker.js';
import { activateRelease, confirmRelease } from '../../src/bundle/activation.js';
import { nodeHashes } from '../../src/node/crypto.js';
import { createBundle, encodeCbor, encodeHeader, manifestValue } from '../../src/tools/bundle.js';
import { crc32 } from '../../src/integrity/crc32.js';
import { concatBytes } from '../../src/util/bytes.js';
import { ed25519Signer } from '../../src/tools/keys.js';
import { VirtualClock } from '../../src/util/virtual-clock.js';
import { OTHER_KEY, ed25519Trust, rejection, testSigner } from '../bundle/helpers.js';
import { provisionedDevice, releaseBundle, releaseInput } from './fixtures.js';

const SIZES = { main: 5000, wifi: 3000 };

async function setup() {
  const made = await provisionedDevice({ sizes: SIZES });
  const clock = new VirtualClock(0);
  const boot = await drive(clock, made.device.powerOn(clock));
  const unpacker = (bytes: Uint8Array) => new BundleUnpacker({ device: { hardwareVersion: 'evt', targets: boot.targets, installedSequence: 10 },
    trust: ed25519Trust(), hashes: nodeHashes, totalLength: bytes.length });
  const feed = (u: BundleUnpacker, bytes: Uint8Array) => drive(clock, (async () => {
    for (let at = 0; at < bytes.length; at += 900) await u.push(bytes.subarray(at, at + 900));
    return u.end();
  })());
  return { ...made, clock, boot, unpacker, feed };
}

describe('two-MCU device (main A/B slots + WiFi co-processor over the link)', () => {
  it('installs a two-part bundle: wifi switched and confirmed first, then main as a trial, then confirmed', async () => {
    const s = await setup();
    const bytes = releaseBundle(SIZES);
    const result = await s.feed(s.unpacker(bytes), bytes);
    await drive(s.clock, activateRelease(result));
    expect(await drive(s.clock, s.boot.wifiTarget!.status())).toMatchObject({ runningVersion: '1.4.0', trial: false });
    const clock = new VirtualClock(0);
    const boot = await drive(clock, s.device.powerOn(clock));
    expect([boot.main.version, boot.main.trial, boot.wifi?.version]).toEqual(['2.0.0', true, '1.4.0']);
    await drive(clock, confirmRelease({ parts: result.parts.map((p) => ({ ...p, target: boot.targets.find((t) => t.softwareType === p.softwareType)! })) }));
    const again = new VirtualClock(0);
    const last = await drive(again, s.device.powerOn(again));
    expect([last.main.version, last.main.trial, last.wifi?.version, last.wifi?.trial]).toEqual(['2.0.0', false, '1.4.0', false]);
  });

  it('a header the device refuses touches neither flash at all', async () => {
    const s = await setup();
    const ops = [s.mainFlash.ops, s.wifiFlash.ops];
    const bytes = createBundle(releaseInput(SIZES), ed25519Signer(OTHER_KEY));
    const error = await rejection(s.feed(s.unpacker(bytes), bytes));
    expect(error.code).toBe('key-unknown');
    expect([s.mainFlash.ops, s.wifiFlash.ops]).toEqual(ops);
  });

  it('a WiFi part whose bytes match the CRC-32 but not the signed SHA-256 is refused after the co-processor reads it back', async () => {
    const s = await setup();
    const input = releaseInput(SIZES);
    const tamperedWifi = new Uint8Array(input.parts[1].data);
    tamperedWifi[500] ^= 0x40;
    // The attacker's best case: the transit CRC in the manifest matches the altered bytes; only SHA-256 differs.
    const value = manifestValue(input);
    (value.get(5) as Map<number, unknown>[])[1].set(5, crc32(tamperedWifi));
    const head = encodeHeader(encodeCbor(value), testSigner());
    const u32 = (n: number) => { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, n); return b; };
    const bytes = concatBytes([head.preamble, head.header, u32(input.parts[0].data.length), input.parts[0].data, u32(tamperedWifi.length), tamperedWifi]);
    const error = await rejection(s.feed(s.unpacker(bytes), bytes));
    expect(error.code).toBe('part-digest-mismatch');
    expect(error.retryable).toBe(false);
    expect((error.details as { cause: string }).cause).toBe('image-sha256-mismatch');
    const clock = new VirtualClock(0);
    const boot = await drive(clock, s.device.powerOn(clock));
    expect([boot.main.version, boot.main.trial, boot.wifi?.version, boot.wifi?.trial]).toEqual(['1.0.0', false, '1.0.0', false]);
  });
});
