import type { ImageTarget } from '../../hal/image-target.js';
import type { TrustPolicy } from '../../src/bundle/header.js';
import { BundleUnpacker } from '../../src/bundle/unpacker.js';
import type { UnpackResult, UnpackerOptions } from '../../src/bundle/unpacker.js';
import { hmacVerifier } from '../../src/integrity/hmac.js';
import { ed25519Verifier, nodeHashes } from '../../src/node/crypto.js';
import { createBundle } from '../../src/tools/bundle.js';
import type { BundleInput, BundleSigner } from '../../src/tools/bundle.js';
import { ed25519PrivateKeyFromSeed, ed25519Signer, hmacKeyId, hmacSigner } from '../../src/tools/keys.js';
import { isOtaError } from '../../src/util/errors.js';
import type { OtaError } from '../../src/util/errors.js';
import { MemoryTarget } from './memory-target.js';

/** A fixed test signing key (seed 0x42...). */
export const TEST_KEY = ed25519PrivateKeyFromSeed(new Uint8Array(32).fill(0x42));
/** A second key the device does not trust. */
export const OTHER_KEY = ed25519PrivateKeyFromSeed(new Uint8Array(32).fill(0x17));
/** A fixed test HMAC key. */
export const TEST_HMAC = new Uint8Array(32).fill(0x5a);

/** The signer for TEST_KEY. */
export function testSigner(): BundleSigner {
  return ed25519Signer(TEST_KEY);
}

/** Trust in TEST_KEY only. */
export function ed25519Trust(): TrustPolicy {
  return { verifiers: [ed25519Verifier(TEST_KEY)], allowUnsigned: false };
}

/** Trust in TEST_HMAC only. */
export function hmacTrust(): TrustPolicy {
  return { verifiers: [hmacVerifier(nodeHashes, TEST_HMAC, hmacKeyId(TEST_HMAC))], allowUnsigned: false };
}

/** The HMAC signer for TEST_HMAC. */
export function testHmacSigner(): BundleSigner {
  return hmacSigner(TEST_HMAC);
}

/** Deterministic pseudo-random bytes. */
export function patternBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** A two-part release: main-fw 2.0.0 requiring wifi-fw >= 1.4.0, and wifi-fw 1.4.0. */
export function twoPartInput(mainSize = 1500, wifiSize = 700, sequence = 100): BundleInput {
  return {
    sequence,
    releaseVersion: '2.0.0',
    hardwareVersions: ['evt', 'dvt'],
    parts: [
      { softwareType: 'main-fw', version: '2.0.0', data: patternBytes(mainSize, 1), requires: [{ softwareType: 'wifi-fw', minVersion: '1.4.0' }] },
      { softwareType: 'wifi-fw', version: '1.4.0', data: patternBytes(wifiSize, 2) },
    ],
  };
}

/** A signed two-part bundle. */
export function twoPartBundle(signer: BundleSigner | null = testSigner(), input = twoPartInput()): Uint8Array {
  return createBundle(input, signer);
}

/** A device with main-fw (4 KiB) and wifi-fw (2 KiB) memory targets on hardware "evt". */
export function testDevice(): { main: MemoryTarget; wifi: MemoryTarget; targets: ImageTarget[] } {
  const main = new MemoryTarget('main-fw', 4096, '1.0.0');
  const wifi = new MemoryTarget('wifi-fw', 2048, '1.0.0');
  return { main, wifi, targets: [main, wifi] };
}

/** Unpacker options for the test device. */
export function options(targets: ImageTarget[], trust: TrustPolicy = ed25519Trust(), extra: Partial<UnpackerOptions> = {}): UnpackerOptions {
  return { device: { hardwareVersion: 'evt', targets, installedSequence: 10 }, trust, hashes: nodeHashes, ...extra };
}

/** Splits `bytes` at the given cut points and pushes each piece in turn, then ends. */
export async function unpackSplit(unpacker: BundleUnpacker, bytes: Uint8Array, cuts: number[]): Promise<UnpackResult> {
  const points = [...new Set(cuts.filter((c) => c > 0 && c < bytes.length))].sort((a, b) => a - b);
  let at = 0;
  for (const cut of [...points, bytes.length]) {
    await unpacker.push(bytes.subarray(at, cut));
    at = cut;
  }
  return unpacker.end();
}

/** Feeds `bytes` in chunks of `size` and ends. */
export async function unpackChunks(unpacker: BundleUnpacker, bytes: Uint8Array, size: number): Promise<UnpackResult> {
  for (let at = 0; at < bytes.length; at += size) await unpacker.push(bytes.subarray(at, Math.min(bytes.length, at + size)));
  return unpacker.end();
}

/** The OtaError a promise rejects with (fails the test when it resolves or rejects with something else). */
export async function rejection(promise: Promise<unknown>): Promise<OtaError> {
  try {
    await promise;
  } catch (error) {
    if (isOtaError(error)) return error;
    throw new Error(`expected an OtaError, got ${String(error)}`);
  }
  throw new Error('expected a rejection, but the promise resolved');
}
