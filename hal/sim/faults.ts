import type { FlashGeometry } from '../flash.js';
import { flashSize } from '../flash.js';
import { randomInt, seededRandom } from './random.js';

// What can go wrong with a simulated flash part. Mutating operations (write, erase) are numbered from 0 on one
// global counter per SimFlash; faults name the operation they hit.

/** Where a power cut lands relative to operation `op`. */
export type CutMode = 'before' | 'after' | 'torn-prefix' | 'torn-bits' | 'torn-unstable';

/** Every cut mode, in sweep order. */
export const CUT_MODES: CutMode[] = ['before', 'after', 'torn-prefix', 'torn-bits', 'torn-unstable'];

/** The torn modes: the operation is interrupted part-way. */
export const TORN_MODES: CutMode[] = ['torn-prefix', 'torn-bits', 'torn-unstable'];

/**
 * A power cut at mutating operation `op`.
 * - before: the operation does nothing.
 * - after: it completes, then power fails (its promise still rejects: the caller never learns it finished).
 * - torn-prefix: writes program `tornAt` whole program units; erases erase `tornAt` whole sectors.
 * - torn-bits: as prefix, then unit (or sector) `tornAt` gets a random subset of its pending bit changes.
 * - torn-unstable: as prefix, then the pending bits of unit (sector) `tornAt` read randomly until erased.
 */
export interface PowerCut {
  op: number;
  mode: CutMode;
  /** Units (writes) or sectors (erases) that complete before the tear; chosen from `seed` when absent. */
  tornAt?: number;
  /** Seeds the torn choices (position when `tornAt` is absent, bit subsets). */
  seed?: number;
}

/** A fault that does not stop the device: the operation reports success but does nothing. */
export interface SilentFault {
  op: number;
  kind: 'drop-write' | 'skip-erase';
}

/** Reads overlapping [offset, offset + length) fail, `times` times (forever when absent). */
export interface ReadFault {
  offset: number;
  length: number;
  times?: number;
}

/** A region where writes and erases fail without touching data (worn or defective cells). */
export interface BadRegion {
  offset: number;
  length: number;
}

/** Everything a SimFlash can be told to do wrong. */
export interface FaultConfig {
  cut?: PowerCut | null;
  silent?: SilentFault[];
  readErrors?: ReadFault[];
  badRegions?: BadRegion[];
  /** Erases a sector may take; the next one fails with `flash-worn-out`. */
  wearLimit?: number;
  /**
   * ECC parts: a program unit left torn by a cut (unstable bits, or a bit subset that did not all land) fails every
   * read touching any of its bytes, instead of returning random bits, until it is completed or its sector erased.
   */
  eccOnTorn?: boolean;
}

/** True when [a, a + al) and [b, b + bl) overlap. */
export function overlaps(a: number, al: number, b: number, bl: number): boolean {
  return a < b + bl && b < a + al;
}

/** `count` seeded bad regions of `length` bytes each, aligned to `align`, inside the device. */
export function seedBadRegions(geometry: FlashGeometry, seed: number, count: number, length: number): BadRegion[] {
  const random = seededRandom(seed);
  const size = flashSize(geometry);
  const align = geometry.writeAlign;
  const regions: BadRegion[] = [];
  for (let i = 0; i < count; i++) {
    const slots = Math.max(1, Math.floor((size - length) / align));
    regions.push({ offset: randomInt(random, slots) * align, length });
  }
  return regions;
}

/** The fault state of one SimFlash: which operation to cut, silent faults, read faults, bad regions. */
export class FaultPlan {
  cut: PowerCut | null;
  silent: SilentFault[];
  readErrors: ReadFault[];
  badRegions: BadRegion[];
  wearLimit: number;
  eccOnTorn: boolean;

  /** Copies `config` (its arrays are not shared). */
  constructor(config: FaultConfig = {}) {
    this.cut = config.cut ? { ...config.cut } : null;
    this.silent = (config.silent ?? []).map((f) => ({ ...f }));
    this.readErrors = (config.readErrors ?? []).map((f) => ({ ...f }));
    this.badRegions = (config.badRegions ?? []).map((f) => ({ ...f }));
    this.wearLimit = config.wearLimit ?? Infinity;
    this.eccOnTorn = config.eccOnTorn ?? false;
  }

  /** The cut planned for operation `op`, if any. */
  cutAt(op: number): PowerCut | null {
    return this.cut !== null && this.cut.op === op ? this.cut : null;
  }

  /** The silent fault planned for operation `op` of `kind`, if any. */
  silentAt(op: number, kind: SilentFault['kind']): boolean {
    return this.silent.some((f) => f.op === op && f.kind === kind);
  }

  /** Consumes one failure of a read overlapping the range; true when the read must fail. */
  readFails(offset: number, length: number): boolean {
    for (const f of this.readErrors) {
      if (!overlaps(offset, length, f.offset, f.length)) continue;
      if (f.times === undefined) return true;
      if (f.times > 0) {
        f.times--;
        return true;
      }
    }
    return false;
  }

  /** The bad region a mutation of the range hits, if any. */
  badRegionHit(offset: number, length: number): BadRegion | null {
    for (const r of this.badRegions) if (overlaps(offset, length, r.offset, r.length)) return r;
    return null;
  }

  /** A copy for a cloned flash. */
  clone(): FaultPlan {
    return new FaultPlan({ cut: this.cut, silent: this.silent, readErrors: this.readErrors, badRegions: this.badRegions,
      wearLimit: this.wearLimit, eccOnTorn: this.eccOnTorn });
  }
}
