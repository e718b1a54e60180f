import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { otaError } from '../util/errors.js';
import type { Release } from './model.js';

/** The digests and size of a stored payload. */
export interface StoredPayload {
  sha256: string;
  sha1: string;
  md5: string;
  size: number;
}

/** A staged upload: received bytes waiting for the release metadata that names them. */
export interface StagedUpload extends StoredPayload {
  path: string;
}

/**
 * Payload files named by their SHA-256 under `<dataDir>/payloads`, so identical uploads share one file and a
 * name can never escape the directory. Uploads stream to a temp file while hashing, then rename into place.
 */
export class PayloadStore {
  private readonly dir: string;
  private readonly tempDir: string;

  /** Uses (and creates) `<dataDir>/payloads` and `<dataDir>/uploads`. */
  constructor(dataDir: string) {
    this.dir = join(dataDir, 'payloads');
    this.tempDir = join(dataDir, 'uploads');
    mkdirSync(this.dir, { recursive: true });
    mkdirSync(this.tempDir, { recursive: true });
  }

  /** Where the payload with this SHA-256 lives. Rejects anything but 64 hex digits. */
  pathOf(sha256: string): string {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw otaError('backend-bad-digest', `payload name must be a SHA-256 in hex, got ${JSON.stringify(sha256.slice(0, 80))}`, false);
    return join(this.dir, sha256);
  }

  /**
   * Checks that every artifact of `releases` has its payload file with the recorded size; throws
   * `backend-payload-missing` naming the release, artifact and file otherwise (`stateFile` is named as the place to
   * remove the artifact from). Run at startup, so a device is never offered a link the CDN answers with 404.
   */
  checkArtifacts(releases: { [version: string]: Release }, stateFile: string): void {
    for (const release of Object.values(releases)) {
      for (const artifact of release.artifacts) {
        const what = `release ${release.version} (${artifact.softwareType} for hardware ${artifact.hardwareVersion}, artifact ${artifact.id})`;
        const path = this.pathOf(artifact.sha256);
        const info = this.stat(artifact.sha256);
        if (info === null) {
          throw otaError('backend-payload-missing', `${what} has no payload file ${path}; restore it, or remove that artifact from ${stateFile}`,
            false, { release: release.version, artifact: artifact.id, path });
        }
        if (info.size !== artifact.fileSize) {
          throw otaError('backend-payload-missing', `${what}: payload file ${path} holds ${info.size} bytes, not the ${artifact.fileSize} uploaded; ` +
            `restore it, or remove that artifact from ${stateFile}`, false, { release: release.version, artifact: artifact.id, path });
        }
      }
    }
  }

  /** Size and modification time of a stored payload, or null when missing. */
  stat(sha256: string): { size: number; mtimeMs: number } | null {
    try {
      const info = statSync(this.pathOf(sha256));
      return { size: info.size, mtimeMs: info.mtimeMs };
    } catch {
      return null;
    }
  }

  /** Streams `source` to a temp file, hashing as it goes; rejects (and deletes the temp file) past `maxBytes`. */
  stage(source: Readable, maxBytes: number): Promise<StagedUpload> {
    const path = join(this.tempDir, `${randomBytes(12).toString('hex')}.part`);
    const sha256 = createHash('sha256');
    const sha1 = createHash('sha1');
    const md5 = createHash('md5');
    let size = 0;
    return new Promise<StagedUpload>((resolve, reject) => {
      const out = createWriteStream(path, { mode: 0o600 });
      let failed = false;
      const fail = (error: unknown): void => {
        if (failed) return;
        failed = true;
        source.unpipe(out);
        source.resume();
        out.destroy();
        rmSync(path, { force: true });
        reject(error);
      };
      source.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBytes) {
          fail(otaError('payload-too-large', `upload exceeds the limit of ${maxBytes} bytes`, false, { limit: maxBytes }));
          return;
        }
        sha256.update(chunk);
        sha1.update(chunk);
        md5.update(chunk);
      });
      source.on('error', fail);
      source.on('aborted', () => fail(otaError('upload-aborted', 'the upload connection closed before the body was complete', true)));
      out.on('error', fail);
      out.on('finish', () => {
        if (failed) return;
        resolve({ path, size, sha256: sha256.digest('hex'), sha1: sha1.digest('hex'), md5: md5.digest('hex') });
      });
      source.pipe(out);
    });
  }

  /** Moves a staged upload into the content-addressed store (dropping it when the same bytes are already there). */
  commit(staged: StagedUpload): StoredPayload {
    const target = this.pathOf(staged.sha256);
    if (existsSync(target)) rmSync(staged.path, { force: true });
    else renameSync(staged.path, target);
    return { sha256: staged.sha256, sha1: staged.sha1, md5: staged.md5, size: staged.size };
  }

  /** Deletes a staged upload that will not be committed. */
  discard(staged: StagedUpload): void {
    rmSync(staged.path, { force: true });
  }

  /** Removes leftovers of uploads interrupted by a crash. */
  sweepTemp(): void {
    rmSync(this.tempDir, { recursive: true, force: true });
    mkdirSync(this.tempDir, { recursive: true });
  }
}
