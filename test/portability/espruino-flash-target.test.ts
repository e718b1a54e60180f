// The Flash region and its target against a fake require("Flash"): confinement to Flash.getFree(), erase before
// write per page, read-back of every chunk, and whole-image verification.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { EspruinoFlash } from '../../src/espruino/flash.js';
import { FlashRegionTarget } from '../../src/espruino/flash-target.js';
import { portableHashes } from '../../src/integrity/sha256.js';
import { crc32 } from '../../src/integrity/crc32.js';
import type { ImagePart } from '../../hal/image-target.js';
import { FakeCrypto, FakeFlashModule, fakeE, fakeRuntime } from './fakes/espruino-fakes.js';

const BASE = 0x08000000;
const PAGE = 2048;
// 64 KiB of flash; the free area is pages 8..31 (the rest stands for firmware and Storage).
const FREE = { addr: BASE + 8 * PAGE, length: 24 * PAGE };

function setup() {
  const module = new FakeFlashModule(BASE, 32 * PAGE, PAGE, [FREE]);
  const crypto = new FakeCrypto(true);
  const runtime = fakeRuntime({ Flash: module, crypto }, fakeE((addr, length) => module.area(addr, length)));
  const flash = new EspruinoFlash({ start: BASE + 10 * PAGE, length: 8 * PAGE, runtime });
  return { module, crypto, runtime, flash };
}

function image(size: number): Uint8Array {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (i * 13 + 5) & 0xff;
  return data;
}

function partOf(data: Uint8Array): ImagePart {
  return { size: data.length, version: '1.4.0', sha256: new Uint8Array(createHash('sha256').update(data).digest()), crc32: crc32(data) };
}

async function writeAll(target: FlashRegionTarget, data: Uint8Array, from: number, chunk: number): Promise<number> {
  const writer = await target.begin(partOf(data), from);
  for (let i = from; i < data.length; i += chunk) await writer.write(new Uint8Array(data.subarray(i, Math.min(i + chunk, data.length))));
  await writer.finish();
  return writer.durableOffset();
}

describe('EspruinoFlash', () => {
  it('maps a region inside Flash.getFree() page by page', () => {
    const { flash } = setup();
    expect(flash.geometry.sectors).toHaveLength(8);
    expect(flash.geometry.sectors[1]).toEqual({ offset: PAGE, size: PAGE });
    expect(flash.regionSize()).toBe(8 * PAGE);
  });

  it('refuses a region outside the free area or off page boundaries', () => {
    const { runtime } = setup();
    expect(() => new EspruinoFlash({ start: BASE, length: PAGE, runtime })).toThrow(expect.objectContaining({ code: 'flash-region-not-free' }));
    expect(() => new EspruinoFlash({ start: BASE + 30 * PAGE, length: 4 * PAGE, runtime })).toThrow(expect.objectContaining({ code: 'flash-region-not-free' }));
    expect(() => new EspruinoFlash({ start: BASE + 10 * PAGE + 4, length: PAGE, runtime })).toThrow(expect.objectContaining({ code: 'flash-region-unaligned' }));
  });

  it('keeps reads, writes and erases inside the region', async () => {
    const { flash } = setup();
    await expect(flash.read(8 * PAGE - 2, 4)).rejects.toMatchObject({ code: 'flash-out-of-range' });
    await expect(flash.write(-4, new Uint8Array(4))).rejects.toMatchObject({ code: 'flash-out-of-range' });
    await expect(flash.erase(PAGE / 2, PAGE)).rejects.toMatchObject({ code: 'flash-erase-unaligned' });
  });
});

describe('FlashRegionTarget', () => {
  it('erases each page once just before its first write, touches nothing outside the region, and verifies by reading back', async () => {
    const { module, flash } = setup();
    const outside = new Uint8Array(module.memory);
    const target = new FlashRegionTarget({ softwareType: 'wifi-fw', flash, hashes: portableHashes });
    const data = image(5 * PAGE + 300);
    expect(await writeAll(target, data, 0, 536)).toBe(data.length);
    expect([...module.erases.keys()].map((a) => (a - BASE) / PAGE)).toEqual([10, 11, 12, 13, 14, 15]);
    expect([...module.erases.values()].every((n) => n === 1)).toBe(true);
    expect(Buffer.from(module.read(data.length, BASE + 10 * PAGE)).equals(Buffer.from(data))).toBe(true);
    expect(Buffer.from(module.memory.subarray(0, 10 * PAGE)).equals(Buffer.from(outside.subarray(0, 10 * PAGE)))).toBe(true);
    expect(Buffer.from(module.memory.subarray(18 * PAGE)).equals(Buffer.from(outside.subarray(18 * PAGE)))).toBe(true);
    await target.activate();
  });

  it('hashes memory-mapped flash in place with the one-shot crypto.SHA256', async () => {
    const { flash, crypto } = setup();
    const target = new FlashRegionTarget({ softwareType: 'wifi-fw', flash, memoryMapped: true });
    await writeAll(target, image(3000), 0, 1000);
    expect(crypto.inputs).toHaveLength(1);
    expect((crypto.inputs[0] as string).length).toBe(3000);
  });

  it('fails a chunk whose write was silently dropped (read-back), and a corrupted image at finish', async () => {
    const { module, flash } = setup();
    const target = new FlashRegionTarget({ softwareType: 'wifi-fw', flash, hashes: portableHashes });
    const data = image(2 * PAGE);
    module.dropWriteAt = BASE + 10 * PAGE + 600;
    const writer = await target.begin(partOf(data), 0);
    await writer.write(new Uint8Array(data.subarray(0, 512)));
    await expect(writer.write(new Uint8Array(data.subarray(512, 1024)))).rejects.toMatchObject({ code: 'flash-verify-failed' });
    expect(writer.durableOffset()).toBe(512);

    const again = await target.begin(partOf(data), 0);
    await again.write(data);
    module.memory[10 * PAGE + 100] ^= 0x01;
    await expect(again.finish()).rejects.toMatchObject({ code: 'image-crc-mismatch' });
    await expect(target.activate()).rejects.toMatchObject({ code: 'image-not-verified' });
  });

  it('resumes mid-page without erasing the written part, and refuses when the rest of that page is programmed', async () => {
    const { module, flash } = setup();
    const target = new FlashRegionTarget({ softwareType: 'wifi-fw', flash, hashes: portableHashes });
    const data = image(3 * PAGE);
    const first = await target.begin(partOf(data), 0);
    await first.write(new Uint8Array(data.subarray(0, PAGE + 700)));
    module.erases.clear();
    expect(await writeAll(target, data, first.durableOffset(), 512)).toBe(data.length);
    expect([...module.erases.keys()].map((a) => (a - BASE) / PAGE)).toEqual([12]);
    module.memory[10 * PAGE + PAGE + 900] = 0;
    await expect(target.begin(partOf(data), PAGE + 800)).rejects.toMatchObject({ code: 'flash-resume-lost' });
  });

  it('waits for the consumer hooks, and a hook that fails or throws makes activate()/confirm() reject, never throw', async () => {
    const { flash } = setup();
    const order: string[] = [];
    const target = new FlashRegionTarget({ softwareType: 'wifi-fw', flash, hashes: portableHashes,
      onActivate: (version) => new Promise<void>((resolve) => setTimeout(() => { order.push('activated ' + version); resolve(); }, 5)),
      onConfirm: () => { throw Object.assign(new Error('co-processor did not answer'), { code: 'co-silent' }); } });
    await writeAll(target, image(700), 0, 700);
    await target.activate().then(() => order.push('activate resolved'));
    expect(order).toEqual(['activated 1.4.0', 'activate resolved']);
    let threw: unknown = null;
    let outcome: Promise<void> | null = null;
    try {
      outcome = target.confirm();
    } catch (error) {
      threw = error;
    }
    expect(threw).toBeNull();
    await expect(outcome).rejects.toMatchObject({ code: 'co-silent' });
  });

  it('refuses an image larger than the region and one it cannot hash', async () => {
    const { flash } = setup();
    const target = new FlashRegionTarget({ softwareType: 'wifi-fw', flash });
    await expect(target.begin(partOf(image(9 * PAGE)), 0)).rejects.toMatchObject({ code: 'image-too-large' });
    await expect(writeAll(target, image(100), 0, 100)).rejects.toMatchObject({ code: 'sha256-unavailable' });
  });
});
