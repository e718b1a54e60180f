import { createHash } from 'node:crypto';
import type { ImagePart, ImageTarget, ImageWriter, TargetStatus } from '../../hal/image-target.js';
import { crc32 } from '../../src/integrity/crc32.js';
import { otaError } from '../../src/util/errors.js';

/**
 * A two-bank test target in plain memory. Writes are buffered and "programmed" only at `flushSize` boundaries,
 * so durableOffset() lags what was written, like a sector-buffered flash writer. Every mutation is counted and
 * the running bank is never written, so tests can assert "nothing touched" exactly.
 */
export class MemoryTarget implements ImageTarget {
  /** The image that runs now. */
  running: Uint8Array;
  runningVersion: string;
  /** The staging bank as programmed (durable bytes only). */
  staging: Uint8Array;
  /** Mutating operations on the staging bank (erase + program). */
  mutations = 0;
  /** Verified part in staging, or null. */
  verified: ImagePart | null = null;
  pending: ImagePart | null = null;
  /** Fail the next finish() read-back as if flash corrupted the image. */
  corruptOnFinish = false;

  constructor(readonly softwareType: string, private readonly size: number, runningVersion: string, readonly flushSize = 64) {
    this.running = new Uint8Array([1, 2, 3, 4]);
    this.runningVersion = runningVersion;
    this.staging = new Uint8Array(size).fill(0xff);
  }

  /** Largest image. */
  capacity(): number {
    return this.size;
  }

  /** What runs. */
  status(): Promise<TargetStatus> {
    return Promise.resolve({ softwareType: this.softwareType, runningVersion: this.runningVersion, trial: false });
  }

  /** Opens a writer at `resumeAt`, erasing everything after it. */
  begin(part: ImagePart, resumeAt: number): Promise<ImageWriter> {
    this.mutations++;
    this.verified = null;
    this.pending = null;
    this.staging.fill(0xff, resumeAt);
    let durable = resumeAt;
    let fed = resumeAt;
    let buffer: number[] = [];
    const flush = (upTo: number): void => {
      if (upTo <= durable) return;
      this.staging.set(buffer.slice(0, upTo - durable), durable);
      buffer = buffer.slice(upTo - durable);
      durable = upTo;
      this.mutations++;
    };
    return Promise.resolve({
      write: (chunk: Uint8Array): Promise<void> => {
        if (fed + chunk.length > part.size) return Promise.reject(otaError('image-overflow', 'too many bytes', false));
        for (let i = 0; i < chunk.length; i++) buffer.push(chunk[i]);
        fed += chunk.length;
        flush(Math.floor(fed / this.flushSize) * this.flushSize);
        return Promise.resolve();
      },
      durableOffset: () => durable,
      finish: (): Promise<void> => {
        flush(fed);
        if (this.corruptOnFinish) {
          this.corruptOnFinish = false;
          this.staging[0] ^= 1;
        }
        const image = this.staging.subarray(0, part.size);
        if (fed !== part.size) return Promise.reject(otaError('image-size-mismatch', `wrote ${fed} of ${part.size}`, false));
        if (part.crc32 !== undefined && crc32(image) !== part.crc32) return Promise.reject(otaError('image-crc-mismatch', 'crc', false));
        if (part.sha256 !== undefined && !Buffer.from(createHash('sha256').update(image).digest()).equals(Buffer.from(part.sha256))) {
          return Promise.reject(otaError('image-digest-mismatch', 'sha', false));
        }
        this.verified = part;
        return Promise.resolve();
      },
    });
  }

  /** Marks the verified image pending. */
  activate(): Promise<void> {
    if (this.verified === null) return Promise.reject(otaError('nothing-staged', 'no verified image', false));
    this.pending = this.verified;
    return Promise.resolve();
  }

  /** Nothing to do in memory. */
  confirm(): Promise<void> {
    return Promise.resolve();
  }

  /** The staged image bytes. */
  image(): Uint8Array {
    return this.staging.subarray(0, this.verified === null ? 0 : this.verified.size);
  }
}
