import type { ImagePart, ImageTarget, ImageWriter, TargetStatus } from '../../hal/image-target.js';
import type { HashFactory } from '../integrity/hash.js';
import { crc32Update } from '../integrity/crc32.js';
import { bytesEqual } from '../util/bytes.js';
import { otaError } from '../util/errors.js';
import type { OtaError } from '../util/errors.js';
import type { EspruinoCrypto, EspruinoRuntime } from './runtime.js';
import type { EspruinoFlash } from './flash.js';

// A single staging region of raw flash, for an image something else consumes (a co-processor's firmware, a data
// blob a bootloader copies). Pages are erased just before the first write into them, every chunk is read back
// before it counts as durable, and finish() reads the whole image back for CRC-32 and SHA-256.

/** Options of the Flash region target. */
export interface FlashTargetOptions {
  softwareType: string;
  flash: EspruinoFlash;
  /** Incremental SHA-256 for the read-back; without it, SHA-256 is one-shot over E.memoryArea when `memoryMapped`. */
  hashes?: HashFactory;
  /** True where flash is memory-mapped at its address (STM32, nRF52), so crypto.SHA256 can hash it in place. */
  memoryMapped?: boolean;
  /** Version of what the consumer runs now, for status(). */
  runningVersion?: string | null;
  /** Hands the verified image to its consumer (e.g. tells a bootloader to copy it). */
  onActivate?: (version: string) => Promise<void> | void;
  /** Tells the consumer its image is good. */
  onConfirm?: () => Promise<void> | void;
  /** Read-back chunk in bytes; default 512. */
  chunkSize?: number;
}

/** An ImageTarget over one EspruinoFlash region. */
export class FlashRegionTarget implements ImageTarget {
  softwareType: string;
  private options: FlashTargetOptions;
  private runtime: EspruinoRuntime;
  private verified: string | null = null;

  constructor(options: FlashTargetOptions) {
    this.softwareType = options.softwareType;
    this.options = options;
    this.runtime = options.flash.runtime;
  }

  /** The region size. */
  capacity(): number {
    return this.options.flash.regionSize();
  }

  /** What the consumer runs, as configured. */
  status(): Promise<TargetStatus> {
    const running = this.options.runningVersion;
    return Promise.resolve({ softwareType: this.softwareType, runningVersion: running !== undefined ? running : null, trial: false });
  }

  /** Opens the region at `resumeAt`; the rest of a partly written page must still read erased. */
  begin(part: ImagePart, resumeAt: number): Promise<ImageWriter> {
    const flash = this.options.flash;
    const sectors = flash.geometry.sectors;
    if (part.size <= 0 || part.size > this.capacity() || resumeAt > part.size) {
      return Promise.reject(otaError('image-too-large', 'Image of ' + part.size + ' bytes does not fit the flash region of "' +
        this.softwareType + '" (' + this.capacity() + ' bytes).', false, { size: part.size, capacity: this.capacity() }));
    }
    this.verified = null;
    // Pages up to erasedEnd are erased (or hold this image's bytes); the writer erases the next one on entry.
    let erasedEnd = 0;
    for (let i = 0; i < sectors.length; i++) {
      if (sectors[i].offset < resumeAt) erasedEnd = sectors[i].offset + sectors[i].size;
    }
    let offset = resumeAt;
    const tail = erasedEnd > resumeAt ? erasedEnd - resumeAt : 0;
    const ready = tail === 0 ? Promise.resolve() : flash.read(resumeAt, tail).then(function (rest) {
      for (let i = 0; i < rest.length; i++) {
        if (rest[i] !== 0xff) {
          throw otaError('flash-resume-lost', 'Cannot resume at ' + resumeAt + ': byte ' + (resumeAt + i) + ' is already programmed; ' +
            'restart the download from 0.', true, { resumeAt: resumeAt });
        }
      }
    });
    function eraseUpTo(end: number): Promise<void> {
      if (erasedEnd >= end) return Promise.resolve();
      let page = sectors[0];
      for (let i = 0; i < sectors.length; i++) if (sectors[i].offset === erasedEnd) page = sectors[i];
      return flash.erase(page.offset, page.size).then(function () {
        erasedEnd = page.offset + page.size;
        return eraseUpTo(end);
      });
    }
    return ready.then((): ImageWriter => {
      return {
        write: function (chunk: Uint8Array): Promise<void> {
          if (offset + chunk.length > part.size) {
            return Promise.reject(otaError('image-overflow', 'Image data runs past its declared size of ' + part.size + ' bytes.', false));
          }
          const at = offset;
          return eraseUpTo(at + chunk.length).then(function () {
            return flash.write(at, chunk);
          }).then(function () {
            return flash.read(at, chunk.length);
          }).then(function (back) {
            if (!bytesEqual(back, chunk)) {
              throw otaError('flash-verify-failed', 'Flash read back differs from what was written at ' + at + ' (' + chunk.length +
                ' bytes); the page may be worn or was not erased.', true, { offset: at });
            }
            offset = at + chunk.length;
          });
        },
        durableOffset: function (): number {
          return offset;
        },
        finish: (): Promise<void> => {
          if (offset !== part.size) {
            return Promise.reject(otaError('image-incomplete', 'Finished after ' + offset + ' of ' + part.size + ' bytes.', true));
          }
          return this.readBack(part).then((failure) => {
            if (failure !== null) throw failure;
            this.verified = part.version;
          });
        },
      };
    });
  }

  /** Reads the image back in chunks: CRC-32 always, SHA-256 incrementally or in place. Resolves null when it matches. */
  readBack(part: ImagePart): Promise<OtaError | null> {
    const options = this.options;
    const runtime = this.runtime;
    const step = options.chunkSize !== undefined ? options.chunkSize : 512;
    const hash = part.sha256 !== undefined && options.hashes !== undefined ? options.hashes.sha256() : null;
    let crc = 0;
    function next(at: number): Promise<OtaError | null> {
      if (at >= part.size) {
        if (part.crc32 !== undefined && (crc >>> 0) !== (part.crc32 >>> 0)) {
          return Promise.resolve(otaError('image-crc-mismatch', 'CRC-32 of the flash region read back differs from the release\'s.', true));
        }
        if (part.sha256 === undefined) {
          return Promise.resolve(part.crc32 === undefined
            ? otaError('image-unverifiable', 'The release gives neither a SHA-256 nor a CRC-32; refusing to activate.', false) : null);
        }
        let digest: Uint8Array | null = hash !== null ? hash.digest() : null;
        if (digest === null && options.memoryMapped === true && runtime.E.memoryArea !== undefined) {
          const crypto = runtime.require('crypto') as EspruinoCrypto | undefined;
          if (crypto !== undefined && crypto !== null && typeof crypto.SHA256 === 'function') {
            digest = new Uint8Array(crypto.SHA256(runtime.E.memoryArea(options.flash.start, part.size)));
          }
        }
        if (digest === null) {
          return Promise.resolve(otaError('sha256-unavailable', 'No way to hash the flash region: pass `hashes` or, on memory-mapped ' +
            'flash, set memoryMapped with a crypto.SHA256 build.', false));
        }
        return Promise.resolve(bytesEqual(digest, part.sha256) ? null
          : otaError('image-digest-mismatch', 'SHA-256 of the flash region read back differs from the release\'s; nothing was activated.', true));
      }
      const length = part.size - at < step ? part.size - at : step;
      return options.flash.read(at, length).then(function (data) {
        crc = crc32Update(crc, data, 0, data.length);
        if (hash !== null) hash.update(data);
        return next(at + length);
      });
    }
    return next(0);
  }

  /** Hands the verified image to its consumer. */
  activate(): Promise<void> {
    const version = this.verified;
    if (version === null) {
      return Promise.reject(otaError('image-not-verified', 'activate() needs an image that finish() verified.', false));
    }
    return this.call(this.options.onActivate, version);
  }

  /** Tells the consumer its image is good. */
  confirm(): Promise<void> {
    return this.call(this.options.onConfirm, '');
  }

  /** Runs a hook and waits for what it returns; a hook that throws makes a rejection, not an exception in the agent. */
  private call(hook: ((version: string) => Promise<void> | void) | undefined, version: string): Promise<void> {
    return Promise.resolve().then(function () {
      return hook !== undefined ? hook(version) : undefined;
    }).then(function () {});
  }
}
