import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { SimFlash } from '../../hal/sim/sim-flash.js';
import { mixedGeometry, pages512Geometry, presetGeometry, stm32f4Geometry, uniform4kGeometry } from '../../hal/sim/geometries.js';
import { seedBadRegions } from '../../hal/sim/faults.js';
import { uniformGeometry, flashSize } from '../../hal/flash.js';
import type { OtaError } from '../../src/util/errors.js';

function code(p: Promise<unknown>): Promise<string> {
  return p.then(() => 'ok', (e: OtaError) => e.code);
}

function bytes(n: number, value: number): Uint8Array {
  return new Uint8Array(n).fill(value);
}

describe('SimFlash NOR semantics', () => {
  it('starts erased, programs with AND on 0xFF parts and OR on 0x00 parts', async () => {
    const ff = new SimFlash(uniformGeometry(64, 2, 1, 0xff), { strict: false });
    expect(await ff.read(0, 4)).toEqual(bytes(4, 0xff));
    await ff.write(0, Uint8Array.of(0xf0, 0x0f));
    await ff.write(0, Uint8Array.of(0x3c, 0xff));
    expect(await ff.read(0, 2)).toEqual(Uint8Array.of(0x30, 0x0f));
    const zero = new SimFlash(uniformGeometry(64, 2, 1, 0x00), { strict: false });
    expect(await zero.read(0, 2)).toEqual(bytes(2, 0));
    await zero.write(0, Uint8Array.of(0xf0, 0x01));
    await zero.write(0, Uint8Array.of(0x0c, 0x02));
    expect(await zero.read(0, 2)).toEqual(Uint8Array.of(0xfc, 0x03));
  });

  it('erase restores the erase value of whole sectors only and counts wear per sector', async () => {
    const flash = new SimFlash(mixedGeometry([16, 32, 16], 4, 0xff));
    await flash.write(0, bytes(64, 0));
    await flash.erase(16, 32);
    expect(await flash.read(0, 64)).toEqual(Uint8Array.from([...bytes(16, 0), ...bytes(32, 0xff), ...bytes(16, 0)]));
    expect(flash.eraseCounts()).toEqual([0, 1, 0]);
    expect(await code(flash.erase(8, 16))).toBe('flash-erase-unaligned');
    expect(await code(flash.erase(16, 40))).toBe('flash-erase-unaligned');
  });

  it('rejects misaligned and out-of-range operations with specific codes, without counting them', async () => {
    const flash = new SimFlash(uniformGeometry(64, 4, 8, 0xff));
    expect(await code(flash.write(2, bytes(4, 0)))).toBe('flash-misaligned');
    expect(await code(flash.write(0, bytes(3, 0)))).toBe('flash-misaligned');
    expect(await code(flash.write(252, bytes(8, 0)))).toBe('flash-out-of-range');
    expect(await code(flash.read(-1, 2))).toBe('flash-out-of-range');
    expect(await code(flash.erase(0, 1024))).toBe('flash-out-of-range');
    expect(flash.ops).toBe(0);
  });

  it('strict mode rejects rewriting programmed cells, even with 0xFF, but accepts an identical replay', async () => {
    const flash = new SimFlash(uniformGeometry(64, 2, 4, 0xff));
    await flash.write(0, Uint8Array.of(0xff, 0xff, 0x12, 0x34));
    expect(await code(flash.write(0, Uint8Array.of(0xfe, 0xff, 0xff, 0xff)))).toBe('flash-rewrite');
    expect(await flash.read(0, 4)).toEqual(Uint8Array.of(0xff, 0xff, 0x12, 0x34));
    expect(await code(flash.write(0, Uint8Array.of(0xff, 0xff, 0x12, 0x34)))).toBe('ok');
    const noReplay = new SimFlash(uniformGeometry(64, 2, 4, 0xff), { allowReplay: false });
    await noReplay.write(0, bytes(4, 0x55));
    expect(await code(noReplay.write(0, bytes(4, 0x55)))).toBe('flash-rewrite');
    await noReplay.erase(0, 64);
    expect(await code(noReplay.write(0, bytes(4, 0x55)))).toBe('ok');
  });

  it('matches a reference model under random operation sequences (non-strict AND semantics)', async () => {
    await fc.assert(fc.asyncProperty(fc.array(fc.record({ erase: fc.boolean(), at: fc.nat(15), value: fc.nat(255) }), { maxLength: 60 }),
      async (ops) => {
        const flash = new SimFlash(uniformGeometry(16, 4, 4, 0xff), { strict: false });
        const model = bytes(64, 0xff);
        for (const op of ops) {
          if (op.erase) {
            const s = op.at % 4;
            await flash.erase(s * 16, 16);
            model.fill(0xff, s * 16, s * 16 + 16);
          } else {
            const at = op.at * 4;
            await flash.write(at, bytes(4, op.value));
            for (let i = at; i < at + 4; i++) model[i] &= op.value;
          }
        }
        expect(await flash.read(0, 64)).toEqual(model);
        expect(flash.ops).toBe(ops.length);
      }), { seed: 7, numRuns: 100 });
  });

  it('rejects invalid geometries', () => {
    expect(() => new SimFlash({ sectors: [{ offset: 0, size: 16 }, { offset: 32, size: 16 }], writeAlign: 1, eraseValue: 0xff })).toThrow();
    expect(() => new SimFlash(uniformGeometry(16, 2, 3, 0xff))).toThrow();
    expect(() => new SimFlash(uniformGeometry(16, 2, 1, 0x7f))).toThrow();
  });

  it('has the documented presets', () => {
    const f4 = stm32f4Geometry(1, 0xff);
    expect(f4.sectors.map((s) => s.size / 1024)).toEqual([16, 16, 16, 16, 64, 128, 128, 128, 128, 128, 128, 128]);
    expect(flashSize(f4)).toBe(1024 * 1024);
    expect(uniform4kGeometry(3, 4, 0).sectors[2]).toEqual({ offset: 8192, size: 4096 });
    expect(pages512Geometry(2, 8, 0xff).sectors[1]).toEqual({ offset: 512, size: 512 });
    expect(presetGeometry('stm32f4-mixed', 8, 0).sectors.length).toBe(6);
  });
});

describe('SimFlash power cuts', () => {
  const geometry = uniformGeometry(64, 4, 4, 0xff);
  const data = Uint8Array.from({ length: 32 }, (_, i) => i * 7);

  it('cut before: the op does nothing and every later op reports power-cut until powerCycle', async () => {
    const flash = new SimFlash(geometry);
    flash.armCut({ op: 0, mode: 'before' });
    expect(await code(flash.write(0, data))).toBe('power-cut');
    expect(flash.isDead).toBe(true);
    expect(await code(flash.read(0, 4))).toBe('power-cut');
    expect(await code(flash.erase(0, 64))).toBe('power-cut');
    flash.powerCycle();
    expect(await flash.read(0, 32)).toEqual(bytes(32, 0xff));
    expect(flash.isProgrammed(0)).toBe(false);
  });

  it('cut after: the op completes, but the caller only sees the cut', async () => {
    const flash = new SimFlash(geometry);
    await flash.write(0, bytes(4, 0));
    flash.armCut({ op: 1, mode: 'after' });
    expect(await code(flash.erase(0, 64))).toBe('power-cut');
    flash.powerCycle();
    expect(await flash.read(0, 4)).toEqual(bytes(4, 0xff));
    expect(flash.eraseCounts()[0]).toBe(1);
  });

  it('torn-prefix write: whole program units up to tornAt land, nothing after', async () => {
    const flash = new SimFlash(geometry);
    flash.armCut({ op: 0, mode: 'torn-prefix', tornAt: 3 });
    expect(await code(flash.write(0, data))).toBe('power-cut');
    flash.powerCycle();
    const back = await flash.read(0, 32);
    expect(back.subarray(0, 12)).toEqual(data.subarray(0, 12));
    expect(back.subarray(12)).toEqual(bytes(20, 0xff));
    expect(flash.isProgrammed(11)).toBe(true);
    expect(flash.isProgrammed(12)).toBe(false);
  });

  it('torn-bits write: the torn unit holds a subset of its 1->0 changes and is programmed (strict refuses it)', async () => {
    for (let seed = 1; seed < 20; seed++) {
      const flash = new SimFlash(geometry);
      flash.armCut({ op: 0, mode: 'torn-bits', tornAt: 1, seed });
      await code(flash.write(0, data));
      flash.powerCycle();
      const back = await flash.read(0, 12);
      expect(back.subarray(0, 4)).toEqual(data.subarray(0, 4));
      for (let i = 4; i < 8; i++) {
        expect(back[i] & data[i]).toBe(data[i]); // only bits the write clears may have cleared
      }
      expect(back.subarray(8, 12)).toEqual(bytes(4, 0xff));
      const identical = back.subarray(4, 8).every((b, i) => b === data[4 + i]);
      expect(await code(flash.write(4, data.subarray(4, 8)))).toBe(identical ? 'ok' : 'flash-rewrite');
    }
  });

  it('torn-unstable write: the torn unit reads differently across reads until erased; a replay firms it up', async () => {
    const flash = new SimFlash(geometry, { seed: 5 });
    const zeros = bytes(8, 0);
    flash.armCut({ op: 0, mode: 'torn-unstable', tornAt: 1 });
    await code(flash.write(0, zeros));
    flash.powerCycle();
    expect(flash.unstableBytes(0, 8)).toBe(4);
    const seen = new Set<string>();
    for (let i = 0; i < 10; i++) seen.add((await flash.read(4, 4)).join(','));
    expect(seen.size).toBeGreaterThan(1);
    expect(await flash.read(0, 4)).toEqual(bytes(4, 0));
    await flash.write(4, bytes(4, 0));
    expect(flash.unstableBytes(0, 8)).toBe(0);
    expect(await flash.read(4, 4)).toEqual(bytes(4, 0));
  });

  it('torn-unstable with ECC: reading the torn unit is an error until the sector is erased', async () => {
    const flash = new SimFlash(geometry, { faults: { eccOnTorn: true } });
    flash.armCut({ op: 0, mode: 'torn-unstable', tornAt: 0 });
    await code(flash.write(0, bytes(4, 0)));
    flash.powerCycle();
    expect(await code(flash.read(0, 4))).toBe('flash-ecc-error');
    await flash.erase(0, 64);
    expect(await flash.read(0, 4)).toEqual(bytes(4, 0xff));
  });

  it('torn-prefix erase: k of n sectors erase, the rest keep their data', async () => {
    const flash = new SimFlash(geometry);
    await flash.write(0, bytes(256, 0));
    flash.armCut({ op: 1, mode: 'torn-prefix', tornAt: 2 });
    expect(await code(flash.erase(0, 256))).toBe('power-cut');
    flash.powerCycle();
    const back = await flash.read(0, 256);
    expect(back.subarray(0, 128)).toEqual(bytes(128, 0xff));
    expect(back.subarray(128)).toEqual(bytes(128, 0));
    expect(flash.eraseCounts()).toEqual([1, 1, 0, 0]);
  });

  it('torn-bits erase: one sector is left with random bits set and cannot be programmed in strict mode', async () => {
    const flash = new SimFlash(geometry, { seed: 3 });
    await flash.write(0, bytes(256, 0));
    flash.armCut({ op: 1, mode: 'torn-bits', tornAt: 1, seed: 9 });
    await code(flash.erase(0, 256));
    flash.powerCycle();
    const middle = await flash.read(64, 64);
    expect(middle.some((b) => b !== 0) && middle.some((b) => b !== 0xff)).toBe(true);
    expect((await flash.read(0, 64))).toEqual(bytes(64, 0xff));
    expect(await flash.read(128, 128)).toEqual(bytes(128, 0));
    expect(await code(flash.write(64, bytes(4, 0x12)))).toBe('flash-rewrite');
  });

  it('programmed marks are kept per program unit: a torn erase bars exactly the units written since the last erase', async () => {
    // Program units of 8 bytes; only the unit [8, 16) was written, with one cell (byte 13) holding a 0.
    const flash = new SimFlash(uniformGeometry(64, 2, 8, 0xff), { seed: 3 });
    const unit = bytes(8, 0xff);
    unit[5] = 0x00;
    await flash.write(8, unit);
    flash.armCut({ op: 1, mode: 'torn-unstable', tornAt: 0 });
    await code(flash.erase(0, 64));
    flash.powerCycle();
    expect(flash.unstableBytes(0, 64)).toBe(1);
    expect([flash.isProgrammed(7), flash.isProgrammed(8), flash.isProgrammed(15), flash.isProgrammed(16)]).toEqual([false, true, true, false]);
    // Byte 8 reads erased, but its unit is torn: strict mode refuses it; the neighbouring units program.
    expect(await code(flash.write(8, bytes(8, 0x5a)))).toBe('flash-rewrite');
    expect(await code(flash.write(0, bytes(8, 0x5a)))).toBe('ok');
    expect(await code(flash.write(16, bytes(8, 0x5a)))).toBe('ok');
    await flash.erase(0, 64);
    expect([flash.isProgrammed(0), flash.isProgrammed(8), flash.isProgrammed(16)]).toEqual([false, false, false]);
    expect(await code(flash.write(8, bytes(8, 0x5a)))).toBe('ok');
  });

  it('torn-unstable erase: the sector reads unstable bits until erased again', async () => {
    const flash = new SimFlash(geometry, { seed: 3 });
    await flash.write(64, bytes(64, 0));
    flash.armCut({ op: 1, mode: 'torn-unstable', tornAt: 0 });
    await code(flash.erase(64, 64));
    flash.powerCycle();
    expect(flash.unstableBytes(64, 64)).toBe(64);
    const a = await flash.read(64, 64);
    const b = await flash.read(64, 64);
    expect(a).not.toEqual(b);
    await flash.erase(64, 64);
    expect(await flash.read(64, 64)).toEqual(bytes(64, 0xff));
    expect(flash.unstableBytes(64, 64)).toBe(0);
  });

  it('0x00-erase parts tear towards 1 bits', async () => {
    const flash = new SimFlash(uniformGeometry(64, 4, 4, 0x00));
    flash.armCut({ op: 0, mode: 'torn-bits', tornAt: 0, seed: 4 });
    await code(flash.write(0, bytes(4, 0xf0)));
    flash.powerCycle();
    const back = await flash.read(0, 4);
    for (const b of back) expect(b & 0x0f).toBe(0);
  });

  it('a torn choice replays from its seed', async () => {
    const run = async (): Promise<Uint8Array> => {
      const flash = new SimFlash(geometry, { seed: 11 });
      flash.armCut({ op: 0, mode: 'torn-bits', seed: 99 });
      await code(flash.write(0, data));
      return flash.peek(0, 32);
    };
    expect(await run()).toEqual(await run());
  });
});

describe('SimFlash silent faults, bad regions, wear, snapshots', () => {
  const geometry = uniformGeometry(64, 4, 4, 0xff);

  it('drop-write and skip-erase report success but change nothing', async () => {
    const flash = new SimFlash(geometry, { faults: { silent: [{ op: 0, kind: 'drop-write' }, { op: 2, kind: 'skip-erase' }] } });
    await flash.write(0, bytes(4, 0));
    expect(await flash.read(0, 4)).toEqual(bytes(4, 0xff));
    await flash.write(4, bytes(4, 0));
    await flash.erase(0, 64);
    expect(await flash.read(4, 4)).toEqual(bytes(4, 0));
    expect(flash.ops).toBe(3);
  });

  it('read errors fail the overlapping reads the given number of times', async () => {
    const flash = new SimFlash(geometry, { faults: { readErrors: [{ offset: 8, length: 4, times: 2 }] } });
    expect(await code(flash.read(0, 8))).toBe('ok');
    expect(await code(flash.read(10, 1))).toBe('flash-read-error');
    expect(await code(flash.read(0, 64))).toBe('flash-read-error');
    expect(await code(flash.read(8, 4))).toBe('ok');
  });

  it('bad regions fail writes and erases without touching data; seeded regions are reproducible', async () => {
    const flash = new SimFlash(geometry, { faults: { badRegions: [{ offset: 70, length: 2 }] } });
    await flash.write(64, bytes(4, 0x0f));
    flash.faults.badRegions.push({ offset: 64, length: 1 });
    expect(await code(flash.write(68, bytes(4, 0)))).toBe('flash-bad-region');
    expect(await code(flash.erase(64, 64))).toBe('flash-bad-region');
    expect(await flash.read(64, 8)).toEqual(Uint8Array.of(0x0f, 0x0f, 0x0f, 0x0f, 0xff, 0xff, 0xff, 0xff));
    expect(seedBadRegions(geometry, 5, 3, 8)).toEqual(seedBadRegions(geometry, 5, 3, 8));
    for (const r of seedBadRegions(geometry, 5, 3, 8)) expect(r.offset % 4 === 0 && r.offset + 8 <= 256).toBe(true);
  });

  it('a sector past its wear limit refuses to erase', async () => {
    const flash = new SimFlash(geometry, { faults: { wearLimit: 2 } });
    await flash.erase(0, 64);
    await flash.erase(0, 64);
    expect(await code(flash.erase(0, 64))).toBe('flash-worn-out');
    expect(await code(flash.erase(64, 64))).toBe('ok');
    expect(flash.eraseCounts()).toEqual([2, 1, 0, 0]);
  });

  it('snapshot/restore and clone fork the state independently', async () => {
    const flash = new SimFlash(geometry);
    await flash.write(0, bytes(4, 1));
    const snap = flash.snapshot();
    const fork = flash.clone();
    await flash.erase(0, 64);
    await fork.write(4, bytes(4, 2));
    expect(await fork.read(0, 8)).toEqual(Uint8Array.of(1, 1, 1, 1, 2, 2, 2, 2));
    expect(await flash.read(0, 8)).toEqual(bytes(8, 0xff));
    flash.restore(snap);
    expect(await flash.read(0, 8)).toEqual(Uint8Array.of(1, 1, 1, 1, 0xff, 0xff, 0xff, 0xff));
    expect(flash.ops).toBe(1);
    expect(flash.eraseCounts()).toEqual([0, 0, 0, 0]);
  });

  it('tells the observer about each mutation before applying it', async () => {
    const flash = new SimFlash(geometry);
    const seen: string[] = [];
    flash.onMutate = (e) => seen.push(`${e.kind}@${e.offset}+${e.length}#${e.op}`);
    await flash.write(8, bytes(4, 0));
    await flash.erase(64, 64);
    expect(seen).toEqual(['write@8+4#0', 'erase@64+64#1']);
  });
});
