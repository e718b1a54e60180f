import { createHash } from 'node:crypto';
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

/** One image to pack. */
export interface BundlePartInput {
  softwareType: string;
  version: string;
  data: Uint8Array;
  /** Activation order; by default dependencies first, then the order given. */
  order?: number;
  requires?: Requirement[];
}

/** What a bundle says. */
export interface BundleInput {
  /** Anti-rollback counter, 0..2^32-1 (e.g. Unix seconds). */
  sequence: number;
  releaseVersion: string;
  hardwareVersions: string[];
  /** In stream order. */
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
export function checkRequirements(parts: BundlePartInput[]): void {
  for (const part of parts) {
    for (const need of part.requires ?? []) {
      if (need.softwareType === part.softwareType) {
        throw otaError('bundle-input-invalid', `part "${part.softwareType}" cannot require itself ("${part.softwareType}>=${need.minVersion}"); ` +
          'a requirement names another software type', false);
      }
      const bundled = parts.find((p) => p.softwareType === need.softwareType);
      if (bundled !== undefined && compareVersions(bundled.version, need.minVersion) < 0) {
        throw otaError('bundle-input-invalid', `part "${part.softwareType}" requires "${need.softwareType}" >= ${need.minVersion}, but this bundle's ` +
          `"${need.softwareType}" part is ${bundled.version}, so every device would refuse the bundle (requires-unmet); ` +
          `raise that part's version or lower the requirement`, false);
      }
    }
  }
}

/** Activation orders: explicit ones kept; otherwise parts that others require come first, ties in the given order. */
function defaultOrders(parts: BundlePartInput[]): number[] {
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

/** Builds the manifest as cbor-x input (Maps with ascending integer keys). */
export function manifestValue(input: BundleInput): Map<number, unknown> {
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
  const orders = defaultOrders(input.parts);
  const parts = input.parts.map((part, i) => {
    checkText(part.softwareType, 'a software type');
    checkText(part.version, `the version of "${part.softwareType}"`);
    if (part.data.length < 1 || part.data.length > 0xffffffff) {
      throw otaError('bundle-input-invalid', `part "${part.softwareType}" must hold 1 byte to 4 GiB`, false);
    }
    const entry = new Map<number, unknown>([
      [P_TYPE, part.softwareType],
      [P_VERSION, part.version],
      [P_SIZE, part.data.length],
      [P_SHA256, new Uint8Array(createHash('sha256').update(part.data).digest())],
      [P_CRC32, crc32(part.data)],
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
  const bytes = encodeCbor(manifestValue(input));
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
