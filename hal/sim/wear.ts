import type { FlashGeometry } from '../flash.js';
import type { OtaError } from '../../src/util/errors.js';
import { otaError } from '../../src/util/errors.js';

/** Per-sector erase counters: endurance is counted in erases, and sweeps compare them with a fault-free run. */
export class WearCounter {
  private counts: number[];

  /** Counters for `sectors` sectors, all zero. */
  constructor(sectors: number) {
    this.counts = [];
    for (let i = 0; i < sectors; i++) this.counts.push(0);
  }

  /** Erases of sector `index` so far. */
  count(index: number): number {
    return this.counts[index];
  }

  /** Counts one erase of sector `index`. */
  add(index: number): void {
    this.counts[index]++;
  }

  /** A copy of every counter. */
  all(): number[] {
    return this.counts.slice();
  }

  /** Replaces every counter (restore from a snapshot). */
  set(counts: number[]): void {
    this.counts = counts.slice();
  }

  /** The first of `sectors` whose erases have reached `limit` (it may not be erased again), or -1. */
  firstWorn(sectors: number[], limit: number): number {
    for (let i = 0; i < sectors.length; i++) if (this.counts[sectors[i]] >= limit) return sectors[i];
    return -1;
  }
}

/** The `flash-worn-out` error of sector `index` (of `geometry`) after `erases` erases against an endurance `limit`. */
export function wornOutError(geometry: FlashGeometry, index: number, erases: number, limit: number): OtaError {
  const s = geometry.sectors[index];
  return otaError('flash-worn-out', 'Sector ' + index + ' [' + s.offset + ', ' + (s.offset + s.size) + ') has had ' + erases +
    ' erases, its endurance limit is ' + limit + '; it no longer erases reliably. Retire the sector (move the partition) ' +
    'or replace the part.', false, { sector: index, erases: erases, wearLimit: limit });
}
