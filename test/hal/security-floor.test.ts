import { describe, expect, it } from 'vitest';
import type { BootRecord } from '../../hal/boot-record.js';
import { BOOT_RECORD_LENGTH, EXTENDED_RECORD_LENGTH, bootRecordProblem, decodeBootRecord, emptyEntry, encodeBootRecord,
  paddedExtendedLength, paddedRecordLength, recordFloor } from '../../hal/boot-record.js';
import { Slots } from '../../hal/slots.js';
import { uniformGeometry } from '../../hal/flash.js';
import { CUT_MODES } from '../../hal/sim/faults.js';
import { SimFlash } from '../../hal/sim/sim-flash.js';
import { crc32 } from '../../src/integrity/crc32.js';
import { code } from './helpers.js';

// The anti-rollback floor in the boot record: old records read as floor 0, the extension is covered by its own CRC
// and announced by a flag the base CRC covers, the floor rises only when a tagged image is confirmed, and a power cut
// anywhere in that record write leaves the old or the new floor.

const image = (version: string) => ({ size: 100, crc32: 5, sha256: new Uint8Array(32).fill(1), version, softwareType: 'main' });

function factory(): BootRecord {
  const r: BootRecord = { seq: 1, boot: 0, slots: [emptyEntry(), emptyEntry()] };
  r.slots[0] = { ...image('1.0.0'), state: 'confirmed', attempts: 0 };
  return r;
}

function extended(): BootRecord {
  const r = factory();
  r.seq = 9;
  r.floor = 5;
  r.slots[1] = { ...image('2.0.0'), state: 'trial', attempts: 2, sequence: 7 };
  return r;
}

/** A pair whose slot 1 runs `version` as a trial tagged with `sequence` (the floor is still `floor`). */
async function trialTagged(flash: SimFlash, sequence: number, floor = 0): Promise<Slots> {
  const slots = new Slots(flash);
  const start = factory();
  if (floor > 0) {
    start.floor = floor;
    start.slots[0].sequence = floor;
  }
  await slots.format(start);
  await slots.invalidate(1, { size: 100, version: '2.0.0', softwareType: 'main' });
  await slots.stage(1, image('2.0.0'));
  await slots.tagSequence(1, sequence);
  await slots.markPending(1);
  await slots.spendAttempt(1);
  return slots;
}

describe('boot record anti-rollback extension', () => {
  it('a record without sequences is a format-1 record byte for byte, and a format-1 record reads as floor 0', () => {
    const bytes = encodeBootRecord(factory(), 8, 0xff);
    expect(bytes.length).toBe(paddedRecordLength(8));
    expect(bytes[4]).toBe(1);
    expect(bytes[13]).toBe(0);
    expect(new DataView(bytes.buffer).getUint16(6, true)).toBe(BOOT_RECORD_LENGTH);
    const decoded = decodeBootRecord(bytes) as BootRecord;
    expect(decoded).toEqual(factory());
    expect(recordFloor(decoded)).toBe(0);
    expect(decoded.slots[0].sequence).toBeUndefined();
    // Read as a copy is read: with the erased bytes after it, where the extension would be.
    const copy = new Uint8Array(paddedExtendedLength(8)).fill(0xff);
    copy.set(bytes);
    expect(recordFloor(decodeBootRecord(copy) as BootRecord)).toBe(0);
  });

  it('an extended record round-trips and still carries a valid format-1 base (an older reader sees the same slots)', () => {
    for (const align of [1, 4, 8, 32, 256]) {
      for (const erase of [0xff, 0x00]) {
        const bytes = encodeBootRecord(extended(), align, erase);
        expect(bytes.length).toBe(paddedExtendedLength(align));
        for (let i = EXTENDED_RECORD_LENGTH; i < bytes.length; i++) expect(bytes[i]).toBe(erase);
        expect(decodeBootRecord(bytes)).toEqual(extended());
        const view = new DataView(bytes.buffer);
        expect(bytes[4]).toBe(1);
        expect(view.getUint16(6, true)).toBe(BOOT_RECORD_LENGTH);
        expect(view.getUint32(200, true)).toBe(crc32(bytes.subarray(0, 200)));
        expect(bytes[13]).toBe(1);
        expect(view.getUint32(204, true)).toBe(5);
        expect(view.getUint32(208, true)).toBe(0);
        expect(view.getUint32(212, true)).toBe(7);
        expect(view.getUint32(216, true)).toBe(crc32(bytes.subarray(0, 216)));
      }
    }
  });

  it('rejects every torn prefix and every single-bit flip of an extended record, the extension included', () => {
    const bytes = encodeBootRecord(extended(), 1, 0xff);
    for (let cut = 0; cut < EXTENDED_RECORD_LENGTH; cut++) {
      const torn = new Uint8Array(bytes);
      torn.fill(0xff, cut);
      expect(bootRecordProblem(torn), `cut at ${cut}`).not.toBeNull();
    }
    for (let bit = 0; bit < EXTENDED_RECORD_LENGTH * 8; bit++) {
      const flipped = new Uint8Array(bytes);
      flipped[bit >> 3] ^= 1 << (bit & 7);
      expect(decodeBootRecord(flipped), `bit ${bit}`).toBeNull();
    }
    // A flag the base CRC covers but no room for the extension, and unknown flags, are refused too.
    expect(bootRecordProblem(bytes.subarray(0, BOOT_RECORD_LENGTH))).toMatch(/too short/);
    const flags = encodeBootRecord(factory(), 1, 0xff);
    flags[13] = 2;
    new DataView(flags.buffer).setUint32(200, crc32(flags.subarray(0, 200)), true);
    expect(bootRecordProblem(flags)).toMatch(/unknown flags/);
  });

  it('refuses counters that do not fit 32 bits instead of wrapping them', () => {
    const r = factory();
    r.floor = 2 ** 32;
    expect(() => encodeBootRecord(r, 1, 0xff)).toThrow(/security floor/);
    const s = factory();
    s.slots[0].sequence = -1;
    expect(() => encodeBootRecord(s, 1, 0xff)).toThrow(/bundle sequence/);
  });
});

describe('Slots security floor', () => {
  it('an area holding only format-1 records loads with floor 0; the first tagged confirm upgrades it, the older copy still decoding', async () => {
    const flash = new SimFlash(uniformGeometry(512, 2, 8, 0xff));
    const old = factory();
    old.boot = 1;
    old.slots[1] = { ...image('2.0.0'), state: 'trial', attempts: 2 };
    const older = factory();
    await flash.write(0, encodeBootRecord(older, 8, 0xff)); // copy 0, seq 1
    old.seq = 2;
    await flash.write(512, encodeBootRecord(old, 8, 0xff)); // copy 1, seq 2: written by code without the extension
    const slots = new Slots(flash);
    expect(await slots.load()).toEqual(old);
    expect(slots.floor()).toBe(0);
    await slots.confirm(1);
    expect(slots.floor()).toBe(0); // an untagged image (a raw image, or one from before) does not move the floor
    const next = new Slots(flash);
    await next.load();
    expect(next.winningCopy()).toBe(0);
    expect(next.record()?.slots[1].state).toBe('confirmed');
    // The copy it did not overwrite is still a valid format-1 record.
    expect(decodeBootRecord(await flash.read(512, paddedExtendedLength(8)))).toEqual(old);
  });

  it('confirming a tagged trial raises the floor in the same record write; a fresh reader sees it', async () => {
    const flash = new SimFlash(uniformGeometry(512, 2, 8, 0xff));
    const slots = await trialTagged(flash, 5);
    expect(slots.floor()).toBe(0);
    expect(slots.entry(1).sequence).toBe(5);
    const before = flash.ops;
    await slots.confirm(1);
    expect(flash.ops - before).toBe(2); // erase the other copy, program it: one record write, no extra one for the floor
    expect(slots.floor()).toBe(5);
    const fresh = new Slots(flash);
    const r = await fresh.load();
    expect(r?.floor).toBe(5);
    expect(r?.slots[1].state).toBe('confirmed');
    expect(fresh.floor()).toBe(5);
  });

  it('a reverted trial (by the application or by the bootloader running out of attempts) does not raise the floor', async () => {
    const byApp = new SimFlash(uniformGeometry(512, 2, 8, 0xff));
    const app = await trialTagged(byApp, 9, 4);
    await app.revert();
    const a = new Slots(byApp);
    expect((await a.load())?.slots[1].state).toBe('rejected');
    expect(a.floor()).toBe(4);

    const byLoader = new SimFlash(uniformGeometry(512, 2, 8, 0xff));
    const loader = await trialTagged(byLoader, 9, 4);
    while (loader.entry(1).attempts > 0) await loader.spendAttempt(1);
    await loader.reject(1);
    const b = new Slots(byLoader);
    await b.load();
    expect(b.floor()).toBe(4);
    expect(b.running()).toBe(0);
    expect(await code(b.confirm(1))).toBe('running-slot-mismatch');
    expect(b.floor()).toBe(4);
  });

  it('the floor never goes down: confirming an image tagged lower keeps it, later records carry it on', async () => {
    const flash = new SimFlash(uniformGeometry(512, 2, 8, 0xff));
    const slots = await trialTagged(flash, 3, 6);
    await slots.confirm(1);
    expect(slots.floor()).toBe(6);
    await slots.invalidate(0, { size: 100, version: '3.0.0', softwareType: 'main' });
    await slots.stage(0, image('3.0.0'));
    expect(slots.floor()).toBe(6);
    expect((await new Slots(flash).load())?.floor).toBe(6);
  });

  it('tags only a staged image; the same tag again writes nothing', async () => {
    const flash = new SimFlash(uniformGeometry(512, 2, 8, 0xff));
    const slots = new Slots(flash);
    await slots.format(factory());
    expect(await code(slots.tagSequence(1, 5))).toBe('slot-state');
    await slots.invalidate(1, { size: 100, version: '2.0.0', softwareType: 'main' });
    expect(await code(slots.tagSequence(1, 5))).toBe('slot-state');
    await slots.stage(1, image('2.0.0'));
    await slots.tagSequence(1, 5);
    const ops = flash.ops;
    await slots.tagSequence(1, 5);
    expect(flash.ops).toBe(ops);
    expect(await code(slots.tagSequence(1, 2 ** 32))).toBe('record-counter-invalid');
    expect((await new Slots(flash).load())?.slots[1].sequence).toBe(5);
  });

  it('a power cut at every operation of the confirming write, in every cut mode, leaves the old or the new floor', async () => {
    let cases = 0;
    for (const align of [1, 8]) {
      for (const mode of CUT_MODES) {
        for (let seed = 1; seed <= (mode === 'before' || mode === 'after' ? 1 : 6); seed++) {
          for (let k = 0; ; k++) {
            const flash = new SimFlash(uniformGeometry(512, 2, align, 0xff), { seed });
            await trialTagged(flash, 8, 3);
            // A fresh power cycle: the application's Slots loads, settles and confirms, as after a trial boot.
            flash.powerCycle();
            const app = new Slots(flash);
            await app.load();
            flash.armCut({ op: flash.ops + k, mode, seed });
            const outcome = await code(app.confirm(1));
            flash.powerCycle();
            if (outcome === 'ok') break; // k is past the last operation of the write
            expect(outcome, `align ${align} ${mode} seed ${seed} op +${k}`).toBe('power-cut');
            cases++;
            // Torn cells may read differently each time: every read must still be one of the two states.
            for (let read = 0; read < 8; read++) {
              const r = await new Slots(flash).load();
              const where = `align ${align} ${mode} seed ${seed} op +${k} read ${read}`;
              expect(r, where).not.toBeNull();
              const state = (r as BootRecord).slots[1].state;
              const floor = recordFloor(r as BootRecord);
              if (state === 'trial') expect(floor, where).toBe(3);
              else expect([state, floor], where).toEqual(['confirmed', 8]);
            }
            // And once a reader settles what it read, the device can confirm and ends with the new floor.
            const again = new Slots(flash);
            await again.load();
            await again.confirm();
            expect(again.floor()).toBe(8);
          }
        }
      }
    }
    expect(cases).toBeGreaterThan(20);
  });
});
