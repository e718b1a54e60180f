import { describe, expect, it } from 'vitest';
import { SimFlash } from '../../hal/sim/sim-flash.js';
import { uniformGeometry } from '../../hal/flash.js';
import type { OtaError } from '../../src/util/errors.js';

// QA findings on SimFlash against the NOR/ECC reference (ab-banks-and-power-loss.md §1, §6 row 6).

function failure(p: Promise<unknown>): Promise<OtaError | null> {
  return p.then(() => null, (e: OtaError) => e);
}

const geometry = uniformGeometry(64, 4, 4, 0xff);

describe('SimFlash ECC faults cover the whole program unit', () => {
  it('reading any byte of a torn-unstable unit faults, not only the bytes with pending bits', async () => {
    const flash = new SimFlash(geometry, { faults: { eccOnTorn: true } });
    flash.armCut({ op: 0, mode: 'torn-unstable', tornAt: 0 });
    await failure(flash.write(0, Uint8Array.of(0x00, 0xff, 0xff, 0xff)));
    flash.powerCycle();
    // The check bits cover the 4-byte unit: byte 1 shares them with the torn byte 0.
    expect((await failure(flash.read(1, 1)))?.code).toBe('flash-ecc-error');
    expect((await failure(flash.read(3, 2)))?.code).toBe('flash-ecc-error');
    expect(await flash.read(4, 4)).toEqual(new Uint8Array(4).fill(0xff));
  });

  it('a torn-bits program on an ECC part faults on read until the unit is completed or erased', async () => {
    for (let seed = 1; seed <= 20; seed++) {
      const flash = new SimFlash(geometry, { faults: { eccOnTorn: true } });
      flash.armCut({ op: 0, mode: 'torn-bits', tornAt: 0, seed });
      await failure(flash.write(0, Uint8Array.of(0x10, 0x10, 0x10, 0x10)));
      flash.powerCycle();
      const landed = flash.peek(0, 4);
      const complete = landed.every((b) => b === 0x10);
      const got = await failure(flash.read(0, 4));
      expect(got === null ? 'ok' : got.code, 'seed ' + seed + ' landed ' + Array.from(landed).join(','))
        .toBe(complete ? 'ok' : 'flash-ecc-error');
      await flash.erase(0, 64);
      expect(await flash.read(0, 4), 'seed ' + seed).toEqual(new Uint8Array(4).fill(0xff));
    }
  });

  it('a torn-bits erase on an ECC part faults on read of the half-erased cells', async () => {
    const flash = new SimFlash(geometry, { faults: { eccOnTorn: true } });
    await flash.write(0, new Uint8Array(64).fill(0));
    flash.armCut({ op: 1, mode: 'torn-bits', tornAt: 0, seed: 7 });
    await failure(flash.erase(0, 64));
    flash.powerCycle();
    expect((await failure(flash.read(0, 64)))?.code).toBe('flash-ecc-error');
  });
});

describe('SimFlash errors say what was expected, what was found and what to do', () => {
  it('an unaligned erase names the sector boundaries around it', async () => {
    const flash = new SimFlash(geometry);
    const e = await failure(flash.erase(10, 64));
    expect(e?.code).toBe('flash-erase-unaligned');
    expect(e?.message).toContain('[0, 64)');
    expect(e?.message).toContain('[64, 128)');
    expect((await failure(flash.erase(0, 0)))?.message).toContain('length 0');
  });

  it('an out-of-range access says the valid range and what to do', async () => {
    const flash = new SimFlash(geometry);
    const e = await failure(flash.read(250, 8));
    expect(e?.code).toBe('flash-out-of-range');
    expect(e?.message).toContain('[0, 256)');
  });

  it('a worn-out sector names its count, the limit and what to do', async () => {
    const flash = new SimFlash(geometry, { faults: { wearLimit: 1 } });
    await flash.erase(64, 64);
    const e = await failure(flash.erase(64, 64));
    expect(e?.code).toBe('flash-worn-out');
    expect(e?.message).toContain('[64, 128)');
    expect(e?.message).toMatch(/retire|replace/);
  });
});
