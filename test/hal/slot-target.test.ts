import { describe, expect, it } from 'vitest';
import { buildFirmwareImage } from '../../hal/sim/firmware-image.js';
import { SimFlash } from '../../hal/sim/sim-flash.js';
import { Slots } from '../../hal/slots.js';
import { SlotTarget } from '../../hal/slot-target.js';
import { uniformGeometry, FlashArea } from '../../hal/flash.js';
import { crc32 } from '../../src/integrity/crc32.js';
import { portableHashes } from '../../src/integrity/sha256.js';
import { code, device, sha256, stage } from './helpers.js';
import { SimMcu } from '../../hal/sim/sim-mcu.js';
import { presetGeometry } from '../../hal/sim/geometries.js';
import { nativeBytesEqual } from '../../src/node/native-bytes.js';
import { nodeHashes } from '../../src/node/crypto.js';

const v1 = buildFirmwareImage({ version: '1.0.0', size: 9001 });
const v2 = buildFirmwareImage({ version: '2.0.0', size: 9333 });

/** `mcu` (by default a fresh device) provisioned with v1 and booted into it. */
async function bootedOnV1(mcu: SimMcu = device()): Promise<SimMcu> {
  await mcu.provision(v1, '1.0.0');
  await mcu.boot();
  return mcu;
}

describe('SlotTarget', () => {
  it('stages, activates and confirms; status follows the running slot record', async () => {
    const dev = await bootedOnV1();
    const t = dev.target();
    expect(await t.status()).toEqual({ softwareType: 'main-mcu', runningVersion: '1.0.0', trial: false });
    expect(t.capacity()).toBe(4 * 4096);
    expect(await t.stagingSlot()).toBe(1);
    await stage(t, v2, '2.0.0', 777);
    expect(t.slots.entry(1)).toMatchObject({ state: 'staged', size: v2.length, crc32: crc32(v2), version: '2.0.0', softwareType: 'main-mcu' });
    expect(t.slots.entry(1).sha256).toEqual(sha256(v2));
    await t.activate();
    await t.activate(); // idempotent
    expect(await t.status()).toEqual({ softwareType: 'main-mcu', runningVersion: '1.0.0', trial: false });
    const boot = await dev.boot();
    expect(boot).toMatchObject({ slot: 1, version: '2.0.0', trial: true });
    expect(await dev.target().status()).toEqual({ softwareType: 'main-mcu', runningVersion: '2.0.0', trial: true });
    await dev.target().confirm();
    expect(await dev.target().status()).toMatchObject({ runningVersion: '2.0.0', trial: false });
    expect((await dev.boot()).trial).toBe(false);
  });

  it('programs whole units only and pads the last one with the erase value, for every alignment and erase value', async () => {
    for (const align of [1, 4, 8, 16, 32]) {
      for (const erase of [0xff, 0x00]) {
        const dev = device('pages-512', align, erase);
        await dev.provision(v1.subarray(0, 2000), '1.0.0');
        await dev.boot();
        const img = buildFirmwareImage({ version: '2.0.0', size: 2003 });
        await stage(dev.target(), img, '2.0.0', 7);
        const slot = dev.layout.slots[1];
        const padded = Math.ceil(2003 / align) * align;
        expect((dev.flash as SimFlash).peek(slot.offset, 2003)).toEqual(img);
        expect((dev.flash as SimFlash).peek(slot.offset + 2003, padded - 2003)).toEqual(new Uint8Array(padded - 2003).fill(erase));
        expect((dev.flash as SimFlash).isProgrammed(slot.offset + padded)).toBe(false);
      }
    }
  });

  it('erases each sector as the writer reaches it and reports durable bytes per verified sector', async () => {
    const dev = await bootedOnV1();
    const flash = dev.flash as SimFlash;
    const t = dev.target();
    const writer = await t.begin({ size: v2.length, version: '2.0.0' }, 0);
    const before = flash.eraseCounts();
    const durable: number[] = [];
    for (let at = 0; at < v2.length; at += 1000) {
      await writer.write(v2.subarray(at, Math.min(at + 1000, v2.length)));
      durable.push(writer.durableOffset());
    }
    expect(durable).toEqual([0, 0, 0, 0, 4096, 4096, 4096, 4096, 8192, 8192]);
    const erased = flash.eraseCounts().map((n, i) => n - before[i]);
    expect(erased).toEqual([0, 0, 0, 0, 0, 0, 1, 1, 1, 0]);
    await writer.finish();
    expect(writer.durableOffset()).toBe(v2.length);
  });

  it('resumes at a durable offset after a power cut: re-erases that sector and finishes a byte-exact image', async () => {
    const dev = await bootedOnV1();
    const flash = dev.flash as SimFlash;
    const writer = await dev.target().begin({ size: v2.length, version: '2.0.0', sha256: sha256(v2) }, 0);
    let durable = 0;
    flash.armCut({ op: flash.ops + 8, mode: 'torn-unstable' }); // the sixth chunk, inside sector 1
    try {
      for (let at = 0; at < v2.length; at += 1000) {
        await writer.write(v2.subarray(at, Math.min(at + 1000, v2.length)));
        durable = writer.durableOffset();
      }
    } catch (e) {
      expect((e as { code: string }).code).toBe('power-cut');
    }
    expect(durable).toBe(4096);
    await dev.boot();
    const t = dev.target();
    const before = flash.eraseCounts();
    await stage(t, v2, '2.0.0', 1000, durable);
    // Record copy 0 once (the staged record); slot B: sector 1 again (it held the torn tail), then sector 2.
    expect(flash.eraseCounts().map((n, i) => n - before[i])).toEqual([1, 0, 0, 0, 0, 0, 0, 1, 1, 0]);
    expect(flash.peek(dev.layout.slots[1].offset, v2.length)).toEqual(v2);
    await t.activate();
    expect((await dev.boot()).version).toBe('2.0.0');
  });

  it('refuses resumes it cannot do safely', async () => {
    const dev = await bootedOnV1();
    const t = dev.target();
    const part = { size: v2.length, version: '2.0.0' };
    expect(await code(t.begin(part, 100))).toBe('resume-unaligned');
    expect(await code(t.begin(part, 4096))).toBe('resume-mismatch'); // nothing is being written
    await t.begin(part, 0);
    expect(await code(t.begin({ size: v2.length, version: '2.0.1' }, 4096))).toBe('resume-mismatch');
    expect(await code(t.begin({ size: v2.length + 1, version: '2.0.0' }, 4096))).toBe('resume-mismatch');
    expect(await code(t.begin(part, 4096))).toBe('ok');
    expect(await code(t.begin({ size: 1 << 20, version: '9' }, 0))).toBe('image-too-large');
  });

  it('a resume of an image already recorded staged re-verifies it (at the end) or re-marks it writing (inside)', async () => {
    const dev = await bootedOnV1();
    const flash = dev.flash as SimFlash;
    const t = dev.target();
    await stage(t, v2, '2.0.0');
    const seq = t.slots.record()!.seq;
    const ops = flash.ops;
    const atEnd = await t.begin({ size: v2.length, version: '2.0.0', sha256: sha256(v2) }, v2.length);
    await atEnd.finish();
    expect(t.slots.record()!.seq).toBe(seq); // nothing rewritten
    expect(flash.ops - ops).toBe(0); // read back only: the record is already durable this power cycle
    const inside = await t.begin({ size: v2.length, version: '2.0.0', sha256: sha256(v2) }, 4096);
    expect(t.slots.entry(1).state).toBe('writing');
    for (let at = 4096; at < v2.length; at += 1000) await inside.write(v2.subarray(at, Math.min(at + 1000, v2.length)));
    await inside.finish();
    expect(t.slots.entry(1).state).toBe('staged');
    await t.activate();
    expect((await dev.boot()).version).toBe('2.0.0');
  });

  it('rejects wrong sizes and digests and never records such an image staged', async () => {
    const dev = await bootedOnV1();
    const t = dev.target();
    const tooMuch = await t.begin({ size: 10, version: '2' }, 0);
    expect(await code(tooMuch.write(new Uint8Array(11)))).toBe('image-too-large');
    const short = await t.begin({ size: 10, version: '2' }, 0);
    await short.write(new Uint8Array(9));
    expect(await code(short.finish())).toBe('image-incomplete');
    const wrongSha = await t.begin({ size: v2.length, version: '2', sha256: sha256(v1) }, 0);
    await wrongSha.write(v2);
    expect(await code(wrongSha.finish())).toBe('image-sha256-mismatch');
    expect(wrongSha.durableOffset()).toBe(0); // a resume must start over
    expect(await code(wrongSha.finish())).toBe('writer-failed');
    expect(await code(wrongSha.write(new Uint8Array(1)))).toBe('writer-failed');
    expect(t.slots.entry(1).state).toBe('writing');
    const wrongCrc = await t.begin({ size: v2.length, version: '2', crc32: crc32(v2) ^ 1 }, 0);
    await wrongCrc.write(v2);
    expect(await code(wrongCrc.finish())).toBe('image-crc-mismatch');
    expect(await code(t.activate())).toBe('nothing-staged');
    expect(await code(t.begin({ size: 1, version: 'é' }, 0))).toBe('record-text-invalid');
  });

  it('detects a write that reads back differently (a dropped write) before counting it durable, with either compare', async () => {
    for (const equal of [undefined, nativeBytesEqual]) {
      const flash = new SimFlash(presetGeometry('uniform-4k', 4, 0xff));
      const dev = await bootedOnV1(new SimMcu({ flash, softwareType: 'main-mcu', hashes: nodeHashes, equal }));
      const t = dev.target();
      await t.slots.load();
      const writer = await t.begin({ size: v2.length, version: '2.0.0' }, 0);
      flash.faults.silent.push({ op: flash.ops + 2, kind: 'drop-write' }); // erase, write, write(dropped)
      await writer.write(v2.subarray(0, 1000));
      expect(await code(writer.write(v2.subarray(1000, 5000)))).toBe('flash-verify-failed');
      expect(writer.durableOffset()).toBe(0);
      expect(await code(writer.finish())).toBe('writer-failed');
    }
  });

  it('a bad region or a worn sector in the staging slot fails the update and leaves the running image bootable', async () => {
    for (const fault of ['bad-region', 'worn'] as const) {
      const dev = await bootedOnV1();
      const flash = dev.flash as SimFlash;
      const slotB = dev.layout.slots[1].offset;
      if (fault === 'bad-region') flash.faults.badRegions.push({ offset: slotB + 5000, length: 8 });
      if (fault === 'worn') {
        flash.faults.wearLimit = 2; // record copies have 1 erase each; slot B's second sector reaches 2 here
        await flash.erase(slotB + 4096, 4096);
        await flash.erase(slotB + 4096, 4096);
      }
      const failed = await code(stage(dev.target(), v2, '2.0.0'));
      expect(failed).toBe(fault === 'bad-region' ? 'flash-bad-region' : 'flash-worn-out');
      expect(dev.target().slots.entry(1).state).toBe('writing');
      expect(await code(dev.target().activate())).toBe('nothing-staged');
      expect(await dev.boot()).toMatchObject({ version: '1.0.0', trial: false });
    }
  });

  it('refuses a new image while the running one is an unconfirmed trial', async () => {
    const dev = await bootedOnV1();
    await stage(dev.target(), v2, '2.0.0');
    await dev.target().activate();
    await dev.boot();
    expect(await code(dev.target().begin({ size: 100, version: '3.0.0' }, 0))).toBe('fallback-needed');
    await dev.target().revert();
    const boot = await dev.boot();
    expect(boot.version).toBe('1.0.0');
    expect(await code(dev.target().begin({ size: 100, version: '3.0.0' }, 0))).toBe('ok');
  });

  it('confirm() refuses when the records disagree with the slot the bootloader started', async () => {
    const dev = await bootedOnV1();
    await stage(dev.target(), v2, '2.0.0');
    await dev.target().activate();
    await dev.boot();
    const wrong = new SlotTarget({ softwareType: 'main-mcu', slots: new Slots(dev.layout.records), images: dev.layout.slots,
      hashes: dev.target().hashes, runningSlot: 0 });
    expect(await code(wrong.confirm())).toBe('running-slot-mismatch');
    expect(dev.target().runningSlot).toBe(1);
    await dev.target().confirm();
    expect(dev.target().slots.entry(1).state).toBe('confirmed');
  });

  it('works with the portable SHA-256 over plain flash areas', async () => {
    const flash = new SimFlash(uniformGeometry(1024, 8, 8, 0xff));
    const slots = new Slots(new FlashArea(flash, 0, 2048, 'records'));
    const t = new SlotTarget({ softwareType: 'wifi', slots, hashes: portableHashes,
      images: [new FlashArea(flash, 2048, 3072, 'a'), new FlashArea(flash, 5120, 3072, 'b')], readChunk: 256 });
    await stage(t, v1.subarray(0, 2500), '1.0.0', 300);
    expect(t.slots.entry(0)).toMatchObject({ state: 'staged', size: 2500, version: '1.0.0', softwareType: 'wifi' });
    expect(t.slots.entry(0).sha256).toEqual(sha256(v1.subarray(0, 2500)));
    expect(() => new SlotTarget({ softwareType: 'x'.repeat(17), slots, hashes: portableHashes, images: t['images'] })).toThrow();
  });
});
