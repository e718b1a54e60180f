import { closeSync, existsSync, fstatSync, fsyncSync, openSync, readSync, renameSync, writeSync } from 'node:fs';
import type { Flash, FlashGeometry, FlashSector } from '../../hal/flash.js';
import { flashSize } from '../../hal/flash.js';
import type { OtaError } from '../util/errors.js';
import { otaError } from '../util/errors.js';

// A flash part backed by a file: NOR semantics (program = AND, or OR on 0x00-erased parts; erase whole sectors),
// every operation written through and fsynced before it resolves. Killing the process is then a real power loss:
// whatever reached the file is what the next process boots from. Synchronous I/O on purpose, so an operation is
// never half-queued when the process dies between two of them.

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
}

/** A Flash over a file of exactly the geometry's size. */
export class FileFlash implements Flash {
  readonly geometry: FlashGeometry;
  private fd: number | null;
  private readonly size: number;
  private readonly sync: boolean;
  private readonly strict: boolean;
  private opCount = 0;
  private readonly erases: number[];
  private work = new Uint8Array(0);
  private erased = new Uint8Array(0);

  private constructor(readonly path: string, geometry: FlashGeometry, fd: number, options: FileFlashOptions) {
    this.geometry = geometry;
    this.fd = fd;
    this.size = flashSize(geometry);
    this.sync = options.sync ?? true;
    this.strict = options.strict ?? true;
    this.erases = geometry.sectors.map(() => 0);
  }

  /** Opens `path`, creating it fully erased when missing. Rejects a file of another size. */
  static open(path: string, geometry: FlashGeometry, options: FileFlashOptions = {}): FileFlash {
    const size = flashSize(geometry);
    if (!existsSync(path)) {
      // Made aside and renamed: a power cut (kill -9) while filling it leaves no short file to be taken for a smaller flash.
      const aside = `${path}.${process.pid}.new`;
      const made = openSync(aside, 'w');
      const chunk = new Uint8Array(Math.min(size, 65536)).fill(geometry.eraseValue);
      for (let at = 0; at < size; at += chunk.length) writeSync(made, chunk, 0, Math.min(chunk.length, size - at), at);
      fsyncSync(made);
      closeSync(made);
      renameSync(aside, path);
    }
    const fd = openSync(path, 'r+');
    const actual = fstatSync(fd).size;
    if (actual !== size) {
      closeSync(fd);
      throw otaError('flash-file-size', `Flash image ${path} is ${actual} bytes, the geometry needs ${size}; delete it or ` +
        'open it with the geometry it was made with.', false, { path, size, actual });
    }
    return new FileFlash(path, geometry, fd, options);
  }

  /** Mutating operations done through this handle. */
  get ops(): number {
    return this.opCount;
  }

  /** Erases per sector through this handle. */
  eraseCounts(): number[] {
    return this.erases.slice();
  }

  /** Reads `length` bytes from the file, into `into` when given. */
  read(offset: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
    const bad = this.check('read', offset, length, false);
    if (bad !== null) return Promise.reject(bad);
    const out = into !== undefined && into.length >= length ? into.subarray(0, length) : new Uint8Array(length);
    this.readInto(out, offset);
    return Promise.resolve(out);
  }

  /** Programs aligned `data` onto cells that can take it (erased, or already holding bits the data keeps). */
  write(offset: number, data: Uint8Array): Promise<void> {
    const bad = this.check('write', offset, data.length, true);
    if (bad !== null) return Promise.reject(bad);
    const cells = this.scratch(data.length);
    this.readInto(cells, offset);
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
    this.put(cells, offset);
    return Promise.resolve();
  }

  /** Erases the whole sectors covering exactly [offset, offset + length). */
  erase(offset: number, length: number): Promise<void> {
    const bad = this.check('erase', offset, length, false);
    if (bad !== null) return Promise.reject(bad);
    const sectors = this.sectorsExactly(offset, length);
    if (sectors === null) {
      return Promise.reject(otaError('flash-erase-unaligned', `Erase of [${offset}, ${offset + length}) does not cover whole ` +
        'sectors; erase from a sector start to a sector end.', false, { offset, length }));
    }
    this.opCount++;
    for (const index of sectors) {
      const s: FlashSector = this.geometry.sectors[index];
      this.put(this.erasedBytes(s.size), s.offset);
      this.erases[index]++;
    }
    return Promise.resolve();
  }

  /** Closes the file; later operations fail. */
  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
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
      if (n <= 0) break;
      done += n;
    }
  }

  private put(bytes: Uint8Array, offset: number): void {
    let done = 0;
    while (done < bytes.length) done += writeSync(this.fd as number, bytes, done, bytes.length - done, offset + done);
    if (this.sync) fsyncSync(this.fd as number);
  }

  private check(op: string, offset: number, length: number, aligned: boolean): OtaError | null {
    if (this.fd === null) return otaError('flash-closed', `${op} on closed flash file ${this.path}; open it again.`, false);
    if (!(Number.isInteger(offset) && Number.isInteger(length) && offset >= 0 && length >= 0 && offset + length <= this.size)) {
      return otaError('flash-out-of-range', `${op} of ${length} bytes at ${offset} is outside the ${this.size}-byte device.`, false,
        { op, offset, length, size: this.size });
    }
    const align = this.geometry.writeAlign;
    if (aligned && (offset % align !== 0 || length % align !== 0)) {
      return otaError('flash-misaligned', `Write of ${length} bytes at ${offset} is not aligned to the ${align}-byte program ` +
        `unit; pad the data and start on a multiple of ${align}.`, false, { offset, length, writeAlign: align });
    }
    return null;
  }

  private sectorsExactly(offset: number, length: number): number[] | null {
    const out: number[] = [];
    let at = offset;
    this.geometry.sectors.forEach((s, i) => {
      if (at < offset + length && s.offset === at) {
        out.push(i);
        at += s.size;
      }
    });
    return at === offset + length && length > 0 ? out : null;
  }
}
