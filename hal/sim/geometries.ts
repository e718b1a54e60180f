import type { FlashGeometry, FlashSector } from '../flash.js';
import { uniformGeometry } from '../flash.js';

// Geometry presets for the simulator, after real parts (see reference/ab-banks-and-power-loss.md §1).

/** A geometry from a list of sector sizes, in address order. */
export function mixedGeometry(sizes: number[], writeAlign: number, eraseValue: number): FlashGeometry {
  const sectors: FlashSector[] = [];
  let at = 0;
  for (const size of sizes) {
    sectors.push({ offset: at, size });
    at += size;
  }
  return { sectors, writeAlign, eraseValue };
}

/**
 * STM32F4 bank layout: 4 x 16 KiB, 1 x 64 KiB, then 128 KiB sectors. `bigSectors` (default 7, the full 1 MiB bank)
 * trims the 128 KiB tail so sweeps copy less memory.
 */
export function stm32f4Geometry(writeAlign: number, eraseValue: number, bigSectors = 7): FlashGeometry {
  const sizes = [16384, 16384, 16384, 16384, 65536];
  for (let i = 0; i < bigSectors; i++) sizes.push(131072);
  return mixedGeometry(sizes, writeAlign, eraseValue);
}

/** Uniform 4 KiB sectors (nRF52, SPI NOR). */
export function uniform4kGeometry(count: number, writeAlign: number, eraseValue: number): FlashGeometry {
  return uniformGeometry(4096, count, writeAlign, eraseValue);
}

/** 512-byte pages as the erase unit (small MCUs, EEPROM-like parts). */
export function pages512Geometry(count: number, writeAlign: number, eraseValue: number): FlashGeometry {
  return uniformGeometry(512, count, writeAlign, eraseValue);
}

/** Named layouts used by the sweep matrix and the demos. */
export type GeometryPreset = 'uniform-4k' | 'stm32f4-mixed' | 'pages-512';

/** Every preset name, in matrix order. */
export const GEOMETRY_PRESETS: GeometryPreset[] = ['uniform-4k', 'stm32f4-mixed', 'pages-512'];

/** A preset sized for an A/B layout with two record sectors; small enough for sweeps. */
export function presetGeometry(preset: GeometryPreset, writeAlign: number, eraseValue: number): FlashGeometry {
  if (preset === 'uniform-4k') return uniform4kGeometry(2 + 2 * 4, writeAlign, eraseValue);
  if (preset === 'stm32f4-mixed') return stm32f4Geometry(writeAlign, eraseValue, 1);
  return pages512Geometry(2 + 2 * 16, writeAlign, eraseValue);
}
