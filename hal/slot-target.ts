import type { Flash, FlashSector } from './flash.js';
import { flashSize, sectorIndexAt } from './flash.js';
import type { ImagePart, ImageTarget, ImageWriter, TargetStatus } from './image-target.js';
import type { Slots } from './slots.js';
import type { BootRecord } from './boot-record.js';
import { MAX_SOFTWARE_TYPE_LENGTH, checkRecordText } from './boot-record.js';
import type { Hash, HashFactory } from '../src/integrity/hash.js';
import { crc32Update } from '../src/integrity/crc32.js';
import { bytesEqual, toHex } from '../src/util/bytes.js';
import { otaError } from '../src/util/errors.js';

// An ImageTarget over an A/B slot pair: stages into the slot not running, erasing each sector only when the writer
// reaches it, and reads every write back (compared with what was programmed, while the caller's bytes are still at
// hand) before a completed sector counts durable. The image's CRC-32 and SHA-256 are taken over those read-back bytes,
// so the digest recorded (and checked against the release) is of what flash holds, in one pass instead of a second
// full read at the end. Like Zephyr's stream_flash with its read-back check, and MCUboot, which validates the slot
// again before it boots a trial image.

/** What a SlotTarget needs. */
export interface SlotTargetOptions {
  /** The software type this target accepts (e.g. "main-mcu"). */
  softwareType: string;
  /** Boot-control records of the pair. */
  slots: Slots;
  /** The two image slots (flash areas), index 0 and 1. */
  images: Flash[];
  /** SHA-256 for the read-back check. */
  hashes: HashFactory;
  /** Bytes per read when checking (default 1024; the one read buffer the writer holds, so it bounds memory). */
  readChunk?: number;
  /**
   * Compares programmed bytes with what reads back (default: a byte loop). A host with a native compare passes it
   * here (Node: Buffer.compare); it runs over every byte of the image.
   */
  equal?: (a: Uint8Array, b: Uint8Array) => boolean;
  /** The slot this firmware executes from, when the bootloader hands it over; confirm() refuses records that disagree. */
  runningSlot?: number;
}

/** Result of reading an image back from a slot. */
export interface ImageDigest {
  crc32: number;
  sha256: Uint8Array;
}

/**
 * Reads [start, end) through `buffer` (one read in flight, the next from its callback, so no promise chain grows with
 * the range), feeding each piece to `hash`; resolves the CRC-32 continued from `crc`.
 */
function readThrough(flash: Flash, start: number, end: number, buffer: Uint8Array, hash: Hash, crc: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const step = (at: number): void => {
      if (at >= end) {
        resolve(crc >>> 0);
        return;
      }
      const n = Math.min(buffer.length, end - at);
      flash.read(at, n, buffer).then((bytes) => {
        crc = crc32Update(crc, bytes, 0, n);
        hash.update(n === bytes.length ? bytes : bytes.subarray(0, n));
        step(at + n);
      }).then(null, reject);
    };
    step(start);
  });
}

/** Reads [0, size) of `flash` in chunks of `chunk` bytes and returns its CRC-32 and SHA-256. */
export function digestFlash(flash: Flash, size: number, chunk: number, hashes: HashFactory): Promise<ImageDigest> {
  const hash = hashes.sha256();
  return readThrough(flash, 0, size, new Uint8Array(Math.max(1, Math.min(chunk, size))), hash, 0).then((crc) => {
    return { crc32: crc, sha256: hash.digest() };
  });
}

function isSectorStart(flash: Flash, offset: number): boolean {
  const index = sectorIndexAt(flash.geometry, offset);
  return index >= 0 && flash.geometry.sectors[index].offset === offset;
}

/** Streams one image into a slot. Use through ImageTarget.begin. */
class SlotWriter implements ImageWriter {
  private pos: number;
  private durable: number;
  private readonly tail: Uint8Array;
  private tailLength = 0;
  /** Next flash offset to program (always aligned). */
  private programPos: number;
  /** Index of the last sector erased by this writer, -1 before the first. */
  private erasedThrough = -1;
  /** CRC-32 of the image bytes read back so far. */
  private crc: number;
  private busy = false;
  private finished = false;
  private failed = false;
  private readonly sectors: FlashSector[];

  /** `hash` and `crc` cover image bytes [0, resumeAt) as flash holds them. */
  constructor(private readonly target: SlotTarget, private readonly slot: number, private readonly flash: Flash,
    private readonly part: ImagePart, resumeAt: number, private readonly alreadyStaged: boolean,
    private readonly hash: Hash, crc: number, private readonly buffer: Uint8Array) {
    this.pos = resumeAt;
    this.durable = resumeAt;
    this.programPos = resumeAt;
    this.crc = crc;
    this.tail = new Uint8Array(flash.geometry.writeAlign);
    this.sectors = flash.geometry.sectors;
  }

  /** Appends `chunk`: full program units go to flash now, the unaligned rest waits for the next chunk. */
  write(chunk: Uint8Array): Promise<void> {
    if (this.failed) return Promise.reject(this.failedError());
    if (this.busy || this.finished) {
      return Promise.reject(otaError('writer-busy', this.finished ? 'The image was already finished; begin again.' :
        'ImageWriter.write was called before the previous write resolved; wait for it.', false));
    }
    if (this.pos + chunk.length > this.part.size) {
      return Promise.reject(otaError('image-too-large', 'The image is ' + this.part.size + ' bytes but ' +
        (this.pos + chunk.length) + ' were written; the payload does not match its release.', false,
      { expected: this.part.size, received: this.pos + chunk.length }));
    }
    const align = this.tail.length;
    let i = 0;
    let p: Promise<void> | null = null;
    if (this.tailLength > 0) {
      while (i < chunk.length && this.tailLength < align) this.tail[this.tailLength++] = chunk[i++];
      if (this.tailLength === align) {
        const unit = new Uint8Array(this.tail);
        this.tailLength = 0;
        p = this.programAt(this.reserve(unit.length), unit, 0);
      }
    }
    const whole = Math.floor((chunk.length - i) / align) * align;
    if (whole > 0) {
      const body = i === 0 && whole === chunk.length ? chunk : chunk.subarray(i, i + whole);
      const bodyAt = this.reserve(whole);
      p = p !== null ? p.then(() => { return this.programAt(bodyAt, body, 0); }) : this.programAt(bodyAt, body, 0);
      i += whole;
    }
    while (i < chunk.length) this.tail[this.tailLength++] = chunk[i++];
    this.pos += chunk.length;
    if (p === null) return Promise.resolve();
    this.busy = true;
    return p.then(() => { this.busy = false; }, (e) => {
      this.busy = false;
      this.failed = true;
      throw e;
    });
  }

  private failedError(): object {
    return otaError('writer-failed', 'An earlier write or finish failed; begin again at durableOffset() (' + this.durable +
      ').', false, { durableOffset: this.durable });
  }

  /** Bytes in sectors that were completed and read back. */
  durableOffset(): number {
    return this.durable;
  }

  /** Flushes the padded tail, checks the image digest and records it staged. */
  finish(): Promise<void> {
    const size = this.part.size;
    if (this.failed) return Promise.reject(this.failedError());
    if (this.busy) return Promise.reject(otaError('writer-busy', 'finish() was called while a write was running.', false));
    if (this.pos !== size) {
      return Promise.reject(otaError('image-incomplete', 'Only ' + this.pos + ' of ' + size + ' image bytes were ' +
        'written; write the rest (or resume from durableOffset) before finishing.', false,
      { expected: size, received: this.pos }));
    }
    let p: Promise<void> = Promise.resolve();
    if (this.tailLength > 0) {
      const unit = new Uint8Array(this.tail.length);
      for (let i = 0; i < unit.length; i++) unit[i] = i < this.tailLength ? this.tail[i] : this.flash.geometry.eraseValue;
      this.tailLength = 0;
      const unitAt = this.reserve(unit.length);
      p = p.then(() => { return this.programAt(unitAt, unit, 0); });
    }
    return p.then(() => {
      this.durable = size;
      const digest: ImageDigest = { crc32: this.crc >>> 0, sha256: this.hash.digest() };
      const part = this.part;
      const crcBad = part.crc32 !== undefined && (part.crc32 >>> 0) !== digest.crc32;
      const shaBad = part.sha256 !== undefined && !bytesEqual(part.sha256, digest.sha256);
      // The wrong bytes could be anywhere: nothing is durable any more, so a resume starts over.
      if (crcBad || shaBad) this.durable = 0;
      if (crcBad) {
        throw otaError('image-crc-mismatch', 'The image read back from slot ' + this.slot + ' has CRC-32 ' +
          digest.crc32.toString(16) + ', the release says ' + ((part.crc32 as number) >>> 0).toString(16) + '; download it again.',
        true, { slot: this.slot });
      }
      if (shaBad) {
        throw otaError('image-sha256-mismatch', 'The image read back from slot ' + this.slot + ' has SHA-256 ' +
          toHex(digest.sha256) + ', the release says ' + toHex(part.sha256 as Uint8Array) + '; download it again.', true,
        { slot: this.slot });
      }
      this.finished = true;
      if (this.alreadyStaged) {
        const entry = this.target.slots.entry(this.slot);
        if (entry.state === 'staged' && entry.crc32 === digest.crc32 && bytesEqual(entry.sha256, digest.sha256)) return undefined;
        throw otaError('image-changed', 'Slot ' + this.slot + ' no longer holds the staged image it recorded; restart at 0.',
          false, { slot: this.slot });
      }
      return this.target.slots.stage(this.slot, { size: size, crc32: digest.crc32, sha256: digest.sha256,
        version: part.version, softwareType: this.target.softwareType });
    }).then(null, (e) => {
      this.failed = true;
      throw e;
    });
  }

  private sectorEnd(index: number): number {
    return this.sectors[index].offset + this.sectors[index].size;
  }

  /** Reserves the next `length` bytes of flash (positions advance at queue time; programs run in order). */
  private reserve(length: number): number {
    const at = this.programPos;
    this.programPos += length;
    return at;
  }

  private programAt(at: number, data: Uint8Array, from: number): Promise<void> {
    if (from >= data.length) return Promise.resolve();
    const index = sectorIndexAt(this.flash.geometry, at);
    const end = this.sectorEnd(index);
    const n = Math.min(data.length - from, end - at);
    const piece = from === 0 && n === data.length ? data : data.subarray(from, from + n);
    const erased = index > this.erasedThrough ? this.eraseSector(index) : null;
    const programmed = (erased !== null ? erased.then(() => this.flash.write(at, piece)) : this.flash.write(at, piece))
      .then(() => this.readBack(at, piece, 0))
      .then(() => {
        // A sector counts durable once all of it was programmed and read back: a resume erases the one it lands in.
        if (at + n === end) this.durable = Math.min(end, this.part.size);
      });
    return from + n >= data.length ? programmed : programmed.then(() => this.programAt(at + n, data, from + n));
  }

  private eraseSector(index: number): Promise<void> {
    const s = this.sectors[index];
    return this.flash.erase(s.offset, s.size).then(() => { this.erasedThrough = index; });
  }

  /**
   * Reads back [at, at + piece.length) a buffer at a time, compares it with `piece` and feeds the image part of it (not
   * the padding of the last unit, which `piece` holds as the erase value) to the image's CRC-32 and SHA-256.
   */
  private readBack(at: number, piece: Uint8Array, from: number): Promise<void> {
    const n = Math.min(this.buffer.length, piece.length - from);
    return this.flash.read(at + from, n, this.buffer).then((bytes) => {
      const expected = from === 0 && n === piece.length ? piece : piece.subarray(from, from + n);
      const got = n === bytes.length ? bytes : bytes.subarray(0, n);
      if (!this.target.equal(expected, got)) {
        throw otaError('flash-verify-failed', 'Flash at ' + (at + from) + ' (+' + n + ' bytes) of slot ' + this.slot +
          ' read back differently from what was programmed; resume from durableOffset() (' + this.durable +
          ') to rewrite it.', true, { slot: this.slot, offset: at + from });
      }
      const image = Math.min(n, this.part.size - (at + from));
      if (image > 0) {
        this.crc = crc32Update(this.crc, got, 0, image);
        this.hash.update(image === n ? got : got.subarray(0, image));
      }
      return from + n < piece.length ? this.readBack(at, piece, from + n) : undefined;
    });
  }
}

/** An ImageTarget over an A/B slot pair with boot-control records. */
export class SlotTarget implements ImageTarget {
  readonly softwareType: string;
  readonly slots: Slots;
  readonly hashes: HashFactory;
  readonly readChunk: number;
  /** How read-back bytes are compared with programmed ones. */
  readonly equal: (a: Uint8Array, b: Uint8Array) => boolean;
  /** The slot the bootloader started, when known. */
  readonly runningSlot: number | undefined;
  private readonly images: Flash[];

  /** See SlotTargetOptions. */
  constructor(options: SlotTargetOptions) {
    checkRecordText('Software type', options.softwareType, MAX_SOFTWARE_TYPE_LENGTH);
    if (options.images.length !== 2) {
      throw otaError('slot-target-invalid', 'A SlotTarget needs exactly two image slots, got ' + options.images.length +
        '.', false);
    }
    this.softwareType = options.softwareType;
    this.slots = options.slots;
    this.images = options.images;
    this.hashes = options.hashes;
    this.readChunk = options.readChunk !== undefined ? options.readChunk : 1024;
    this.equal = options.equal !== undefined ? options.equal : bytesEqual;
    this.runningSlot = options.runningSlot;
  }

  /** The smaller of the two slots: any image that fits stages into either. */
  capacity(): number {
    return Math.min(flashSize(this.images[0].geometry), flashSize(this.images[1].geometry));
  }

  /** Running version (from the running slot's record) and whether it is an unconfirmed trial. */
  status(): Promise<TargetStatus> {
    return this.loaded().then(() => {
      const running = this.slots.running();
      const entry = running >= 0 ? this.slots.entry(running) : null;
      return { softwareType: this.softwareType, runningVersion: entry === null ? null : entry.version,
        trial: entry !== null && entry.state === 'trial' };
    });
  }

  /** The decoded boot-control record, loading it first if needed. */
  record(): Promise<BootRecord | null> {
    return this.loaded().then(() => { return this.slots.record(); });
  }

  /** The slot the next image is staged into. */
  stagingSlot(): Promise<number> {
    return this.loaded().then(() => { return this.slots.inactive(); });
  }

  /**
   * Prepares the staging slot. At 0 it records the slot as `writing` this image before erasing anything. A resume
   * (`resumeAt` > 0) must continue the same image, at a durableOffset() value: 0, a sector start of the slot, or the
   * image size; the sector holding it is erased again when the writer reaches it, since a torn tail may sit there.
   */
  begin(part: ImagePart, resumeAt: number): Promise<ImageWriter> {
    return this.loaded().then(() => {
      const slot = this.slots.inactive();
      const flash = this.images[slot];
      const size = flashSize(flash.geometry);
      if (!(part.size >= 0 && part.size <= size)) {
        throw otaError('image-too-large', 'The ' + this.softwareType + ' image is ' + part.size + ' bytes; slot ' + slot +
          ' holds ' + size + '.', false, { size: part.size, capacity: size });
      }
      if (!(resumeAt === 0 || resumeAt === part.size || (resumeAt > 0 && resumeAt < part.size &&
        isSectorStart(flash, resumeAt)))) {
        throw otaError('resume-unaligned', 'Cannot resume at ' + resumeAt + ': resume only at a durableOffset() ' +
          'value (a sector boundary of the slot or the image end), or restart at 0.', false, { resumeAt: resumeAt });
      }
      checkRecordText('Version', part.version, 32);
      if (resumeAt === 0) {
        return this.slots.invalidate(slot, { size: part.size, version: part.version, softwareType: this.softwareType,
          sha256: part.sha256 }).then(() => { return this.writer(slot, part, 0, false); });
      }
      const entry = this.slots.entry(slot);
      const same = entry.size === part.size && entry.version === part.version && entry.softwareType === this.softwareType &&
        (part.sha256 === undefined || bytesEqual(entry.sha256, part.sha256));
      if (same && entry.state === 'writing') {
        return this.slots.settle().then(() => this.writer(slot, part, resumeAt, false));
      }
      if (same && entry.state === 'staged') {
        // A cut after the image was recorded but before the caller saved that fact: nothing to rewrite at the end;
        // in the middle, mark it writing again before touching it.
        if (resumeAt === part.size) {
          return this.slots.settle().then(() => this.writer(slot, part, resumeAt, true));
        }
        return this.slots.invalidate(slot, { size: part.size, version: part.version, softwareType: this.softwareType,
          sha256: part.sha256 }).then(() => this.writer(slot, part, resumeAt, false));
      }
      throw otaError('resume-mismatch', 'Slot ' + slot + ' is ' + entry.state + ' with ' + (entry.version || 'no image') +
        ' (' + entry.size + ' bytes), not being written with ' + part.version + ' (' + part.size + ' bytes); ' +
        'restart this image at 0.', false, { slot: slot, state: entry.state });
    });
  }

  /** Marks the staged image pending: the bootloader tries it next boot. Repeating it is harmless. */
  activate(): Promise<void> {
    return this.loaded().then(() => {
      const slot = this.slots.inactive();
      const state = this.slots.entry(slot).state;
      const r = this.slots.record();
      if (state === 'pending' && r !== null && r.boot === slot) return this.slots.settle();
      if (state !== 'staged') {
        throw otaError('nothing-staged', 'Slot ' + slot + ' is ' + state + '; finish a verified image before ' +
          'activating it.', false, { slot: slot, state: state });
      }
      return this.slots.markPending(slot);
    });
  }

  /** Confirms the running trial image (or makes an existing confirmation durable). */
  confirm(): Promise<void> {
    return this.loaded().then(() => { return this.slots.confirm(this.runningSlot); });
  }

  /** Rejects the trial or pending image; the confirmed fallback boots next. */
  revert(): Promise<void> {
    return this.loaded().then(() => { return this.slots.revert(); });
  }

  /** A writer at `resumeAt`, its digest first rebuilt from the image bytes flash already holds. */
  private writer(slot: number, part: ImagePart, resumeAt: number, alreadyStaged: boolean): Promise<ImageWriter> {
    const flash = this.images[slot];
    const hash = this.hashes.sha256();
    const buffer = new Uint8Array(this.readChunk);
    return readThrough(flash, 0, resumeAt, buffer, hash, 0).then((crc) => {
      return new SlotWriter(this, slot, flash, part, resumeAt, alreadyStaged, hash, crc, buffer) as ImageWriter;
    });
  }

  private loaded(): Promise<void> {
    if (this.slots.isLoaded()) return Promise.resolve();
    return this.slots.load().then(() => { return undefined; });
  }
}
