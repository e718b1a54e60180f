import { describe, expect, it } from 'vitest';
import { FlashArea, flashSize, sectorAt, uniformGeometry } from '../../hal/flash.js';
import { SimFlash } from '../../hal/sim/sim-flash.js';
import { mixedGeometry } from '../../hal/sim/geometries.js';
import type { OtaError } from '../../src/util/errors.js';

function code(p: Promise<unknown>): Promise<string> {
  return p.then(() => 'ok', (e: OtaError) => e.code);
}

describe('FlashArea', () => {
  const device = new SimFlash(mixedGeometry([16, 16, 64, 128], 4, 0xff));

  it('exposes the sectors inside its window, relative to its start', () => {
    const area = new FlashArea(device, 32, 192, 'slot');
    expect(area.geometry.sectors).toEqual([{ offset: 0, size: 64 }, { offset: 64, size: 128 }]);
    expect(area.geometry.writeAlign).toBe(4);
    expect(flashSize(area.geometry)).toBe(192);
    expect(sectorAt(area.geometry, 100)).toEqual({ offset: 64, size: 128 });
    expect(sectorAt(area.geometry, 192)).toBeNull();
  });

  it('refuses windows that do not start and end on sector boundaries', () => {
    expect(() => new FlashArea(device, 8, 24, 'bad')).toThrow();
    expect(() => new FlashArea(device, 16, 40, 'bad')).toThrow();
    expect(() => new FlashArea(device, 0, 0, 'bad')).toThrow();
  });

  it('translates reads, writes and erases and rejects anything outside the window', async () => {
    const flash = new SimFlash(uniformGeometry(16, 4, 4, 0xff));
    const area = new FlashArea(flash, 16, 32, 'middle');
    await area.write(0, Uint8Array.of(1, 2, 3, 4));
    expect(flash.peek(16, 4)).toEqual(Uint8Array.of(1, 2, 3, 4));
    expect(await area.read(0, 4)).toEqual(Uint8Array.of(1, 2, 3, 4));
    expect(await code(area.write(32, new Uint8Array(4)))).toBe('flash-out-of-range');
    expect(await code(area.write(-4, new Uint8Array(4)))).toBe('flash-out-of-range');
    expect(await code(area.read(28, 8))).toBe('flash-out-of-range');
    expect(await code(area.erase(16, 32))).toBe('flash-out-of-range');
    await area.erase(0, 16);
    expect(flash.peek(16, 4)).toEqual(new Uint8Array(4).fill(0xff));
    expect(flash.eraseCounts()).toEqual([0, 1, 0, 0]);
  });
});

describe('device layouts', () => {
  it('splits records, slot A and slot B at the most even sector boundary, with an optional journal', async () => {
    const { defaultLayout, defaultLayoutSpec } = await import('../../hal/sim/layout.js');
    const { presetGeometry } = await import('../../hal/sim/geometries.js');
    const f4 = new SimFlash(presetGeometry('stm32f4-mixed', 1, 0xff));
    expect(defaultLayoutSpec(f4)).toEqual({ records: [0, 2], a: [2, 5], b: [5, 6] });
    const layout = defaultLayout(f4);
    expect([layout.records.size, layout.slots[0].size, layout.slots[1].size]).toEqual([32768, 98304, 131072]);
    const uniform = new SimFlash(uniformGeometry(4096, 12, 4, 0xff));
    const withJournal = defaultLayout(uniform, 2);
    expect(withJournal.slots.map((s) => s.size)).toEqual([16384, 16384]);
    expect(withJournal.journal?.offset).toBe(40960);
    expect(withJournal.journal?.size).toBe(8192);
    expect(() => defaultLayout(new SimFlash(uniformGeometry(4096, 3, 4, 0xff)))).toThrow();
  });
});
