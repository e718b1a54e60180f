import { createHash, randomBytes } from 'node:crypto';
import { link, open, rename, rm, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Encoder, Tag } from 'cbor-x';
import type { Options } from 'cbor-x';
import type { ImagePart, ImageTarget, ImageWriter } from '../../hal/image-target.js';
import { MANIFEST_LIMITS, readCbor } from '../bundle/cbor-reader.js';
import { toBeSigned } from '../bundle/cose.js';
import type { DeviceProfile } from '../bundle/device-check.js';
import {
  AAD_SIZE, KIND_BARE, KIND_MAC0, KIND_SIGN1, MAX_HEADER_SIZE, PART_PREFIX_SIZE, PREAMBLE_SIZE, readPreamble, writePreamble,
} from '../bundle/framing.js';
import { inspectHeader } from '../bundle/header.js';
import type { VerifiedHeader } from '../bundle/header.js';
import { BundleUnpacker } from '../bundle/unpacker.js';
import {
  M_HARDWARE, M_PARTS, M_RELEASE, M_SEQUENCE, M_VERSION, MANIFEST_VERSION, MAX_PARTS, P_CRC32, P_ORDER, P_REQUIRES, P_SHA256,
  P_SIZE, P_TYPE, P_VERSION, parseManifest,
} from '../bundle/manifest.js';
import type { Manifest, Requirement } from '../bundle/manifest.js';
import { crc32, crc32Update } from '../integrity/crc32.js';
import type { CoseStructure, SignatureVerifier } from '../integrity/verifier.js';
import { nodeHashes } from '../node/crypto.js';
import { toHex } from '../util/bytes.js';
import { otaError } from '../util/errors.js';
import { compareVersions } from '../util/version.js';

// The host-side packer. cbor-x writes the CBOR, with the option set that keeps it plain and deterministic for our
// data (integer-keyed Maps in ascending order, no records, no tags on byte strings, shortest heads); every output
// is then decoded again by the device's strict reader, so the packer cannot emit what a device would refuse.

/** cbor-x options that produce plain, deterministic CBOR for OTA data (docs/bundle-format.md). */
export const OTA_CBOR: Options = {
  useRecords: false, mapsAsObjects: false, tagUint8Array: false, variableMapSize: true, pack: false, bundleStrings: false,
};

/** A part as the manifest names it, without its bytes. */
export interface BundlePartSpec {
  softwareType: string;
  version: string;
  /** Activation order; by default dependencies first, then the order given. */
  order?: number;
  requires?: Requirement[];
}

/** One image to pack, in memory. */
export interface BundlePartInput extends BundlePartSpec {
  data: Uint8Array;
}

/** What a bundle's manifest says, apart from the parts' digests. */
export interface BundleManifestInput {
  /** Anti-rollback counter, 0..2^32-1 (e.g. Unix seconds). */
  sequence: number;
  releaseVersion: string;
  hardwareVersions: string[];
  /** In stream order. */
  parts: BundlePartSpec[];
}

/** What a bundle says, with the parts' bytes in memory. */
export interface BundleInput extends BundleManifestInput {
  parts: BundlePartInput[];
}

/** Signs or MACs the COSE to-be-signed bytes. */
export interface BundleSigner {
  structure: CoseStructure;
  /** COSE algorithm id written in the protected header. */
  alg: number;
  keyId: Uint8Array | null;
  sign(message: Uint8Array): Uint8Array;
}

const encoder = new Encoder(OTA_CBOR);

/** CBOR-encodes a value with the OTA option set. */
export function encodeCbor(value: unknown): Uint8Array {
  return new Uint8Array(encoder.encode(value));
}

function checkText(value: string, what: string): void {
  if (value.length < 1 || value.length > MANIFEST_LIMITS.maxText || !/^[\x20-\x7e]+$/.test(value)) {
    throw otaError('bundle-input-invalid', `${what} must be 1-${MANIFEST_LIMITS.maxText} printable ASCII characters, got ${JSON.stringify(value)}`, false);
  }
}

/**
 * Refuses requirements no device can meet: a part requiring itself, and a requirement on a part of this same bundle
 * whose version is below the minimum (the device takes the bundle's version as what will run: `requires-unmet`).
 * `ota bundle create` runs it; `createBundle` does not, so tests can still build such bundles for the device to refuse.
 */
export function checkRequirements(parts: BundlePartSpec[]): void {
  for (const part of parts) {
    for (const need of part.requires ?? []) {
      if (need.softwareType === part.softwareType) {
        throw otaError('bundle-input-invalid', `part "${part.softwareType}" cannot require itself ("${part.softwareType}>=${need.minVersion}"); ` +
          'a requirement names another software type', false);
      }
      const bundled = parts.find((p) => p.softwareType === need.softwareType);
      if (bundled !== undefined && compareVersions(bundled.version, need.minVersion) < 0) {
        // Memfault's order, not semver: a suffix after the version ("+g1a2b", "-rc1") marks a pre-release, lower than the plain one.
        const suffixed = bundled.version.startsWith(need.minVersion) && bundled.version.length > need.minVersion.length
          ? ` (versions compare in Memfault's order, where ${bundled.version} sorts before ${need.minVersion}: a suffix such as build metadata marks a pre-release)` : '';
        throw otaError('bundle-input-invalid', `part "${part.softwareType}" requires "${need.softwareType}" >= ${need.minVersion}, but this bundle's ` +
          `"${need.softwareType}" part is ${bundled.version}${suffixed}, so every device would refuse the bundle (requires-unmet); ` +
          `raise that part's version or lower the requirement`, false);
      }
    }
  }
}

/** Activation orders: explicit ones kept; otherwise parts that others require come first, ties in the given order. */
function defaultOrders(parts: BundlePartSpec[]): number[] {
  if (parts.every((p) => p.order !== undefined)) return parts.map((p) => p.order as number);
  if (parts.some((p) => p.order !== undefined)) {
    throw otaError('bundle-input-invalid', 'give an activation order to every part or to none', false);
  }
  const placed: number[] = [];
  const orders = new Array<number>(parts.length).fill(-1);
  while (placed.length < parts.length) {
    const ready = parts.findIndex((p, i) => orders[i] < 0 && (p.requires ?? []).every((r) =>
      !parts.some((q, j) => q.softwareType === r.softwareType && orders[j] < 0)));
    if (ready < 0) {
      const selfish = parts.find((p) => (p.requires ?? []).some((r) => r.softwareType === p.softwareType));
      throw otaError('bundle-input-invalid', selfish !== undefined
        ? `part "${selfish.softwareType}" cannot require itself; a requirement names another software type`
        : 'the parts\' requirements form a cycle; no activation order satisfies them', false);
    }
    orders[ready] = placed.length + 1;
    placed.push(ready);
  }
  return orders;
}

/** What the manifest records of a part's bytes. */
export interface PartDigest {
  size: number;
  sha256: Uint8Array;
  crc32: number;
}

/** The size, SHA-256 and CRC-32 of bytes in memory. */
export function digestBytes(data: Uint8Array): PartDigest {
  return { size: data.length, sha256: new Uint8Array(createHash('sha256').update(data).digest()), crc32: crc32(data) };
}

/** Builds the manifest as cbor-x input (Maps with ascending integer keys). */
export function manifestValue(input: BundleInput): Map<number, unknown> {
  return manifestFromDigests(input, input.parts.map((part) => digestBytes(part.data)));
}

/** Checks everything a manifest holds apart from the parts' bytes. */
function checkManifestInput(input: BundleManifestInput): void {
  if (!Number.isInteger(input.sequence) || input.sequence < 0 || input.sequence > 0xffffffff) {
    throw otaError('bundle-input-invalid', `the sequence must be an integer from 0 to 4294967295, got ${input.sequence}`, false);
  }
  checkText(input.releaseVersion, 'the release version');
  if (input.hardwareVersions.length < 1 || input.hardwareVersions.length > 8) {
    throw otaError('bundle-input-invalid', 'a bundle names 1 to 8 hardware versions', false);
  }
  input.hardwareVersions.forEach((hw) => checkText(hw, 'a hardware version'));
  if (input.parts.length < 1 || input.parts.length > MAX_PARTS) {
    throw otaError('bundle-input-invalid', `a bundle carries 1 to ${MAX_PARTS} parts, got ${input.parts.length}`, false);
  }
}

/** The manifest for parts described by their digests (the bytes themselves may still be on disk). */
export function manifestFromDigests(input: BundleManifestInput, digests: PartDigest[]): Map<number, unknown> {
  checkManifestInput(input);
  const orders = defaultOrders(input.parts);
  const parts = input.parts.map((part, i) => {
    checkText(part.softwareType, 'a software type');
    checkText(part.version, `the version of "${part.softwareType}"`);
    const digest = digests[i];
    if (digest.size < 1 || digest.size > 0xffffffff) {
      throw otaError('bundle-input-invalid', `part "${part.softwareType}" must hold 1 byte to 4 GiB, got ${digest.size} bytes`, false);
    }
    const entry = new Map<number, unknown>([
      [P_TYPE, part.softwareType],
      [P_VERSION, part.version],
      [P_SIZE, digest.size],
      [P_SHA256, digest.sha256],
      [P_CRC32, digest.crc32],
      [P_ORDER, orders[i]],
    ]);
    const requires = part.requires ?? [];
    if (requires.length > 8) throw otaError('bundle-input-invalid', `part "${part.softwareType}" lists more than 8 requirements`, false);
    if (requires.length > 0) {
      requires.forEach((r) => { checkText(r.softwareType, 'a required software type'); checkText(r.minVersion, 'a minimum version'); });
      entry.set(P_REQUIRES, requires.map((r) => [r.softwareType, r.minVersion]));
    }
    return entry;
  });
  return new Map<number, unknown>([
    [M_VERSION, MANIFEST_VERSION],
    [M_SEQUENCE, input.sequence],
    [M_RELEASE, input.releaseVersion],
    [M_HARDWARE, input.hardwareVersions],
    [M_PARTS, parts],
  ]);
}

/** Encodes and re-reads the manifest with the device's strict reader; returns its bytes and the parsed form. */
export function encodeManifest(input: BundleInput): { bytes: Uint8Array; manifest: Manifest } {
  return encodeManifestValue(manifestValue(input));
}

/** Encodes a manifest value and re-reads it with the device's strict reader. */
function encodeManifestValue(value: Map<number, unknown>): { bytes: Uint8Array; manifest: Manifest } {
  const bytes = encodeCbor(value);
  const manifest = parseManifest(readCbor(bytes, 0, bytes.length, MANIFEST_LIMITS));
  return { bytes, manifest };
}

/** Builds the header (COSE_Sign1, COSE_Mac0 or a bare manifest) and its preamble. */
export function encodeHeader(manifestBytes: Uint8Array, signer: BundleSigner | null): { preamble: Uint8Array; header: Uint8Array } {
  if (signer === null) {
    if (manifestBytes.length > MAX_HEADER_SIZE) throw otaError('bundle-input-invalid', 'the manifest exceeds the 16 KiB header limit', false);
    return { preamble: writePreamble(KIND_BARE, manifestBytes.length), header: manifestBytes };
  }
  const kind = signer.structure === 'MAC0' ? KIND_MAC0 : KIND_SIGN1;
  const protectedBytes = encodeCbor(new Map([[1, signer.alg]]));
  const unprotected = signer.keyId === null ? new Map() : new Map([[4, signer.keyId]]);
  // The preamble's first 8 bytes do not depend on H, so the signature can be made before the header length is known.
  const aad = writePreamble(kind, 0).subarray(0, AAD_SIZE);
  const tag = signer.sign(toBeSigned(signer.structure, protectedBytes, aad, manifestBytes));
  const header = encodeCbor(new Tag([protectedBytes, unprotected, manifestBytes, tag], kind === KIND_MAC0 ? 17 : 18));
  if (header.length > MAX_HEADER_SIZE) throw otaError('bundle-input-invalid', 'the header exceeds the 16 KiB limit', false);
  return { preamble: writePreamble(kind, header.length), header };
}

/** The bytes of each part's u32 big-endian length prefix. */
function prefix(length: number): Uint8Array {
  const out = new Uint8Array(PART_PREFIX_SIZE);
  new DataView(out.buffer).setUint32(0, length >>> 0, false);
  return out;
}

/** Packs a complete bundle in memory: preamble, header, then each part as u32 length + bytes. */
export function createBundle(input: BundleInput, signer: BundleSigner | null): Uint8Array {
  const joined = Buffer.concat(bundleChunks(input, signer));
  return new Uint8Array(joined.buffer.slice(joined.byteOffset, joined.byteOffset + joined.length));
}

/** The bundle as a list of chunks (preamble, header, then prefix and data per part), for streaming to a file. */
export function bundleChunks(input: BundleInput, signer: BundleSigner | null): Uint8Array[] {
  const manifest = encodeManifest(input);
  const head = encodeHeader(manifest.bytes, signer);
  const chunks: Uint8Array[] = [head.preamble, head.header];
  for (const part of input.parts) chunks.push(prefix(part.data.length), part.data);
  return chunks;
}

/** One image to pack, read from a file while the bundle is written. */
export interface BundlePartFile extends BundlePartSpec {
  path: string;
}

/** What a bundle says, with the parts in files. */
export interface BundleFileInput extends BundleManifestInput {
  parts: BundlePartFile[];
}

/** How far `writeBundleFile` got: bytes of all parts hashed (first pass) or copied into the bundle (second pass). */
export interface PackProgress {
  phase: 'hash' | 'write';
  done: number;
  total: number;
}

/** Options of `writeBundleFile`. */
export interface WriteBundleOptions {
  /** Replace an existing output (default: refuse with `output-exists`). */
  overwrite?: boolean;
  /** Called after every piece read; `total` is the parts' sizes as found before hashing. */
  onProgress?: (progress: PackProgress) => void;
  /** Bytes read at a time (default 1 MiB): memory use does not depend on the parts' sizes. */
  chunkSize?: number;
}

/** Reads at most `limit` bytes of `path` into `buffer`, one piece at a time; returns how many bytes it read. */
async function readPieces(path: string, buffer: Uint8Array, limit: number, visit: (piece: Uint8Array) => Promise<void> | void): Promise<number> {
  const handle = await open(path, 'r');
  try {
    let position = 0;
    while (position < limit) {
      const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, limit - position), position);
      if (bytesRead === 0) break;
      position += bytesRead;
      await visit(buffer.subarray(0, bytesRead));
    }
    return position;
  } finally {
    await handle.close();
  }
}

/** Writes all of `data` (a file handle's write may take less than asked). */
async function writeAll(handle: FileHandle, data: Uint8Array): Promise<void> {
  let at = 0;
  while (at < data.length) at += (await handle.write(data, at, data.length - at)).bytesWritten;
}

/** Moves the finished temporary file to `output`: atomically, and without replacing a file unless `overwrite`. */
async function publish(temporary: string, output: string, overwrite: boolean): Promise<void> {
  if (overwrite) {
    await rename(temporary, output);
    return;
  }
  try {
    // link() fails with EEXIST instead of replacing: no window in which another writer's file is overwritten.
    await link(temporary, output);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw otaError('output-exists', `${output} exists; pass --force to overwrite it`, false);
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw error;
    // A file system without hard links: check, then rename (a small race, as with any exists-then-write).
    if (await stat(output).then(() => true, () => false)) throw otaError('output-exists', `${output} exists; pass --force to overwrite it`, false);
    await rename(temporary, output);
    return;
  }
  await rm(temporary, { force: true });
}

/**
 * Packs a bundle from part files into `output` with memory independent of the parts' sizes: a first pass hashes each
 * part (SHA-256, CRC-32, size), the header is made and checked by the device's strict reader, and a second pass copies
 * the parts into a temporary file beside `output`, hashing them again: a part that changed in between is refused
 * (`bundle-input-changed`) instead of shipping bytes that do not match their signed digest. The output appears only
 * complete (rename or link); on any failure nothing is left behind.
 */
export async function writeBundleFile(input: BundleFileInput, signer: BundleSigner | null, output: string, options: WriteBundleOptions = {}): Promise<{ length: number; sizes: number[] }> {
  checkManifestInput(input);
  const buffer = new Uint8Array(options.chunkSize ?? 1024 * 1024);
  const report = options.onProgress ?? (() => undefined);
  const sizes = await Promise.all(input.parts.map(async (part) => (await stat(part.path)).size));
  const total = sizes.reduce((a, b) => a + b, 0);
  const digests: PartDigest[] = [];
  let done = 0;
  for (const part of input.parts) {
    const hash = createHash('sha256');
    let crc = 0;
    // One byte past the 4 GiB limit is enough to refuse it.
    const size = await readPieces(part.path, buffer, 0x100000000, (piece) => {
      hash.update(piece);
      crc = crc32Update(crc, piece, 0, piece.length);
      done += piece.length;
      report({ phase: 'hash', done, total });
    });
    digests.push({ size, sha256: new Uint8Array(hash.digest()), crc32: crc });
  }
  const manifest = encodeManifestValue(manifestFromDigests(input, digests));
  const head = encodeHeader(manifest.bytes, signer);
  // Beside the output (same file system, so the final rename/link is atomic); the name is cut to stay under NAME_MAX.
  const temporary = join(dirname(output), `.${basename(output).slice(0, 120)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const handle = await open(temporary, 'wx');
  let closed = false;
  try {
    await writeAll(handle, head.preamble);
    await writeAll(handle, head.header);
    let length = head.preamble.length + head.header.length;
    done = 0;
    for (const [i, part] of input.parts.entries()) {
      await writeAll(handle, prefix(digests[i].size));
      const hash = createHash('sha256');
      const size = await readPieces(part.path, buffer, digests[i].size + 1, async (piece) => {
        hash.update(piece);
        await writeAll(handle, piece);
        done += piece.length;
        report({ phase: 'write', done, total });
      });
      if (size !== digests[i].size || !Buffer.from(hash.digest()).equals(Buffer.from(digests[i].sha256))) {
        throw otaError('bundle-input-changed', `part "${part.softwareType}" (${part.path}) changed while the bundle was written ` +
          `(${digests[i].size} bytes when hashed, ${size === digests[i].size + 1 ? 'more' : size} bytes now${size === digests[i].size ? ', other bytes' : ''}); ` +
          'make the bundle again once the build has finished writing it', false, { softwareType: part.softwareType });
      }
      length += PART_PREFIX_SIZE + size;
    }
    await handle.sync();
    closed = true;
    await handle.close();
    await publish(temporary, output, options.overwrite === true);
    return { length, sizes: digests.map((d) => d.size) };
  } catch (error) {
    if (!closed) await handle.close().catch(() => undefined);
    await rm(temporary, { force: true });
    throw error;
  }
}

/** What a full verification found. */
export interface BundleReport {
  kind: number;
  alg: number | null;
  keyId: string | null;
  /** True when a given key verified the signature or MAC; false when no key was given. */
  authenticated: boolean;
  headerDigest: string;
  manifest: Manifest;
  length: number;
}

/** A target that only hashes what it receives and checks it on finish: verification without flash. */
function checkingTarget(softwareType: string): ImageTarget {
  let staged: ImagePart | null = null;
  return {
    softwareType,
    capacity: () => 0xffffffff,
    status: () => Promise.resolve({ softwareType, runningVersion: null, trial: false }),
    begin(part: ImagePart): Promise<ImageWriter> {
      const hash = createHash('sha256');
      let crc = 0;
      let length = 0;
      return Promise.resolve({
        write(chunk: Uint8Array): Promise<void> {
          hash.update(chunk);
          crc = crc32Update(crc, chunk, 0, chunk.length);
          length += chunk.length;
          return Promise.resolve();
        },
        durableOffset: () => length,
        finish(): Promise<void> {
          const digest = new Uint8Array(hash.digest());
          if (length !== part.size || crc !== part.crc32 || !Buffer.from(digest).equals(Buffer.from(part.sha256 ?? []))) {
            return Promise.reject(otaError('image-sha256-mismatch', `part "${softwareType}" does not match its signed SHA-256`, false));
          }
          staged = part;
          return Promise.resolve();
        },
      });
    },
    activate: () => (staged === null ? Promise.reject(otaError('nothing-staged', 'nothing staged', false)) : Promise.resolve()),
    confirm: () => Promise.resolve(),
  };
}

/**
 * Verifies a whole bundle with the device's own unpacker: preamble, header, signature (when `verifiers` are given),
 * manifest, every part's framing, CRC-32 and SHA-256, and the end of the stream.
 */
export async function verifyBundle(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, verifiers: SignatureVerifier[]): Promise<BundleReport> {
  let unpacker: BundleUnpacker | null = null;
  const head: Uint8Array[] = [];
  let headLength = 0;
  let length = 0;
  for await (const chunk of chunks) {
    length += chunk.length;
    if (unpacker === null) {
      head.push(chunk);
      headLength += chunk.length;
      const joined = Buffer.concat(head);
      if (headLength < PREAMBLE_SIZE) continue;
      const pre = readPreamble(joined);
      if (headLength < PREAMBLE_SIZE + pre.headerLength) continue;
      const inspected = inspectHeader(joined.subarray(0, PREAMBLE_SIZE), joined.subarray(PREAMBLE_SIZE, PREAMBLE_SIZE + pre.headerLength));
      const device: DeviceProfile = {
        hardwareVersion: inspected.manifest.hardwareVersions[0],
        targets: inspected.manifest.parts.map((p) => checkingTarget(p.softwareType)),
        installedSequence: -1,
      };
      unpacker = new BundleUnpacker({ device, trust: { verifiers, allowUnsigned: verifiers.length === 0 }, hashes: nodeHashes });
      await unpacker.push(new Uint8Array(joined));
      continue;
    }
    await unpacker.push(chunk);
  }
  if (unpacker === null) throw otaError('bundle-truncated', `The file ends after ${length} bytes, inside the bundle header.`, false);
  const result = await unpacker.end();
  const header = result.header as VerifiedHeader;
  return {
    kind: header.kind, alg: header.alg, keyId: header.keyId === null ? null : toHex(header.keyId),
    authenticated: header.authenticated, headerDigest: result.headerDigest, manifest: header.manifest, length,
  };
}
