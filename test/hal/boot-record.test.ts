import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { BootRecord, SlotState } from '../../hal/boot-record.js';
import { BOOT_RECORD_LENGTH, bootRecordProblem, decodeBootRecord, emptyEntry, encodeBootRecord, nextSeq,
  paddedRecordLength, seqNewer } from '../../hal/boot-record.js';
import { crc32 } from '../../src/integrity/crc32.js';

const STATES: SlotState[] = ['empty', 'writing', 'staged', 'pending', 'trial', 'confirmed', 'rejected'];

function sample(): BootRecord {
  const r: BootRecord = { seq: 7, boot: 1, slots: [emptyEntry(), emptyEntry()] };
  r.slots[0] = { state: 'confirmed', attempts: 0, size: 1234, crc32: 0xdeadbeef, sha256: new Uint8Array(32).fill(3),
    version: '1.0.0', softwareType: 'main-mcu' };
  r.slots[1] = { state: 'trial', attempts: 2, size: 99, crc32: 1, sha256: new Uint8Array(32).fill(9),
    version: '2.0.0-rc.1+build.5', softwareType: 'main-mcu' };
  return r;
}

const textArb = fc.string({ maxLength: 16 }).map((s) => s.replace(/[^\x20-\x7e]/g, 'x'));
const entryArb = fc.record({
  state: fc.constantFrom(...STATES), attempts: fc.nat(255), size: fc.nat(), crc32: fc.nat(), sha256: fc.uint8Array({ minLength: 32, maxLength: 32 }),
  version: textArb, softwareType: textArb,
});
const recordArb = fc.record({
  seq: fc.integer({ min: 1, max: 0xfffffffe }), boot: fc.constantFrom(-1, 0, 1), slots: fc.tuple(entryArb, entryArb).map((t) => [t[0], t[1]]),
});

describe('boot record codec', () => {
  it('round-trips any record for every write unit and erase value, padded with the erase value', () => {
    fc.assert(fc.property(recordArb, fc.constantFrom(1, 4, 8, 16, 32), fc.constantFrom(0xff, 0x00), (record, align, erase) => {
      const bytes = encodeBootRecord(record, align, erase);
      expect(bytes.length).toBe(paddedRecordLength(align));
      expect(bytes.length % align).toBe(0);
      for (let i = BOOT_RECORD_LENGTH; i < bytes.length; i++) expect(bytes[i]).toBe(erase);
      expect(decodeBootRecord(bytes)).toEqual(record);
    }), { seed: 3, numRuns: 300 });
  });

  it('has the documented layout', () => {
    const bytes = encodeBootRecord(sample(), 1, 0xff);
    const view = new DataView(bytes.buffer);
    expect(Array.from(bytes.subarray(0, 4))).toEqual([0x4f, 0x54, 0x41, 0x42]);
    expect(bytes[4]).toBe(1);
    expect(view.getUint32(8, true)).toBe(7);
    expect(bytes[12]).toBe(1);
    expect(bytes[16]).toBe(6); // slot 0 confirmed
    expect(view.getUint32(16 + 4, true)).toBe(1234);
    expect(view.getUint32(16 + 8, true)).toBe(0xdeadbeef);
    expect(bytes[108]).toBe(5); // slot 1 trial
    expect(bytes[109]).toBe(2);
    expect(view.getUint32(200, true)).toBe(crc32(bytes.subarray(0, 200)));
  });

  it('rejects erased, truncated and every single-bit-flipped record', () => {
    expect(decodeBootRecord(new Uint8Array(204).fill(0xff))).toBeNull();
    expect(decodeBootRecord(new Uint8Array(204))).toBeNull();
    const bytes = encodeBootRecord(sample(), 4, 0xff);
    expect(decodeBootRecord(bytes.subarray(0, 100))).toBeNull();
    for (let bit = 0; bit < BOOT_RECORD_LENGTH * 8; bit++) {
      const flipped = new Uint8Array(bytes);
      flipped[bit >> 3] ^= 1 << (bit & 7);
      expect(decodeBootRecord(flipped)).toBeNull();
    }
  });

  it('rejects a torn record: any prefix followed by erased bytes', () => {
    const bytes = encodeBootRecord(sample(), 1, 0xff);
    for (let cut = 0; cut < BOOT_RECORD_LENGTH; cut++) {
      const torn = new Uint8Array(bytes);
      torn.fill(0xff, cut);
      expect(bootRecordProblem(torn)).not.toBeNull();
    }
  });

  it('rejects the reserved sequence numbers and bad fields even with a correct CRC', () => {
    const fix = (b: Uint8Array): Uint8Array => {
      new DataView(b.buffer).setUint32(200, crc32(b.subarray(0, 200)), true);
      return b;
    };
    for (const seq of [0, 0xffffffff]) {
      const b = encodeBootRecord(sample(), 1, 0xff);
      new DataView(b.buffer).setUint32(8, seq, true);
      expect(bootRecordProblem(fix(b))).toBe('reserved sequence number');
    }
    const badState = encodeBootRecord(sample(), 1, 0xff);
    badState[16] = 9;
    expect(bootRecordProblem(fix(badState))).toMatch(/bad state/);
    const badBoot = encodeBootRecord(sample(), 1, 0xff);
    badBoot[12] = 2;
    expect(bootRecordProblem(fix(badBoot))).toMatch(/boot slot/);
    const badText = encodeBootRecord(sample(), 1, 0xff);
    badText[16 + 44] = 0x07;
    expect(bootRecordProblem(fix(badText))).toMatch(/bad text/);
  });

  it('refuses versions that do not fit instead of truncating them', () => {
    const r = sample();
    r.slots[1].version = 'x'.repeat(33);
    expect(() => encodeBootRecord(r, 1, 0xff)).toThrow();
    r.slots[1].version = 'é';
    expect(() => encodeBootRecord(r, 1, 0xff)).toThrow();
  });

  it('orders sequence numbers serially across the wrap and skips the reserved values', () => {
    expect(seqNewer(2, 1)).toBe(true);
    expect(seqNewer(1, 2)).toBe(false);
    expect(seqNewer(5, 5)).toBe(false);
    expect(seqNewer(1, 0xfffffffe)).toBe(true);
    expect(nextSeq(0xfffffffe)).toBe(1);
    expect(nextSeq(0xfffffffd)).toBe(0xfffffffe);
    expect(nextSeq(41)).toBe(42);
  });
});
