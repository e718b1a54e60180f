import type { Flash, FlashGeometry, FlashSector } from '../flash.js';
import { flashSize, sectorIndexAt, sectorsCovering } from '../flash.js';
import type { OtaError } from '../../src/util/errors.js';
import { otaError } from '../../src/util/errors.js';
import type { Random } from '../../src/util/clock.js';
import type { FaultConfig, PowerCut } from './faults.js';
import { FaultPlan } from './faults.js';
import { randomInt, seededRandom } from './random.js';
import { WearCounter, wornOutError } from './wear.js';

// NOR flash as the good simulators model it (MCUboot sim, Zephyr flash simulator, littlefs emubd), plus what they
// leave out: torn programs and erases, cells that read differently each time until erased, and a global counter
// of mutating operations that power cuts and silent faults are aimed at. No Node built-ins: it runs wherever the
// core runs.

/** How a SimFlash treats writes onto cells already programmed since their last erase. */
export interface SimFlashOptions {
  /** Reject any write onto programmed cells (default true): catches code that trusts "reads erased". */
  strict?: boolean;
  /** In strict mode, still accept re-programming cells with exactly the value they hold (default true). */
  allowReplay?: boolean;
  /** Seeds unstable reads and torn choices without their own seed. */
  seed?: number;
  /** Faults to inject. */
  faults?: FaultConfig;
}

/** A mutating operation, as the observer sees it before it is applied. */
export interface MutationEvent {
  kind: 'write' | 'erase';
  op: number;
  offset: number;
  length: number;
}

/** Everything a SimFlash holds, for snapshot/restore. */
export interface SimFlashSnapshot {
  data: Uint8Array;
  programmed: Uint8Array;
  marginal: Uint8Array | null;
  eraseCounts: number[];
  ops: number;
}

/** In-memory NOR flash with fault injection. */
export class SimFlash implements Flash {
  readonly geometry: FlashGeometry;
  /** The fault plan; change it between operations (arm a cut, add silent faults). */
  faults: FaultPlan;
  /** Called before each mutating operation is applied (sweeps use it to watch protected regions). */
  onMutate: ((event: MutationEvent) => void) | null = null;
  private readonly size: number;
  private readonly strict: boolean;
  private readonly allowReplay: boolean;
  private readonly seed: number;
  private random: Random;
  private data: Uint8Array;
  /**
   * Per program unit (`writeAlign` bytes, the granularity at which NOR is programmed and ECC is kept): 1 where the
   * unit was programmed (or left uncertain by a torn erase) since its last clean erase. A byte per unit rather than
   * per cell: an eighth of the memory with 8-byte units, which is what a fleet of in-memory devices pays for.
   */
  private programmed: Uint8Array;
  /** log2(writeAlign): byte offset >> unitShift is the unit index. */
  private readonly unitShift: number;
  /** Bits that read randomly until the next erase; null while there are none. */
  private marginal: Uint8Array | null = null;
  /**
   * Per sector, an upper bound (absolute offset) of the cells `programmed` marks: the sector start while it is clean.
   * Lets the blank check of a write above it skip the scan, as sequential image writes always are.
   */
  private programmedEnd: number[];
  private readonly wear: WearCounter;
  private opCount = 0;
  private dead: OtaError | null = null;

  /** A part of `geometry`, fully erased. */
  constructor(geometry: FlashGeometry, options: SimFlashOptions = {}) {
    checkGeometry(geometry);
    this.geometry = { sectors: geometry.sectors.map((s) => ({ offset: s.offset, size: s.size })),
      writeAlign: geometry.writeAlign, eraseValue: geometry.eraseValue };
    this.size = flashSize(geometry);
    this.strict = options.strict ?? true;
    this.allowReplay = options.allowReplay ?? true;
    this.seed = options.seed ?? 1;
    this.random = seededRandom(this.seed);
    this.faults = new FaultPlan(options.faults);
    this.data = new Uint8Array(this.size).fill(geometry.eraseValue);
    // Touched now, like `data`: left lazily zeroed, its pages would fault in during the first update and charge the
    // simulation's bookkeeping to the code under test.
    this.unitShift = Math.round(Math.log2(geometry.writeAlign));
    this.programmed = new Uint8Array(this.size >> this.unitShift).fill(0);
    this.programmedEnd = this.geometry.sectors.map((s) => s.offset);
    this.wear = new WearCounter(geometry.sectors.length);
  }

  /** Mutating operations started so far (the index the next one gets). */
  get ops(): number {
    return this.opCount;
  }

  /** True after a power cut, until `powerCycle()`. */
  get isDead(): boolean {
    return this.dead !== null;
  }

  /** Arms a power cut (absolute operation index) or clears it with null. */
  armCut(cut: PowerCut | null): void {
    this.faults.cut = cut === null ? null : { ...cut };
  }

  /** Power comes back: later operations work again. Bytes, torn cells and wear stay as the cut left them. */
  powerCycle(): void {
    this.dead = null;
    if (this.faults.cut !== null && this.faults.cut.op < this.opCount) this.faults.cut = null;
  }

  /** Reads `length` bytes (into `into` when given); unstable cells resolve randomly on every read. */
  read(offset: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
    const bad = this.precheck('read', offset, length, false);
    if (bad !== null) return Promise.reject(bad);
    if (this.faults.readFails(offset, length)) {
      return Promise.reject(otaError('flash-read-error', 'Simulated read error at ' + offset + ' (+' + length +
        ' bytes); the read may be retried.', true, { offset, length }));
    }
    const out = into !== undefined && into.length >= length ? into.subarray(0, length) : new Uint8Array(length);
    out.set(this.data.subarray(offset, offset + length));
    const marginal = this.marginal;
    if (marginal !== null && this.faults.eccOnTorn) {
      const torn = this.tornUnitIn(offset, length);
      if (torn >= 0) return Promise.reject(this.eccError(torn));
    } else if (marginal !== null) {
      for (let i = 0; i < length; i++) {
        const m = marginal[offset + i];
        if (m !== 0) out[i] = (out[i] & ~m) | (randomInt(this.random, 256) & m);
      }
    }
    return Promise.resolve(out);
  }

  /** Programs `data` at `offset`: AND for parts erased to 0xFF, OR for parts erased to 0x00. */
  write(offset: number, data: Uint8Array): Promise<void> {
    const bad = this.precheck('write', offset, data.length, true);
    if (bad !== null) return Promise.reject(bad);
    // One scan decides both the rewrite check and the program path (the common case: an erased destination);
    // an observer may touch the part in between, so with one the program path looks again.
    const blank = this.blank(offset, data.length);
    const rewrite = blank ? -1 : this.rewriteAt(offset, data);
    if (rewrite >= 0) {
      return Promise.reject(otaError('flash-rewrite', 'Write of ' + data.length + ' bytes at ' + offset +
        ' hits programmed cell ' + rewrite + ' (holds 0x' + this.data[rewrite].toString(16) + ', asked 0x' +
        data[rewrite - offset].toString(16) + '); NOR cells must be erased before they are programmed again.', false,
      { offset, length: data.length, cell: rewrite }));
    }
    const op = this.opCount++;
    this.notify('write', op, offset, data.length);
    const hit = this.faults.badRegionHit(offset, data.length);
    if (hit !== null) return Promise.reject(badRegionError('write', offset, data.length, hit.offset));
    const cut = this.faults.cutAt(op);
    if (cut !== null) return this.cutWrite(cut, offset, data);
    if (!this.faults.silentAt(op, 'drop-write')) this.program(offset, data, 0, data.length, this.onMutate === null ? blank : undefined);
    return Promise.resolve();
  }

  /** Erases the whole sectors covering exactly [offset, offset + length). */
  erase(offset: number, length: number): Promise<void> {
    const bad = this.precheck('erase', offset, length, false);
    if (bad !== null) return Promise.reject(bad);
    const sectors = sectorsCovering(this.geometry, offset, length);
    if (sectors === null) return Promise.reject(this.unalignedErase(offset, length));
    const worn = this.wear.firstWorn(sectors, this.faults.wearLimit);
    if (worn >= 0) return Promise.reject(wornOutError(this.geometry, worn, this.wear.count(worn), this.faults.wearLimit));
    const op = this.opCount++;
    this.notify('erase', op, offset, length);
    const hit = this.faults.badRegionHit(offset, length);
    if (hit !== null) return Promise.reject(badRegionError('erase', offset, length, hit.offset));
    const cut = this.faults.cutAt(op);
    if (cut !== null) return this.cutErase(cut, sectors);
    if (!this.faults.silentAt(op, 'skip-erase')) for (const index of sectors) this.eraseSector(index);
    return Promise.resolve();
  }

  /** Erase count of every sector, in sector order. */
  eraseCounts(): number[] {
    return this.wear.all();
  }

  /** The bytes as they landed, ignoring unstable reads and faults (for tests and sweep checks). */
  peek(offset: number, length: number): Uint8Array {
    return new Uint8Array(this.data.subarray(offset, offset + length));
  }

  /** Number of bytes in the range holding unstable bits. */
  unstableBytes(offset: number, length: number): number {
    if (this.marginal === null) return 0;
    let n = 0;
    for (let i = offset; i < offset + length; i++) if (this.marginal[i] !== 0) n++;
    return n;
  }

  /** True when the program unit holding the byte was programmed (or torn) since its last clean erase. */
  isProgrammed(offset: number): boolean {
    return this.programmed[offset >> this.unitShift] !== 0;
  }

  /** A copy of the whole state. */
  snapshot(): SimFlashSnapshot {
    return { data: new Uint8Array(this.data), programmed: new Uint8Array(this.programmed),
      marginal: this.marginal === null ? null : new Uint8Array(this.marginal), eraseCounts: this.wear.all(),
      ops: this.opCount };
  }

  /** Puts back a snapshot of this part (power on, no cut armed; faults other than the cut stay). */
  restore(snapshot: SimFlashSnapshot): void {
    this.data = new Uint8Array(snapshot.data);
    this.programmed = new Uint8Array(snapshot.programmed);
    this.marginal = snapshot.marginal === null ? null : new Uint8Array(snapshot.marginal);
    this.programmedEnd = this.geometry.sectors.map((s) => s.offset + s.size);
    this.wear.set(snapshot.eraseCounts);
    this.opCount = snapshot.ops;
    this.dead = null;
    this.faults.cut = null;
  }

  /** An independent copy with the same bytes, counters and faults; `seed` re-seeds its random choices. */
  clone(seed?: number): SimFlash {
    const copy = new SimFlash(this.geometry, { strict: this.strict, allowReplay: this.allowReplay,
      seed: seed ?? this.seed });
    copy.faults = this.faults.clone();
    copy.restore(this.snapshot());
    copy.faults.cut = this.faults.cut === null ? null : { ...this.faults.cut };
    return copy;
  }

  private notify(kind: 'write' | 'erase', op: number, offset: number, length: number): void {
    if (this.onMutate !== null) this.onMutate({ kind, op, offset, length });
  }

  private precheck(op: string, offset: number, length: number, aligned: boolean): OtaError | null {
    if (this.dead !== null) return this.dead;
    if (!(offset >= 0 && length >= 0 && offset + length <= this.size && offset === Math.floor(offset) &&
      length === Math.floor(length))) {
      return otaError('flash-out-of-range', op + ' of ' + length + ' bytes at ' + offset + ' is outside the ' +
        this.size + '-byte device [0, ' + this.size + '); use whole-number offsets and lengths whose end stays within ' +
        'it.', false, { op, offset, length, size: this.size });
    }
    const align = this.geometry.writeAlign;
    if (aligned && (offset % align !== 0 || length % align !== 0)) {
      return otaError('flash-misaligned', 'Write of ' + length + ' bytes at ' + offset + ' is not aligned to the ' +
        align + '-byte program unit; pad the data and start on a multiple of ' + align + '.', false,
      { offset, length, writeAlign: align });
    }
    return null;
  }

  /** First programmed cell the write may not touch, or -1. */
  private rewriteAt(offset: number, data: Uint8Array): number {
    if (!this.strict) return -1;
    for (let i = 0; i < data.length; i++) {
      if (this.programmed[(offset + i) >> this.unitShift] === 0) continue;
      if (this.allowReplay && this.data[offset + i] === data[i]) continue;
      return offset + i;
    }
    return -1;
  }

  /** Programs data[from, to) at offset + from, fully. Replays firm up unstable bits they program. */
  private program(offset: number, data: Uint8Array, from: number, to: number, blank?: boolean): void {
    if (to > from && (blank ?? this.blank(offset + from, to - from))) {
      // Cells not programmed since a clean erase hold the erase value (every path that leaves a cell otherwise
      // marks it programmed), so AND (or OR) with them gives the data itself: the same result as the loop below.
      this.data.set(data.subarray(from, to), offset + from);
      this.programUnits(offset + from, offset + to);
      return;
    }
    this.programUnits(offset + from, offset + to);
    const ones = this.geometry.eraseValue !== 0;
    const marginal = this.marginal;
    for (let i = from; i < to; i++) {
      const at = offset + i;
      const d = data[i];
      this.data[at] = ones ? this.data[at] & d : this.data[at] | d;
      if (marginal !== null && marginal[at] !== 0) marginal[at] &= ones ? d : ~d & 0xff;
    }
  }

  /** True when no cell of [at, at + length) was programmed since its last clean erase or holds unstable bits. */
  private blank(at: number, length: number): boolean {
    if (this.marginal === null && this.aboveProgrammed(at, at + length)) return true;
    if (!zeroBytes(this.programmed, at >> this.unitShift, length >> this.unitShift)) return false;
    return this.marginal === null || zeroBytes(this.marginal, at, length);
  }

  /** The bits a program of `d` still has to change in the cell at `at` (stable ones already there do not count). */
  private pendingBits(at: number, d: number): number {
    const ones = this.geometry.eraseValue !== 0;
    const m = this.marginal === null ? 0 : this.marginal[at];
    const cell = this.data[at];
    return ones ? ((cell | m) & ~d) & 0xff : ((~cell | m) & d) & 0xff;
  }

  private cutWrite(cut: PowerCut, offset: number, data: Uint8Array): Promise<void> {
    const align = this.geometry.writeAlign;
    const units = data.length / align;
    const random = seededRandom(cut.seed ?? this.seed);
    if (cut.mode === 'after') this.program(offset, data, 0, data.length);
    if (cut.mode === 'before' || cut.mode === 'after' || units === 0) return this.die(cut);
    const tornAt = Math.min(cut.tornAt ?? randomInt(random, units), units - 1);
    this.program(offset, data, 0, tornAt * align);
    if (cut.mode === 'torn-prefix') return this.die(cut);
    const ones = this.geometry.eraseValue !== 0;
    this.programUnits(offset + tornAt * align, offset + (tornAt + 1) * align);
    for (let i = tornAt * align; i < (tornAt + 1) * align; i++) {
      const at = offset + i;
      const pending = this.pendingBits(at, data[i]);
      if (cut.mode === 'torn-bits') {
        const landed = pending & randomInt(random, 256);
        this.data[at] = ones ? this.data[at] & ~landed : this.data[at] | landed;
        // On an ECC part the check bits tore too: the unit faults on read until it is completed or erased.
        if (this.faults.eccOnTorn) this.markUnstable(at, pending & ~landed);
      } else {
        this.data[at] = ones ? this.data[at] & data[i] : this.data[at] | data[i];
        this.markUnstable(at, pending);
      }
    }
    return this.die(cut);
  }

  private cutErase(cut: PowerCut, sectors: number[]): Promise<void> {
    const random = seededRandom(cut.seed ?? this.seed);
    if (cut.mode === 'after') for (const index of sectors) this.eraseSector(index);
    if (cut.mode === 'before' || cut.mode === 'after') return this.die(cut);
    const tornAt = Math.min(cut.tornAt ?? randomInt(random, sectors.length), sectors.length - 1);
    for (let i = 0; i < tornAt; i++) this.eraseSector(sectors[i]);
    if (cut.mode === 'torn-prefix') return this.die(cut);
    const sector = this.geometry.sectors[sectors[tornAt]];
    const erased = this.geometry.eraseValue;
    this.wear.add(sectors[tornAt]);
    this.markProgrammed(sector.offset, sector.offset + sector.size);
    for (let at = sector.offset; at < sector.offset + sector.size; at++) {
      const pending = (this.data[at] ^ erased) | (this.marginal === null ? 0 : this.marginal[at]);
      if (pending === 0) continue;
      // A weak erase: the cell is neither programmed nor erased, so a strict part refuses to program its unit.
      this.programmed[at >> this.unitShift] = 1;
      if (cut.mode === 'torn-bits') {
        const landed = pending & randomInt(random, 256);
        this.data[at] = (this.data[at] & ~landed) | (erased & landed);
        if (this.marginal !== null) this.marginal[at] &= ~landed & 0xff;
        // On an ECC part a half-erased word's check bits do not match: it faults on read until erased.
        if (this.faults.eccOnTorn) this.markUnstable(at, pending & ~landed);
      } else {
        this.data[at] = erased;
        this.markUnstable(at, pending);
      }
    }
    return this.die(cut);
  }

  /** Start of the first program unit overlapping [offset, offset + length) that holds unstable bits, or -1. */
  private tornUnitIn(offset: number, length: number): number {
    const marginal = this.marginal;
    if (marginal === null || length === 0) return -1;
    const align = this.geometry.writeAlign;
    // ECC check bits cover a whole program unit, so a torn unit faults whichever of its bytes is read.
    const start = offset - (offset % align);
    const end = Math.min(this.size, Math.ceil((offset + length) / align) * align);
    for (let at = start; at < end; at++) if (marginal[at] !== 0) return at - (at % align);
    return -1;
  }

  private eccError(unit: number): OtaError {
    const s = this.geometry.sectors[sectorIndexAt(this.geometry, unit)];
    return otaError('flash-ecc-error', 'ECC error reading the ' + this.geometry.writeAlign + '-byte program unit at ' +
      unit + ': its check bits do not match its data (a program or erase was cut). Erase the sector [' + s.offset +
      ', ' + (s.offset + s.size) + ') before using it.', false, { offset: unit, sector: s.offset });
  }

  private unalignedErase(offset: number, length: number): OtaError {
    const around = (at: number): string => {
      const s = this.geometry.sectors[sectorIndexAt(this.geometry, at)];
      return '[' + s.offset + ', ' + (s.offset + s.size) + ')';
    };
    const found = length === 0 ? 'has length 0' : 'starts in sector ' + around(offset) + ' and ends in sector ' +
      around(offset + length - 1);
    return otaError('flash-erase-unaligned', 'Erase of [' + offset + ', ' + (offset + length) + ') must cover whole ' +
      'sectors, but it ' + found + '; erase from a sector start to a sector end.', false, { offset, length });
  }

  private markUnstable(at: number, bits: number): void {
    if (bits === 0) return;
    if (this.marginal === null) this.marginal = new Uint8Array(this.size);
    this.marginal[at] |= bits;
  }

  private eraseSector(index: number): void {
    const s: FlashSector = this.geometry.sectors[index];
    // A sector with no cell marked programmed already reads erased everywhere (every path that leaves a cell
    // otherwise marks it), so only its wear changes.
    if (this.programmedEnd[index] > s.offset) {
      this.data.fill(this.geometry.eraseValue, s.offset, s.offset + s.size);
      this.programmed.fill(0, s.offset >> this.unitShift, (s.offset + s.size) >> this.unitShift);
    }
    this.programmedEnd[index] = s.offset;
    if (this.marginal !== null) this.marginal.fill(0, s.offset, s.offset + s.size);
    this.wear.add(index);
  }

  private die(cut: PowerCut): Promise<void> {
    this.dead = otaError('power-cut', 'Simulated power cut (' + cut.mode + ' operation ' + cut.op +
      '); reboot with fresh objects over the same flash.', false, { op: cut.op, mode: cut.mode });
    return Promise.reject(this.dead);
  }

  /** Marks the program units of [start, end) programmed (their sectors' bounds too). */
  private programUnits(start: number, end: number): void {
    if (end <= start) return;
    this.programmed.fill(1, start >> this.unitShift, ((end - 1) >> this.unitShift) + 1);
    this.markProgrammed(start, end);
  }

  /** Raises the programmed bound of every sector [start, end) touches. */
  private markProgrammed(start: number, end: number): void {
    if (end <= start) return;
    const sectors = this.geometry.sectors;
    for (let i = sectorIndexAt(this.geometry, start); i < sectors.length && sectors[i].offset < end; i++) {
      const top = Math.min(end, sectors[i].offset + sectors[i].size);
      if (this.programmedEnd[i] < top) this.programmedEnd[i] = top;
    }
  }

  /** True when [start, end) lies above every cell marked programmed in the sectors it touches. */
  private aboveProgrammed(start: number, end: number): boolean {
    if (end <= start) return true;
    const sectors = this.geometry.sectors;
    for (let i = sectorIndexAt(this.geometry, start); i < sectors.length && sectors[i].offset < end; i++) {
      if (this.programmedEnd[i] > Math.max(start, sectors[i].offset)) return false;
    }
    return true;
  }
}

/** True when bytes [at, at + length) of `bytes` are all zero; word by word where the range allows. */
function zeroBytes(bytes: Uint8Array, at: number, length: number): boolean {
  const start = bytes.byteOffset + at;
  if (start % 4 === 0 && length % 4 === 0) {
    const words = new Int32Array(bytes.buffer, start, length / 4);
    for (let i = 0; i < words.length; i++) if (words[i] !== 0) return false;
    return true;
  }
  for (let i = at; i < at + length; i++) if (bytes[i] !== 0) return false;
  return true;
}

function badRegionError(op: string, offset: number, length: number, region: number): OtaError {
  return otaError('flash-bad-region', op + ' of ' + length + ' bytes at ' + offset + ' hit the bad region at ' + region +
    '; the cells did not change.', false, { offset, length, region });
}

function checkGeometry(geometry: FlashGeometry): void {
  let at = 0;
  for (const s of geometry.sectors) {
    if (s.offset !== at || s.size <= 0 || s.size % geometry.writeAlign !== 0) {
      throw otaError('flash-geometry-invalid', 'Sectors must be contiguous from 0 with positive sizes that are ' +
        'multiples of the write unit; sector at ' + s.offset + ' breaks that.', false, { offset: s.offset });
    }
    at += s.size;
  }
  const align = geometry.writeAlign;
  if (!(align >= 1 && align <= 256 && (align & (align - 1)) === 0)) {
    throw otaError('flash-geometry-invalid', 'writeAlign must be a power of two from 1 to 256, got ' + align + '.', false);
  }
  if (geometry.eraseValue !== 0xff && geometry.eraseValue !== 0x00) {
    throw otaError('flash-geometry-invalid', 'eraseValue must be 0xFF or 0x00, got ' + geometry.eraseValue + '.', false);
  }
}
