import { checkManifest, placePart } from './device-check.js';
import type { DeviceProfile } from './device-check.js';
import { MAGIC, PART_PREFIX_SIZE, PREAMBLE_SIZE, bundleLength, hasMagic, partDataOffset, readPreamble } from './framing.js';
import { verifyHeader } from './header.js';
import type { TrustPolicy, VerifiedHeader } from './header.js';
import type { Requirement } from './manifest.js';
import type { ImagePart, ImageTarget, ImageWriter } from '../../hal/image-target.js';
import { crc32Update } from '../integrity/crc32.js';
import type { HashFactory } from '../integrity/hash.js';
import { toHex } from '../util/bytes.js';
import { deviceFailure, isOtaError, otaError, toOtaError } from '../util/errors.js';
import type { OtaError } from '../util/errors.js';

// The streaming unpacker: a sink fed chunks of any size (docs/bundle-format.md, "Streaming and resume").
// Order of work: preamble -> header (buffered, <= 16 KiB) -> signature/MAC -> manifest -> device checks -> only then
// the first flash operation -> each part streamed into its target's staging slot -> each part checked by reading it
// back -> end of stream exactly after the last part. Memory: the 12-byte preamble, the header while it is checked,
// a 4-byte prefix and a few checkpoints; part bytes pass through as views of the caller's chunks.

/** A payload without the magic: one image for the software type the agent asked the server about. */
export interface RawImage {
  softwareType: string;
  version: string;
  /** The payload's length (Content-Length or the Content-Range total). */
  size: number;
}

/**
 * What the agent journals to resume after a reboot: a few numbers, JSON-safe. `partIndex` counts parts in stream
 * order; parts before it are complete and verified; `partOffset` bytes of part `partIndex` are durable in flash
 * and `crc` is the CRC-32 of exactly those bytes.
 */
export interface UnpackState {
  /** Hex SHA-256 of preamble + header; "" for a raw image. */
  headerDigest: string;
  /** Header length H (0 for a raw image), so the agent can fetch bytes 0..12+H-1 again. */
  headerLength: number;
  partIndex: number;
  partOffset: number;
  crc: number;
}

/** Everything the unpacker needs. */
export interface UnpackerOptions {
  device: DeviceProfile;
  trust: TrustPolicy;
  hashes: HashFactory;
  /** Content-Length / Content-Range total when known: any other computed bundle length is refused before writing. */
  totalLength?: number;
  /** How to take a payload without the magic; omitted = raw payloads are refused. */
  raw?: RawImage;
  /** A journaled state of an earlier run of this same download. */
  resume?: UnpackState;
  /**
   * Power of two dividing every sector boundary of the targets (default 256): the running CRC is snapshotted at
   * its multiples so state() can name exactly the offset a target reports durable. Coarsened as needed (<= 32 kept).
   */
  checkpointGrain?: number;
}

/** A part staged and verified in its target. */
export interface StagedPart {
  softwareType: string;
  version: string;
  /** Activation order (lower first). */
  order: number;
  requires: Requirement[];
  target: ImageTarget;
}

/** The outcome of a complete unpack: what to activate. */
export interface UnpackResult {
  /** Null for a raw image. */
  header: VerifiedHeader | null;
  /** Hex SHA-256 of preamble + header; "" for a raw image. */
  headerDigest: string;
  /** The bundle's sequence, to store once the release is confirmed; null for a raw image. */
  sequence: number | null;
  parts: StagedPart[];
}

/** Where the unpacker is in the stream. */
export type UnpackPhase = 'preamble' | 'header' | 'prefix' | 'data' | 'done' | 'failed';

interface Checkpoint {
  offset: number;
  crc: number;
}

const MAX_CHECKPOINTS = 32;
const DEFAULT_GRAIN = 256;

function hexDigest(header: VerifiedHeader | null): string {
  return header === null ? '' : toHex(header.digest);
}

function toHex8(value: number): string {
  const text = (value >>> 0).toString(16);
  return '00000000'.substring(text.length) + text;
}

/** A flash or power error: the device's, never the payload's; it passes through the unpacker unchanged. */
function isDeviceFault(error: unknown): boolean {
  return isOtaError(error) && (error.code === 'power-cut' || error.code.indexOf('flash-') === 0);
}

/**
 * Marks a final rejection of an authenticated manifest (this device's checks) as a refusal of the payload itself
 * (`details.refused`), which the agent never fetches again. Flash and power errors met on the way (reading a target's
 * status) are the device's, not the payload's, and pass unmarked.
 */
function refusing<T>(step: Promise<T>): Promise<T> {
  return step.then(undefined, function (error: unknown) {
    if (isOtaError(error) && !error.retryable && !isDeviceFault(error)) {
      if (error.details === undefined) error.details = {};
      error.details.refused = true;
    }
    throw error;
  });
}

/** Streams a bundle (or a raw image) into the device's targets. One push at a time; see docs/bundle-format.md. */
export class BundleUnpacker {
  private phase: UnpackPhase = 'preamble';
  private readonly preamble = new Uint8Array(PREAMBLE_SIZE);
  private preambleFill = 0;
  private header: Uint8Array | null = null;
  private headerFill = 0;
  private verified: VerifiedHeader | null = null;
  private isRaw = false;
  private parts: ImagePart[] = [];
  private staged: StagedPart[] = [];
  private readonly prefix = new Uint8Array(PART_PREFIX_SIZE);
  private prefixFill = 0;
  private partIndex = 0;
  private partFed = 0;
  private crc = 0;
  private writer: ImageWriter | null = null;
  private checkpoints: Checkpoint[] = [];
  private grain: number;
  private position = 0;
  private failure: OtaError | null = null;
  private busy = false;

  /** Makes an unpacker for one download. With `options.resume`, feed the header again from byte 0 first. */
  constructor(private readonly options: UnpackerOptions) {
    this.grain = options.checkpointGrain !== undefined ? options.checkpointGrain : DEFAULT_GRAIN;
    const resume = options.resume;
    if (resume !== undefined && resume.headerDigest === '') {
      // A raw image has no header to re-check: continue straight at the journaled offset.
      this.position = resume.partOffset;
    }
  }

  /** Where the stream is. */
  currentPhase(): UnpackPhase {
    return this.phase;
  }

  /**
   * The absolute payload offset the next pushed byte is taken to be at. After each push resolves the caller
   * compares it with its own position; when they differ (a resumed header was re-checked, a part must be fetched
   * again) it discards the rest and requests `Range: bytes=<nextOffset()>-` with If-Range.
   */
  nextOffset(): number {
    return this.position;
  }

  /** The verified header, once checked. */
  verifiedHeader(): VerifiedHeader | null {
    return this.verified;
  }

  /**
   * The resumable state: null while nothing durable exists (restart from byte 0). Safe to journal at any time;
   * its offset never exceeds what the target reports durable.
   */
  state(): UnpackState | null {
    if (this.verified === null && !this.isRaw) {
      const resume = this.options.resume;
      return resume === undefined ? null : resume;
    }
    let offset = 0;
    let crc = 0;
    if (this.writer !== null && this.checkpoints.length > 0) {
      const best = this.bestCheckpoint(this.writer.durableOffset());
      offset = best.offset;
      crc = best.crc;
    } else if (this.phase === 'data' && this.checkpoints.length > 0) {
      offset = this.checkpoints[0].offset;
      crc = this.checkpoints[0].crc;
    }
    return {
      headerDigest: hexDigest(this.verified), headerLength: this.verified === null ? 0 : this.verified.headerLength,
      partIndex: this.partIndex, partOffset: offset, crc: crc,
    };
  }

  /**
   * The absolute payload offset that state() stands for (where a resumed download continues after the header);
   * 0 while state() is null. For a journaled state before the header is re-checked, the journal's offset is unknown
   * here (it needs the part sizes): it returns 0 until then.
   */
  stateOffset(): number {
    const state = this.state();
    if (state === null) return 0;
    if (this.isRaw || state.headerDigest === '') return state.partOffset;
    if (this.verified === null) return 0;
    if (state.partIndex >= this.parts.length) return bundleLength(this.verified.headerLength, this.sizes());
    return partDataOffset(this.verified.headerLength, this.sizes(), state.partIndex) + state.partOffset;
  }

  /** Feeds the bytes at nextOffset(). Resolves once they are accepted; rejects with a specific OtaError. */
  push(chunk: Uint8Array): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure);
    if (this.busy) {
      return Promise.reject(otaError('unpacker-busy', 'push() was called before the previous push resolved; feed one chunk at a time.', false));
    }
    this.busy = true;
    let work: Promise<void>;
    try {
      work = this.consume(chunk, 0);
    } catch (error) {
      work = Promise.reject(error);
    }
    return work.then(() => {
      this.busy = false;
    }, (error: unknown) => {
      this.busy = false;
      throw this.fail(error);
    });
  }

  /** Signals the end of the stream. Resolves with the staged parts when the last part verified and nothing followed. */
  end(): Promise<UnpackResult> {
    if (this.failure !== null) return Promise.reject(this.failure);
    if (this.busy) return Promise.reject(otaError('unpacker-busy', 'end() was called while a push was pending.', false));
    if (this.phase !== 'done') {
      // Not a failure of the unpacker: the caller may reconnect and push the rest.
      return Promise.reject(otaError('bundle-truncated', 'The payload ended at byte ' + this.position + ' before the bundle was ' +
        'complete; the rest is fetched from that offset.', true, { nextOffset: this.position, phase: this.phase }));
    }
    return Promise.resolve({
      header: this.verified, headerDigest: hexDigest(this.verified),
      sequence: this.verified === null ? null : this.verified.manifest.sequence, parts: this.staged,
    });
  }

  private fail(error: unknown): OtaError {
    const e = toOtaError(error, 'unpack-failed', false);
    // A transport-class error (truncation, CRC in transit) leaves the unpacker resumable through state();
    // everything else is final for this download.
    this.failure = e;
    this.phase = 'failed';
    return e;
  }

  private bestCheckpoint(durable: number): Checkpoint {
    let best = this.checkpoints[0];
    for (let i = 0; i < this.checkpoints.length; i++) if (this.checkpoints[i].offset <= durable) best = this.checkpoints[i];
    return best;
  }

  /**
   * Advances the running CRC over bytes [start, end) of `chunk` (part offsets from partFed), snapshotting it at every
   * multiple of the checkpoint grain: targets report durability at sector boundaries, which are multiples of a
   * power of two, so the CRC at the offset a target calls durable is one of these snapshots.
   */
  private advanceCrc(chunk: Uint8Array, start: number, end: number): void {
    let at = start;
    while (at < end) {
      const offset = this.partFed + (at - start);
      const boundary = (Math.floor(offset / this.grain) + 1) * this.grain;
      const stop = Math.min(end, start + (boundary - this.partFed));
      this.crc = crc32Update(this.crc, chunk, at, stop);
      at = stop;
      if (this.partFed + (at - start) === boundary) this.checkpoints.push({ offset: boundary, crc: this.crc });
    }
  }

  /** Forgets checkpoints the target's durable offset made obsolete; coarsens the grain when too many are pending. */
  private pruneCheckpoints(): void {
    const durable = this.writer === null ? 0 : this.writer.durableOffset();
    let keepFrom = 0;
    for (let i = 0; i < this.checkpoints.length; i++) if (this.checkpoints[i].offset <= durable) keepFrom = i;
    let kept: Checkpoint[] = [];
    for (let i = keepFrom; i < this.checkpoints.length; i++) kept.push(this.checkpoints[i]);
    while (kept.length > MAX_CHECKPOINTS) {
      this.grain *= 2;
      const coarse: Checkpoint[] = [kept[0]];
      for (let i = 1; i < kept.length; i++) if (kept[i].offset % this.grain === 0) coarse.push(kept[i]);
      kept = coarse;
    }
    this.checkpoints = kept;
  }

  private consume(chunk: Uint8Array, start: number): Promise<void> {
    let at = start;
    while (at < chunk.length) {
      if (this.phase === 'preamble') {
        if (this.options.resume !== undefined && this.options.resume.headerDigest === '') return this.startRaw(chunk, at);
        while (at < chunk.length && this.preambleFill < PREAMBLE_SIZE) this.preamble[this.preambleFill++] = chunk[at++];
        this.position = this.preambleFill;
        if (this.preambleFill >= MAGIC.length && !hasMagic(this.preamble)) return this.startRaw(chunk, at);
        if (this.preambleFill < PREAMBLE_SIZE) continue;
        const pre = readPreamble(this.preamble);
        if (this.options.totalLength !== undefined && this.options.totalLength < PREAMBLE_SIZE + pre.headerLength) {
          throw otaError('length-mismatch', 'The payload is ' + this.options.totalLength + ' bytes but its header alone claims ' +
            pre.headerLength + '; nothing was buffered.', false, { totalLength: this.options.totalLength });
        }
        this.header = new Uint8Array(pre.headerLength);
        this.headerFill = 0;
        this.phase = 'header';
      } else if (this.phase === 'header') {
        const header = this.header as Uint8Array;
        const n = Math.min(header.length - this.headerFill, chunk.length - at);
        header.set(chunk.subarray(at, at + n), this.headerFill);
        this.headerFill += n;
        at += n;
        this.position += n;
        if (this.headerFill < header.length) continue;
        return this.afterHeader(chunk, at);
      } else if (this.phase === 'prefix') {
        while (at < chunk.length && this.prefixFill < PART_PREFIX_SIZE) this.prefix[this.prefixFill++] = chunk[at++];
        this.position = this.prefixPosition() + this.prefixFill;
        if (this.prefixFill < PART_PREFIX_SIZE) continue;
        const length = new DataView(this.prefix.buffer, 0, PART_PREFIX_SIZE).getUint32(0, false);
        const part = this.parts[this.partIndex];
        if (length !== part.size) {
          throw otaError('part-length-mismatch', 'Part ' + this.partIndex + ' ("' + this.staged[this.partIndex].softwareType + '") is ' +
            'framed as ' + length + ' bytes but signed as ' + part.size + '; the bundle is corrupt.', false,
          { partIndex: this.partIndex, framed: length, signed: part.size });
        }
        return this.afterPrefix(chunk, at);
      } else if (this.phase === 'data') {
        return this.writeData(chunk, at);
      } else if (this.phase === 'done') {
        throw otaError('trailing-bytes', 'Bytes follow the last part at offset ' + this.position + '; a bundle ends exactly after ' +
          'its last part. The staged parts will not be activated.', false, { offset: this.position });
      } else {
        throw this.failure === null ? otaError('unpack-failed', 'The unpacker is in state ' + this.phase + '.', false) : this.failure;
      }
    }
    return Promise.resolve();
  }

  // The asynchronous steps of consume() live in their own methods, so no closure captures a loop variable (the
  // ES5 lowering would wrap the loop body in a function per iteration otherwise).

  /** Header complete: validate it, then continue with the rest of the chunk (dropped when resuming). */
  private afterHeader(chunk: Uint8Array, at: number): Promise<void> {
    return this.validate().then(() => {
      // A resumed download jumps: the caller re-requests from nextOffset(), so the rest of this chunk is dropped.
      if (this.options.resume !== undefined) return undefined;
      return this.consume(chunk, at);
    });
  }

  /** Prefix checked: open the part's writer, then continue. */
  private afterPrefix(chunk: Uint8Array, at: number): Promise<void> {
    return this.beginPart(0, 0).then(() => {
      return this.consume(chunk, at);
    });
  }

  /** Writes the part's bytes found at `at`, finishing the part when they complete it, then continues. */
  private writeData(chunk: Uint8Array, at: number): Promise<void> {
    const part = this.parts[this.partIndex];
    const n = Math.min(part.size - this.partFed, chunk.length - at);
    const next = at + n;
    this.advanceCrc(chunk, at, next);
    this.partFed += n;
    this.position += n;
    return (this.writer as ImageWriter).write(chunk.subarray(at, next)).then(undefined, deviceFailure).then(() => {
      this.pruneCheckpoints();
      if (this.partFed < part.size) return this.consume(chunk, next);
      return this.finishPart().then(() => {
        return this.consume(chunk, next);
      });
    });
  }

  private prefixPosition(): number {
    const sizes: number[] = [];
    for (let i = 0; i < this.parts.length; i++) sizes.push(this.parts[i].size);
    return partDataOffset((this.verified as VerifiedHeader).headerLength, sizes, this.partIndex) - PART_PREFIX_SIZE;
  }

  /** Header complete: authenticate, check against the device, then (resume) re-verify finished parts. */
  private validate(): Promise<void> {
    const options = this.options;
    const resume = options.resume;
    // A header that fails to verify is not refused for good: nothing vouches for those bytes, so one flipped in transit
    // (plain HTTP, or Espruino's TLS that checks no certificate) must not make the device skip a genuine release.
    // The agent fetches it again, up to maxAttemptsPerRelease.
    return verifyHeader(this.preamble, this.header as Uint8Array, options.trust, options.hashes).then((verified) => {
      const digest = toHex(verified.digest);
      if (resume !== undefined && resume.headerDigest !== digest) {
        throw otaError('resume-header-changed', 'The bundle header differs from the one journaled for this download (digest ' +
          digest.substring(0, 16) + '... vs ' + resume.headerDigest.substring(0, 16) + '...); discard the saved state and start ' +
          'again from byte 0.', false);
      }
      const sizes: number[] = [];
      for (let i = 0; i < verified.manifest.parts.length; i++) sizes.push(verified.manifest.parts[i].size);
      const total = bundleLength(verified.headerLength, sizes);
      if (options.totalLength !== undefined && options.totalLength !== total) {
        throw otaError('length-mismatch', 'The payload is ' + options.totalLength + ' bytes but the signed manifest adds up to ' + total +
          '; the server or the bundle is wrong. Nothing was written.', false, { totalLength: options.totalLength, expected: total });
      }
      return refusing(checkManifest(verified.manifest, options.device, resume !== undefined)).then((targets) => {
        this.verified = verified;
        this.header = null;
        const parts = verified.manifest.parts;
        for (let i = 0; i < parts.length; i++) {
          this.parts.push({ size: parts[i].size, version: parts[i].version, sha256: parts[i].sha256, crc32: parts[i].crc32 });
          this.staged.push({
            softwareType: parts[i].softwareType, version: parts[i].version, order: parts[i].order, requires: parts[i].requires,
            target: targets[i],
          });
        }
        if (resume === undefined) {
          this.phase = 'prefix';
          this.prefixFill = 0;
          return undefined;
        }
        return this.resumeParts(resume);
      });
    });
  }

  /**
   * Reopens the journaled part at its offset. Parts before it finished with a read-back check and were recorded
   * staged by their targets before the journal moved past them, so they are not touched again (activation and the
   * bootloader check them once more).
   */
  private resumeParts(resume: UnpackState): Promise<void> {
    if (resume.partIndex > this.parts.length || resume.partIndex < 0 ||
      (resume.partIndex < this.parts.length && resume.partOffset > this.parts[resume.partIndex].size)) {
      return Promise.reject(otaError('resume-state-invalid', 'The journaled state (part ' + resume.partIndex + ', offset ' +
        resume.partOffset + ') does not fit this bundle; start again from byte 0.', false));
    }
    this.partIndex = resume.partIndex;
    if (this.partIndex >= this.parts.length) {
      this.phase = 'done';
      this.position = bundleLength((this.verified as VerifiedHeader).headerLength, this.sizes());
      return Promise.resolve();
    }
    return this.alreadyStaged(resume.partOffset).then((staged) => {
      if (!staged) return this.beginPart(resume.partOffset, resume.crc);
      // The part finished and verified before the cut; only the journal had not moved past it yet.
      this.nextPart();
      return undefined;
    });
  }

  /**
   * True when the journaled part, resumed in its middle, is in fact complete in its target: a power cut after the
   * target recorded it staged but before the journal checkpoint that moves past it. Its target re-checks it against
   * the signed digest by reading it back (begin at the image end, then finish), so nothing unverified is kept, and
   * a slot still being written simply fails the check and is resumed where the journal says.
   */
  private alreadyStaged(offset: number): Promise<boolean> {
    const part = this.parts[this.partIndex];
    if (offset <= 0 || offset >= part.size || part.sha256 === undefined) return Promise.resolve(false);
    const target = this.staged[this.partIndex].target;
    return target.begin(part, part.size).then((writer) => writer.finish()).then(() => true, (error: unknown) => {
      if (isOtaError(error) && error.code === 'power-cut') throw error;
      return false;
    });
  }

  /** Moves past the current part (complete and verified) to the next part's prefix, or to the end. */
  private nextPart(): void {
    this.writer = null;
    this.partIndex++;
    this.partFed = 0;
    this.crc = 0;
    this.checkpoints = [];
    this.prefixFill = 0;
    if (this.partIndex >= this.parts.length) {
      this.phase = 'done';
      // A raw image has no header: its position already stands at its end.
      if (this.verified !== null) this.position = bundleLength(this.verified.headerLength, this.sizes());
    } else {
      this.phase = 'prefix';
      this.position = this.prefixPosition();
    }
  }

  private sizes(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.parts.length; i++) out.push(this.parts[i].size);
    return out;
  }

  /** Opens the current part's writer at `offset` (its first flash operation) and enters the data phase. */
  private beginPart(offset: number, crc: number): Promise<void> {
    const part = this.parts[this.partIndex];
    const target = this.staged[this.partIndex].target;
    const place = (at: number, seed: number): void => {
      this.partFed = at;
      this.crc = seed;
      this.checkpoints = [{ offset: at, crc: seed }];
      this.grain = this.options.checkpointGrain !== undefined ? this.options.checkpointGrain : DEFAULT_GRAIN;
      this.position = this.isRaw ? at : partDataOffset((this.verified as VerifiedHeader).headerLength, this.sizes(), this.partIndex) + at;
    };
    place(offset, crc);
    return target.begin(part, offset).then((writer) => writer, (error: unknown) => {
      if (offset === 0 || isDeviceFault(error)) throw error;
      // The target cannot continue there (an offset it does not accept, or the image already recorded staged
      // before the journal moved on): restart this part from its first byte; nextOffset() tells the caller.
      place(0, 0);
      return target.begin(part, 0);
    }).then((writer) => {
      this.writer = writer;
      this.phase = 'data';
      if (this.partFed === part.size) return this.finishPart();
      return undefined;
    });
  }

  /** A part's last byte arrived: compare the transit CRC, then let the target read the image back. */
  private finishPart(): Promise<void> {
    const part = this.parts[this.partIndex];
    const type = this.staged[this.partIndex].softwareType;
    if (part.crc32 !== undefined && this.crc !== part.crc32) {
      const index = this.partIndex;
      // Restart this part on retry: the journaled state points at its first byte.
      this.checkpoints = [{ offset: 0, crc: 0 }];
      this.writer = null;
      return Promise.reject(otaError('part-crc-mismatch', 'Part ' + index + ' ("' + type + '") arrived with CRC-32 ' + toHex8(this.crc) +
        ' but the manifest says ' + toHex8(part.crc32) + ': corrupted in transit. Nothing was activated; the payload is downloaded again.', true, { partIndex: index, softwareType: type }));
    }
    const writer = this.writer as ImageWriter;
    return writer.finish().then(() => {
      this.nextPart();
    }, (error: unknown) => {
      throw this.verifyFailed(error);
    });
  }

  /** Maps a failed read-back of the current part; flash and power errors pass through unchanged. */
  private verifyFailed(error: unknown): unknown {
    if (isDeviceFault(error)) return error;
    const type = this.staged[this.partIndex].softwareType;
    return otaError('part-digest-mismatch', 'Part ' + this.partIndex + ' ("' + type + '") does not read back from flash as signed ' +
      '(size, SHA-256 or CRC-32 differ) although its bytes arrived intact: the bundle was tampered with or the flash is faulty. It ' +
      'will not be activated.', false, { partIndex: this.partIndex, softwareType: type, cause: isOtaError(error) ? error.code : String(error) },
    error);
  }

  /** The payload has no magic: a raw image for the queried software type, when policy allows. */
  private startRaw(chunk: Uint8Array, at: number): Promise<void> {
    const options = this.options;
    const raw = options.raw;
    if (raw === undefined || options.trust.verifiers.length > 0 || !options.trust.allowUnsigned) {
      return Promise.reject(otaError('raw-image-not-allowed', 'The payload does not start with "OTAB" (a raw image) and this device ' +
        (raw === undefined ? 'was not told which software type it is for' : 'accepts only signed bundles') + '. Serve a signed bundle.',
      false));
    }
    if (options.totalLength !== undefined && options.totalLength !== raw.size) {
      return Promise.reject(otaError('length-mismatch', 'The raw image is announced as ' + raw.size + ' bytes but the payload is ' +
        options.totalLength + '.', false));
    }
    let target: ImageTarget;
    try {
      target = placePart(options.device.targets, raw.softwareType, raw.size);
    } catch (error) {
      return Promise.reject(error);
    }
    this.isRaw = true;
    this.parts = [{ size: raw.size, version: raw.version }];
    this.staged = [{ softwareType: raw.softwareType, version: raw.version, order: 0, requires: [], target: target }];
    const resume = options.resume;
    const offset = resume === undefined ? 0 : resume.partOffset;
    const seed = resume === undefined ? 0 : resume.crc;
    const held = resume === undefined ? new Uint8Array(this.preamble.subarray(0, this.preambleFill)) : new Uint8Array(0);
    return this.beginPart(offset, seed).then(() => {
      if (held.length === 0) return this.consume(chunk, at);
      // Replay the bytes read while looking for the magic: they are the image's first bytes.
      return this.consume(held, 0).then(() => {
        return this.consume(chunk, at);
      });
    });
  }
}
