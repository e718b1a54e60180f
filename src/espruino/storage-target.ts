import type { ImagePart, ImageTarget, ImageWriter, TargetStatus } from '../../hal/image-target.js';
import { bytesEqual } from '../util/bytes.js';
import { otaError } from '../util/errors.js';
import type { OtaError } from '../util/errors.js';
import { BootPointer } from './boot-pointer.js';
import type { BootRecord } from './boot-pointer.js';
import type { EspruinoCrypto, EspruinoRuntime, EspruinoStorage } from './runtime.js';
import { deviceRuntime } from './runtime.js';

// The application's own JavaScript as the image: two Storage files are the A/B banks and a boot-pointer pair names
// the active one. A staged file is created at its full size on the first write and filled at increasing offsets
// (unwritten bytes read 0xFF), then verified in place: crypto.SHA256(Storage.read(name)) hashes memory-mapped flash.

/** Options of the Storage-file target. */
export interface StorageTargetOptions {
  softwareType: string;
  /** The two bank files, e.g. ["app.a.js", "app.b.js"] (names up to 28 characters). */
  banks: string[];
  /** Prefix of the boot-pointer files (PREFIX0.json, PREFIX1.json); default "ota". */
  pointerPrefix?: string;
  /** Largest image accepted, in bytes. */
  capacity: number;
  /**
   * Version of the application uploaded as the first bank, reported until the first update writes the boot pointer;
   * default unknown (null), and a device that reports no version is offered even the release it runs.
   */
  initialVersion?: string;
  /** Boots a trial gets before the loader reverts; default 3. */
  maxAttempts?: number;
  /** "sha256" (default) requires crypto.SHA256; "crc32" accepts E.CRC32 alone, for boards without SHA-256 (ESP8266). */
  verify?: 'sha256' | 'crc32';
  runtime?: EspruinoRuntime;
}

/** A copy of `r` with another staged file. */
function withStaged(r: BootRecord, file: string | null, version: string | null): BootRecord {
  return { seq: r.seq, active: r.active, version: r.version, trial: r.trial, attempts: r.attempts, maxAttempts: r.maxAttempts,
    fallback: r.fallback, fallbackVersion: r.fallbackVersion, staged: file, stagedVersion: version };
}

/** An ImageTarget whose banks are Storage files. */
export class StorageFileTarget implements ImageTarget {
  softwareType: string;
  private runtime: EspruinoRuntime;
  private storage: EspruinoStorage;
  private pointer: BootPointer;
  private banks: string[];
  private size: number;
  private maxAttempts: number;
  private verifyMode: string;
  private initial: string | null;

  constructor(options: StorageTargetOptions) {
    if (options.banks.length !== 2 || options.banks[0] === options.banks[1]) {
      throw otaError('storage-banks-invalid', 'A Storage target needs two different bank files, e.g. ["app.a.js", "app.b.js"].', false);
    }
    this.softwareType = options.softwareType;
    this.runtime = options.runtime || deviceRuntime();
    this.storage = this.runtime.require('Storage') as EspruinoStorage;
    this.pointer = new BootPointer(this.storage, options.pointerPrefix || 'ota');
    this.banks = [options.banks[0], options.banks[1]];
    this.size = options.capacity;
    this.maxAttempts = options.maxAttempts !== undefined ? options.maxAttempts : 3;
    this.verifyMode = options.verify || 'sha256';
    this.initial = options.initialVersion || null;
  }

  /**
   * The newest boot record, or the implied one of a fresh device (bank A at initialVersion). A record naming another
   * file Storage lacks (left from an earlier install or configuration) cannot be what runs: the loader boots bank A
   * then, so this does too. Its `staged: ""` makes begin() supersede it before writing, lest the staged file revive it.
   */
  record(): BootRecord {
    const found = this.pointer.read();
    if (found !== null && (found.active === this.banks[0] || this.storage.read(found.active) !== undefined)) return found;
    return { seq: 0, active: this.banks[0], version: this.initial, trial: false, attempts: 0, maxAttempts: this.maxAttempts, fallback: null,
      fallbackVersion: null, staged: found !== null ? '' : null, stagedVersion: null };
  }

  /** The bank that does not run now. */
  stagingFile(): string {
    return this.record().active === this.banks[0] ? this.banks[1] : this.banks[0];
  }

  /** Largest image accepted. */
  capacity(): number {
    return this.size;
  }

  /**
   * What runs now, from the boot pointer. An activated trial the loader has not booted yet (no boot counted) is only
   * pending: the fallback still runs, so the agent reboots into the trial instead of taking it as already running.
   */
  status(): Promise<TargetStatus> {
    const r = this.record();
    const pending = r.trial && r.attempts === 0;
    return Promise.resolve({ softwareType: this.softwareType, runningVersion: pending ? r.fallbackVersion : r.version, trial: r.trial && !pending });
  }

  /** Opens the staging bank at `resumeAt`: 0 deletes it; more requires the pre-sized file of an earlier begin. */
  begin(part: ImagePart, resumeAt: number): Promise<ImageWriter> {
    const r = this.record();
    if (r.trial) {
      return Promise.reject(otaError('trial-unconfirmed', 'The running application ' + r.active + ' is an unconfirmed trial, and ' +
        'the other bank is its fallback; confirm it (or let it revert) before staging another image.', false));
    }
    if (part.size > this.size || part.size <= 0) {
      return Promise.reject(otaError('image-too-large', 'Image of ' + part.size + ' bytes does not fit the Storage target "' +
        this.softwareType + '" (capacity ' + this.size + ' bytes).', false, { size: part.size, capacity: this.size }));
    }
    const file = this.stagingFile();
    const storage = this.storage;
    if (r.staged !== null) {
      const cleared = this.writePointer(withStaged(r, null, null));
      if (cleared !== null) return cleared;
    }
    if (resumeAt > 0) {
      const existing = storage.read(file);
      if (existing === undefined || existing.length !== part.size || resumeAt > part.size) {
        return Promise.reject(otaError('storage-resume-lost', 'Cannot resume ' + file + ' at ' + resumeAt + ': the file is missing or ' +
          'not ' + part.size + ' bytes; restart the download from 0.', true, { file: file, resumeAt: resumeAt }));
      }
    } else {
      storage.erase(file);
      const free = typeof storage.getFree === 'function' ? storage.getFree() : -1;
      if (free >= 0 && free < part.size + 64) {
        return Promise.reject(otaError('storage-full', 'Storage has room for ' + free + ' bytes but the image needs ' + part.size +
          '; erase unused files or run require("Storage").compact() (not while code runs from the files it moves).', true,
        { free: free, size: part.size }));
      }
    }
    let offset = resumeAt;
    // After a power cut the file may hold bytes past the journaled offset; Storage refuses to write over them.
    let resuming = resumeAt > 0;
    return Promise.resolve({
      write: function (chunk: Uint8Array): Promise<void> {
        if (chunk.length === 0) return Promise.resolve();
        if (offset + chunk.length > part.size) {
          return Promise.reject(otaError('image-overflow', 'Image data runs past its declared size of ' + part.size + ' bytes (at ' +
            offset + ' + ' + chunk.length + ').', false, { offset: offset, size: part.size }));
        }
        let skip = 0;
        if (resuming) {
          // Written before the cut: the file's bytes up to its last non-0xFF one here, which must be the chunk's.
          const old = storage.read(file, offset, chunk.length) as string;
          for (let i = 0; i < old.length; i++) if (old.charCodeAt(i) !== 0xff) skip = i + 1;
          for (let i = 0; i < skip; i++) {
            if (old.charCodeAt(i) !== chunk[i]) {
              return Promise.reject(otaError('storage-resume-mismatch', file + ' already holds other bytes at ' + (offset + i) +
                ' than the download; it starts again from 0.', true, { file: file, offset: offset + i, discard: true }));
            }
          }
          resuming = skip === chunk.length;
        }
        let ok = true;
        try {
          // Offset 0 creates the file at its full size; later offsets fill it in place.
          if (offset === 0) ok = storage.write(file, chunk, 0, part.size);
          else if (skip < chunk.length) ok = storage.write(file, skip > 0 ? chunk.subarray(skip) : chunk, offset + skip);
        } catch {
          ok = false; // Espruino throws where Storage has no room or the bytes were written already
        }
        if (!ok) {
          return Promise.reject(otaError('storage-write-failed', 'Storage.write of ' + chunk.length + ' bytes at ' + offset + ' into ' +
            file + ' failed; Storage may be full or need compact().', true, { file: file, offset: offset }));
        }
        offset += chunk.length;
        return Promise.resolve();
      },
      durableOffset: function (): number {
        return offset;
      },
      finish: (): Promise<void> => {
        if (offset !== part.size) {
          return Promise.reject(otaError('image-incomplete', 'Finished after ' + offset + ' of ' + part.size + ' bytes of ' + file + '.', true,
            { offset: offset, size: part.size }));
        }
        const failure = this.check(file, part);
        if (failure !== null) return Promise.reject(failure);
        return this.writePointer(withStaged(this.record(), file, part.version)) || Promise.resolve();
      },
    });
  }

  /** Verifies `file` in place against the part's size, SHA-256 and CRC-32; null when it matches. */
  check(file: string, part: ImagePart): OtaError | null {
    const data = this.storage.read(file);
    if (data === undefined || data.length !== part.size) {
      return otaError('image-size-mismatch', file + ' holds ' + (data === undefined ? 'nothing' : data.length + ' bytes') +
        ' but the image is ' + part.size + ' bytes.', true, { file: file });
    }
    let checked = false;
    if (part.sha256 !== undefined) {
      const crypto = this.runtime.require('crypto') as EspruinoCrypto | undefined;
      const sha256 = crypto !== undefined && crypto !== null ? crypto.SHA256 : undefined;
      if (typeof sha256 === 'function') {
        if (!bytesEqual(new Uint8Array(sha256(data)), part.sha256)) {
          return otaError('image-digest-mismatch', 'SHA-256 of ' + file + ' read back from Storage differs from the release\'s; ' +
            'the image was corrupted, nothing was activated.', true, { file: file });
        }
        checked = true;
      } else if (this.verifyMode !== 'crc32') {
        return otaError('sha256-unavailable', 'This Espruino build has no crypto.SHA256 to verify ' + file + '; on boards without ' +
          'it (ESP8266) configure verify: "crc32", knowing CRC-32 detects corruption but not tampering.', false);
      }
    }
    if (part.crc32 !== undefined) {
      if ((this.runtime.E.CRC32(data) >>> 0) !== (part.crc32 >>> 0)) {
        return otaError('image-crc-mismatch', 'CRC-32 of ' + file + ' read back from Storage differs from the release\'s; ' +
          'nothing was activated.', true, { file: file });
      }
      checked = true;
    }
    if (!checked) {
      return otaError('image-unverifiable', 'The release gives neither a SHA-256 nor a CRC-32 for ' + file + ', so it cannot be ' +
        'verified; refusing to activate it.', false, { file: file });
    }
    return null;
  }

  /** Points the loader at the verified staged file as a trial; the running file becomes the fallback. */
  activate(): Promise<void> {
    const r = this.record();
    if (r.staged === null || r.staged !== this.stagingFile() || r.trial) {
      return Promise.reject(otaError('image-not-verified', 'activate() needs a staged image that finish() verified; ' +
        'download and verify it first.', false));
    }
    return this.point(r.staged, r.stagedVersion, true, r.active, r.version);
  }

  /** Marks the running trial good; a no-op when nothing is on trial. */
  confirm(): Promise<void> {
    const r = this.record();
    return r.trial ? this.point(r.active, r.version, false, r.fallback, r.fallbackVersion) : Promise.resolve();
  }

  /**
   * Rejects the trial (booted or pending) so the fallback boots next, as the loader does once the boots run out: a
   * trial that failed its self-test must not boot again maxAttempts times first. A no-op when nothing is on trial.
   */
  revert(): Promise<void> {
    const r = this.record();
    return r.trial && r.fallback !== null ? this.point(r.fallback, r.fallbackVersion, false, null, null) : Promise.resolve();
  }

  /** Writes the record that boots `active`, with nothing staged. */
  private point(active: string, version: string | null, trial: boolean, fallback: string | null, fallbackVersion: string | null): Promise<void> {
    return this.writePointer({ seq: 0, active: active, version: version, trial: trial, attempts: 0, maxAttempts: this.maxAttempts,
      fallback: fallback, fallbackVersion: fallbackVersion, staged: null, stagedVersion: null }) || Promise.resolve();
  }

  /** Writes `record`; a rejected promise when Storage refused it, else null. */
  private writePointer(record: BootRecord): Promise<never> | null {
    try {
      this.pointer.write(record);
    } catch (error) {
      return Promise.reject(error);
    }
    return null;
  }
}

