import { closeSync, existsSync, fstatSync, fsyncSync, openSync, readSync, renameSync, writeSync } from 'node:fs';
import type { Flash, FlashGeometry, FlashSector } from '../../hal/flash.js';
import { flashSize, sectorIndexAt, sectorsCovering } from '../../hal/flash.js';
import { WearCounter, wornOutError } from '../../hal/sim/wear.js';
import type { OtaError } from '../util/errors.js';
import { otaError } from '../util/errors.js';

// A flash part backed by a file: NOR semantics (program = AND, or OR on 0x00-erased parts; erase whole sectors),
// every operation written through and fsynced before it resolves. Killing the process is then a real power loss:
// whatever reached the file is what the next process boots from. Synchronous I/O on purpose, so an operation is
// never half-queued when the process dies between two of them.
//
// The part's wear lives beside it in `<path>.wear`: erase counts are a property of the part, so they outlive the
// process as its bytes do (a fleet simulator checks the journal's wear over many restarts), and the record also keeps
// the size the file was made with, so a file cut to another plausible size is told apart from a smaller device.
// Record: "OTAWEAR1", u32 LE sector count, u32 LE flash size, then one u32 LE erase count per sector. A flash file
// from before wear records has none: its counts start at zero and the record is written at its first erase.

/** Options for FileFlash.open. */
export interface FileFlashOptions {
  /** fsync after every mutating operation (default true; tests that only want persistence may turn it off). */
  sync?: boolean;
  /**
   * Refuse a program whose data the cells cannot take (default true): it catches code that forgot to erase. Looser than
   * a strict SimFlash, which refuses any second program of a cell: a file keeps no record of which cells were
   * programmed. false keeps what real NOR does, the AND (or OR) of old and new bits.
   */
  strict?: boolean;
  /** Erases a sector may take (counted over the part's life, across processes); the next one fails `flash-worn-out`. */
  wearLimit?: number;
}

const WEAR_MAGIC = 'OTAWEAR1';
const WEAR_HEAD = 16;

/** The wear record of a part of `sectors` sectors and `size` bytes with the given erase counts. */
function encodeWear(counts: number[], size: number): Uint8Array {
  const bytes = new Uint8Array(WEAR_HEAD + 4 * counts.length);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < WEAR_MAGIC.length; i++) bytes[i] = WEAR_MAGIC.charCodeAt(i);
  view.setUint32(8, counts.length, true);
  view.setUint32(12, size, true);
  counts.forEach((count, i) => { view.setUint32(WEAR_HEAD + 4 * i, count, true); });
  return bytes;
}

/** What a wear record says, or why it is none. */
function decodeWear(bytes: Uint8Array): { counts: number[]; size: number } | string {
  if (bytes.length < WEAR_HEAD || String.fromCharCode(...bytes.subarray(0, WEAR_MAGIC.length)) !== WEAR_MAGIC) {
    return `it does not start with "${WEAR_MAGIC}"`;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const sectors = view.getUint32(8, true);
  if (bytes.length !== WEAR_HEAD + 4 * sectors) return `it is ${bytes.length} bytes, a record of ${sectors} sectors has ${WEAR_HEAD + 4 * sectors}`;
  const counts: number[] = [];
  for (let i = 0; i < sectors; i++) counts.push(view.getUint32(WEAR_HEAD + 4 * i, true));
  return { counts, size: view.getUint32(12, true) };
}

/** Writes `path` whole through a file beside it and a rename: a kill while writing leaves no short file behind. */
function createAtomically(path: string, fill: (made: number) => void): void {
  const aside = `${path}.${process.pid}.new`;
  const made = openSync(aside, 'w');
  try {
    fill(made);
    fsyncSync(made);
  } finally {
    closeSync(made);
  }
  renameSync(aside, path);
}

function writeAll(fd: number, bytes: Uint8Array, offset: number): void {
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done, offset + done);
}

function readWhole(path: string): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    const out = new Uint8Array(fstatSync(fd).size);
    let done = 0;
    while (done < out.length) {
      const n = readSync(fd, out, done, out.length - done, done);
      if (n <= 0) break;
      done += n;
    }
    return out.subarray(0, done);
  } finally {
    closeSync(fd);
  }
}

/** A Flash over a file of exactly the geometry's size. */
export class FileFlash implements Flash {
  readonly geometry: FlashGeometry;
  private fd: number | null;
  /** Whether the wear record exists (a file from before records gets it at its first erase). */
  private wearRecorded: boolean;
  private readonly size: number;
  private readonly sync: boolean;
  private readonly strict: boolean;
  private readonly wearLimit: number;
  private opCount = 0;
  private readonly wear: WearCounter;
  private work = new Uint8Array(0);
  private erased = new Uint8Array(0);

  private constructor(readonly path: string, geometry: FlashGeometry, fd: number, wear: number[], wearRecorded: boolean,
    options: FileFlashOptions) {
    this.geometry = geometry;
    this.fd = fd;
    this.wearRecorded = wearRecorded;
    this.size = flashSize(geometry);
    this.sync = options.sync ?? true;
    this.strict = options.strict ?? true;
    this.wearLimit = options.wearLimit ?? Infinity;
    this.wear = new WearCounter(geometry.sectors.length);
    this.wear.set(wear);
  }

  /** Where the wear record of the flash file `path` lives. */
  static wearPathOf(path: string): string {
    return `${path}.wear`;
  }

  /**
   * Opens `path`, creating it fully erased (with a fresh wear record: a new part) when missing. Rejects a file of
   * another size, or of the geometry's size when its wear record says it was made bigger or smaller (cut, replaced),
   * and a wear record that is not one; nothing is written then.
   */
  static open(path: string, geometry: FlashGeometry, options: FileFlashOptions = {}): FileFlash {
    const size = flashSize(geometry);
    const wearPath = FileFlash.wearPathOf(path);
    if (options.wearLimit !== undefined && !(Number.isInteger(options.wearLimit) && options.wearLimit >= 1)) {
      throw otaError('flash-options-invalid', `wearLimit must be a whole number of erases of at least 1, got ${options.wearLimit}.`, false,
        { wearLimit: options.wearLimit });
    }
    if (!existsSync(path)) {
      const zeros = geometry.sectors.map(() => 0);
      createAtomically(wearPath, (made) => { writeAll(made, encodeWear(zeros, size), 0); });
      createAtomically(path, (made) => {
        const chunk = new Uint8Array(Math.min(size, 65536)).fill(geometry.eraseValue);
        for (let at = 0; at < size; at += chunk.length) writeSync(made, chunk, 0, Math.min(chunk.length, size - at), at);
      });
    }
    let wear: { counts: number[]; size: number } | null = null;
    if (existsSync(wearPath)) {
      const decoded = decodeWear(readWhole(wearPath));
      if (typeof decoded === 'string') {
        throw otaError('flash-wear-invalid', `${wearPath}, the wear record (erase counts) of ${path}, is not one: ${decoded}. ` +
          `Restore it from a copy, or delete it to count wear from zero again (the flash is kept).`, false, { path: wearPath });
      }
      wear = decoded;
    }
    const fd = openSync(path, 'r+');
    const actual = fstatSync(fd).size;
    const made = wear === null ? null : wear.size;
    if (actual !== size || (made !== null && made !== actual)) {
      closeSync(fd);
      const was = made === null || made === actual ? '' : made > actual
        ? ` Its wear record ${wearPath} says it was made with ${made} bytes: the file was truncated (or replaced);`
        : ` Its wear record ${wearPath} says it was made with ${made} bytes: the file grew (or was replaced);`;
      throw otaError('flash-file-size', `Flash image ${path} is ${actual} bytes, ` +
        (actual !== size ? `the geometry needs ${size}.` : `as the geometry asks.`) + was +
        (was !== '' ? ' restore it from a copy, or delete it and its wear record to start over.' : ' Delete it, or open it with the geometry it was made with.'),
      false, { path, size, actual, ...(made !== null ? { made } : {}) });
    }
    if (wear !== null && wear.counts.length !== geometry.sectors.length) {
      closeSync(fd);
      throw otaError('flash-wear-invalid', `${wearPath} counts the wear of ${wear.counts.length} sectors, the geometry has ` +
        `${geometry.sectors.length}: ${path} was made with another geometry. Open it with that one, or delete both files to start over.`,
      false, { path: wearPath, sectors: wear.counts.length, expected: geometry.sectors.length });
    }
    return new FileFlash(path, geometry, fd, wear === null ? geometry.sectors.map(() => 0) : wear.counts, wear !== null, options);
  }

  /** Mutating operations done through this handle. */
  get ops(): number {
    return this.opCount;
  }

  /** Erases per sector over the part's life (kept in its wear record across processes). */
  eraseCounts(): number[] {
    return this.wear.all();
  }

  /** Reads `length` bytes from the file, into `into` when given. */
  read(offset: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
    const bad = this.check('read', offset, length, false);
    if (bad !== null) return Promise.reject(bad);
    const out = into !== undefined && into.length >= length ? into.subarray(0, length) : new Uint8Array(length);
    const failed = this.io('read', offset, length, () => this.readInto(out, offset));
    return failed !== null ? Promise.reject(failed) : Promise.resolve(out);
  }

  /** Programs aligned `data` onto cells that can take it (erased, or already holding bits the data keeps). */
  write(offset: number, data: Uint8Array): Promise<void> {
    const bad = this.check('write', offset, data.length, true);
    if (bad !== null) return Promise.reject(bad);
    const cells = this.scratch(data.length);
    const unread = this.io('write', offset, data.length, () => this.readInto(cells, offset));
    if (unread !== null) return Promise.reject(unread);
    const ones = this.geometry.eraseValue !== 0;
    for (let i = 0; i < cells.length; i++) {
      const landed = ones ? cells[i] & data[i] : cells[i] | data[i];
      // A program can only move bits away from the erase value: data it cannot produce means the cells were not
      // erased first. Real NOR keeps the mixture silently; strict refuses it, to catch the bug where it happens.
      if (this.strict && landed !== data[i]) {
        return Promise.reject(otaError('flash-rewrite', `Write of ${data.length} bytes at ${offset} hits programmed cell ` +
          `${offset + i} (holds 0x${cells[i].toString(16)}, asked 0x${data[i].toString(16)}); NOR cells must be erased before ` +
          'they are programmed again.', false, { offset, length: data.length, cell: offset + i }));
      }
      cells[i] = landed;
    }
    this.opCount++;
    const failed = this.io('write', offset, data.length, () => this.put(cells, offset));
    return failed !== null ? Promise.reject(failed) : Promise.resolve();
  }

  /** Erases the whole sectors covering exactly [offset, offset + length); refuses them all when one is worn out. */
  erase(offset: number, length: number): Promise<void> {
    const bad = this.check('erase', offset, length, false);
    if (bad !== null) return Promise.reject(bad);
    const sectors = sectorsCovering(this.geometry, offset, length);
    if (sectors === null) return Promise.reject(this.unalignedErase(offset, length));
    const worn = this.wear.firstWorn(sectors, this.wearLimit);
    if (worn >= 0) return Promise.reject(wornOutError(this.geometry, worn, this.wear.count(worn), this.wearLimit));
    this.opCount++;
    // Wear first: a kill between the two counts an erase that did not happen, never the other way round.
    for (const index of sectors) this.wear.add(index);
    const failed = this.io('erase', offset, length, () => {
      this.saveWear(sectors[0], sectors.length);
      for (const index of sectors) {
        const s: FlashSector = this.geometry.sectors[index];
        this.put(this.erasedBytes(s.size), s.offset);
      }
    });
    return failed !== null ? Promise.reject(failed) : Promise.resolve();
  }

  /** Closes the file; later operations fail. */
  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  /**
   * Writes the counts of `count` sectors from `first` to the wear record, creating it (a file from before records).
   * Opened per erase rather than held: erases are rare, and a fleet of file-backed devices keeps one descriptor per flash.
   */
  private saveWear(first: number, count: number): void {
    const wearPath = FileFlash.wearPathOf(this.path);
    // Also when the record was deleted under an open handle: wear is bookkeeping, never a reason to fail an erase.
    if (!this.wearRecorded || !existsSync(wearPath)) {
      const record = encodeWear(this.wear.all(), this.size);
      createAtomically(wearPath, (made) => { writeAll(made, record, 0); });
      this.wearRecorded = true;
      return;
    }
    const bytes = new Uint8Array(4 * count);
    const view = new DataView(bytes.buffer);
    for (let i = 0; i < count; i++) view.setUint32(4 * i, this.wear.count(first + i), true);
    const fd = openSync(wearPath, 'r+');
    try {
      writeAll(fd, bytes, WEAR_HEAD + 4 * first);
      if (this.sync) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  /** Runs file I/O, turning what the file system throws into a flash error (never a synchronous throw). */
  private io(op: string, offset: number, length: number, work: () => void): OtaError | null {
    try {
      work();
      return null;
    } catch (error) {
      if (error !== null && typeof error === 'object' && 'retryable' in error) return error as OtaError;
      const errno = (error as NodeJS.ErrnoException).code ?? 'error';
      return otaError('flash-io-error', `${op} of ${length} bytes at ${offset} in flash file ${this.path} failed (${errno}: ` +
        `${(error as Error).message}); check the disk and the file, then open it again.`, false, { op, offset, length, path: this.path, errno }, error);
    }
  }

  /** A reused buffer of `length` bytes for the read-modify-write of a program (no garbage per write). */
  private scratch(length: number): Uint8Array {
    if (this.work.length < length) this.work = new Uint8Array(length);
    return this.work.subarray(0, length);
  }

  /** `length` bytes of the erase value, from one reused buffer as large as the largest sector erased. */
  private erasedBytes(length: number): Uint8Array {
    if (this.erased.length < length) this.erased = new Uint8Array(length).fill(this.geometry.eraseValue);
    return this.erased.subarray(0, length);
  }

  private readInto(out: Uint8Array, offset: number): void {
    let done = 0;
    while (done < out.length) {
      const n = readSync(this.fd as number, out, done, out.length - done, offset + done);
      if (n <= 0) {
        const ends = fstatSync(this.fd as number).size;
        throw otaError('flash-file-truncated', `Flash file ${this.path} ends at ${ends} bytes, inside the read of ${out.length} bytes ` +
          `at ${offset}; the device has ${this.size}. The file was cut while in use: restore it from a copy, or delete it to start over.`,
        false, { path: this.path, offset, length: out.length, fileSize: ends, size: this.size });
      }
      done += n;
    }
  }

  private put(bytes: Uint8Array, offset: number): void {
    writeAll(this.fd as number, bytes, offset);
    if (this.sync) fsyncSync(this.fd as number);
  }

  private check(op: string, offset: number, length: number, aligned: boolean): OtaError | null {
    if (this.fd === null) {
      return otaError('flash-closed', `${op} of ${length} bytes at ${offset} on the closed flash file ${this.path}; open it again ` +
        '(FileFlash.open) to use it.', false, { op, path: this.path });
    }
    // Worded as SimFlash words it, so a simulator sees one message whichever part it runs on.
    if (!(offset >= 0 && length >= 0 && offset + length <= this.size && offset === Math.floor(offset) && length === Math.floor(length))) {
      return otaError('flash-out-of-range', `${op} of ${length} bytes at ${offset} is outside the ${this.size}-byte device [0, ${this.size}); ` +
        'use whole-number offsets and lengths whose end stays within it.', false, { op, offset, length, size: this.size });
    }
    const align = this.geometry.writeAlign;
    if (aligned && (offset % align !== 0 || length % align !== 0)) {
      return otaError('flash-misaligned', `Write of ${length} bytes at ${offset} is not aligned to the ${align}-byte program ` +
        `unit; pad the data and start on a multiple of ${align}.`, false, { offset, length, writeAlign: align });
    }
    return null;
  }

  private unalignedErase(offset: number, length: number): OtaError {
    const around = (at: number): string => {
      const s = this.geometry.sectors[sectorIndexAt(this.geometry, at)];
      return `[${s.offset}, ${s.offset + s.size})`;
    };
    const found = length === 0 ? 'has length 0' : `starts in sector ${around(offset)} and ends in sector ${around(offset + length - 1)}`;
    return otaError('flash-erase-unaligned', `Erase of [${offset}, ${offset + length}) must cover whole sectors, but it ${found}; ` +
      'erase from a sector start to a sector end.', false, { offset, length });
  }
}
