import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { uniformGeometry } from '../../hal/flash.js';
import { SimFlash } from '../../hal/sim/sim-flash.js';
import { CUT_MODES } from '../../hal/sim/faults.js';
import { Journal } from '../../src/agent/journal.js';
import { asciiToBytes, bytesToAscii } from '../../src/util/bytes.js';

function record(n: number): Uint8Array {
  return asciiToBytes('{"n":' + n + ',"pad":"' + 'x'.repeat(n % 37) + '"}');
}

describe('Journal', () => {
  it('returns null on blank flash and the newest record after many appends across rotations', async () => {
    const flash = new SimFlash(uniformGeometry(512, 2, 8, 0xff));
    const journal = new Journal(flash);
    expect(await journal.load()).toBeNull();
    for (let i = 1; i <= 100; i++) await journal.append(record(i));
    const fresh = new Journal(flash);
    expect(bytesToAscii((await fresh.load())!, 0, record(100).length)).toBe(bytesToAscii(record(100), 0, record(100).length));
    // Wear: ~one erase per bank-full of records, not one per record.
    expect(journal.stats().erases).toBeLessThan(100 / 5);
    expect(journal.stats().erases).toBeGreaterThan(1);
  });

  it('works with erase value 0x00 and non-uniform sectors', async () => {
    const flash = new SimFlash({ sectors: [{ offset: 0, size: 256 }, { offset: 256, size: 1024 }], writeAlign: 4, eraseValue: 0x00 });
    const journal = new Journal(flash);
    for (let i = 1; i <= 30; i++) await journal.append(record(i));
    expect(bytesToAscii((await new Journal(flash).load())!, 0, 100)).toContain('"n":30');
  });

  it('refuses a record larger than a bank', async () => {
    const flash = new SimFlash(uniformGeometry(128, 2, 4, 0xff));
    await expect(new Journal(flash).append(new Uint8Array(200))).rejects.toMatchObject({ code: 'journal-record-too-large' });
  });

  it('survives a power cut at every mutating operation in every cut mode: the answer is the old or the new record', async () => {
    const modes = CUT_MODES;
    let checked = 0;
    for (const mode of modes) {
      // Count the operations of a fault-free run of 40 appends.
      const probe = new SimFlash(uniformGeometry(256, 2, 4, 0xff));
      const pj = new Journal(probe);
      for (let i = 1; i <= 40; i++) await pj.append(record(i));
      const total = probe.ops;
      for (let cut = 0; cut < total; cut++) {
        const flash = new SimFlash(uniformGeometry(256, 2, 4, 0xff), { seed: cut + 1 });
        flash.armCut({ op: cut, mode });
        const journal = new Journal(flash);
        let lastDone = 0;
        let cutHappened = false;
        for (let i = 1; i <= 40; i++) {
          try {
            await journal.append(record(i));
            lastDone = i;
          } catch {
            cutHappened = true;
            break;
          }
        }
        expect(cutHappened, `mode ${mode} cut ${cut}`).toBe(true);
        flash.powerCycle();
        const reloaded = new Journal(flash);
        const got = await reloaded.load();
        const text = got === null ? 'null' : bytesToAscii(got, 0, got.length);
        const okOld = lastDone === 0 ? got === null : text === bytesToAscii(record(lastDone), 0, record(lastDone).length);
        const okNew = text === bytesToAscii(record(lastDone + 1), 0, record(lastDone + 1).length);
        expect(okOld || okNew, `replay: mode=${mode} cut=${cut} lastDone=${lastDone} got=${text}`).toBe(true);
        // And it keeps working after the cut.
        await reloaded.append(record(99));
        expect(bytesToAscii((await new Journal(flash).load())!, 0, 9)).toContain('"n":99');
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(100);
  });

  it('property: any sequence of appends reads back the last one (seeded)', async () => {
    await fc.assert(fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 120 }), { minLength: 1, maxLength: 60 }), async (sizes) => {
      const flash = new SimFlash(uniformGeometry(512, 2, 16, 0xff));
      const journal = new Journal(flash);
      for (const size of sizes) await journal.append(new Uint8Array(size).fill(size & 0xff));
      const got = await new Journal(flash).load();
      const last = sizes[sizes.length - 1];
      expect(got!.length).toBe(last);
      expect(got!.every((b) => b === (last & 0xff))).toBe(true);
    }), { seed: 6, numRuns: 60 });
  });
});
