import { MANIFEST_LIMITS, readCbor } from './cbor-reader.js';
import { decodeHeader, toBeSigned } from './cose.js';
import type { CoseHeader } from './cose.js';
import { AAD_SIZE, KIND_BARE, PREAMBLE_SIZE, readPreamble } from './framing.js';
import { parseManifest } from './manifest.js';
import type { Manifest } from './manifest.js';
import type { HashFactory } from '../integrity/hash.js';
import type { SignatureVerifier } from '../integrity/verifier.js';
import { bytesEqual, toHex } from '../util/bytes.js';
import { otaError } from '../util/errors.js';

/** Which bundles a device trusts. */
export interface TrustPolicy {
  /** Keys the device trusts. With any key configured, unsigned and wrongly signed bundles are refused. */
  verifiers: SignatureVerifier[];
  /** Development only: with no key configured, accept bare (kind 0) bundles, unverified headers and raw images. */
  allowUnsigned: boolean;
}

/** A header whose signature (or policy exemption) and manifest schema have been checked. */
export interface VerifiedHeader {
  kind: number;
  alg: number | null;
  keyId: Uint8Array | null;
  /** True when a configured key verified the signature or MAC. */
  authenticated: boolean;
  headerLength: number;
  /** SHA-256 of the preamble and header: names this exact header in the journal (resume, not-newer checks). */
  digest: Uint8Array;
  manifest: Manifest;
}

function sameKey(a: Uint8Array | null, b: Uint8Array | null): boolean {
  return a === null || b === null || bytesEqual(a, b);
}

/** Picks the keys that could verify `cose`, or throws the most specific reason none can. */
function candidates(cose: CoseHeader, verifiers: SignatureVerifier[]): SignatureVerifier[] {
  const byStructure: SignatureVerifier[] = [];
  for (let i = 0; i < verifiers.length; i++) if (verifiers[i].structure === cose.structure) byStructure.push(verifiers[i]);
  if (byStructure.length === 0) {
    throw otaError('cose-kind-not-trusted', 'The bundle is authenticated with ' + (cose.structure === 'MAC0' ? 'a MAC (COSE_Mac0)' :
      'a signature (COSE_Sign1)') + ' but this device holds no key of that kind. Sign it with a key the device trusts.', false);
  }
  const byAlg: SignatureVerifier[] = [];
  for (let i = 0; i < byStructure.length; i++) if (byStructure[i].accepts(cose.alg as number)) byAlg.push(byStructure[i]);
  if (byAlg.length === 0) {
    throw otaError('cose-alg-not-allowed', 'COSE algorithm ' + cose.alg + ' is not allowed by any key on this device.', false,
      { alg: cose.alg });
  }
  const byKid: SignatureVerifier[] = [];
  for (let i = 0; i < byAlg.length; i++) if (sameKey(byAlg[i].keyId, cose.keyId)) byKid.push(byAlg[i]);
  if (byKid.length === 0) {
    // Key ids are public (a digest of the public key, or a label for a MAC key), so naming them helps and leaks nothing.
    const held: string[] = [];
    for (let i = 0; i < byAlg.length; i++) held.push(toHex(byAlg[i].keyId as Uint8Array));
    const named = toHex(cose.keyId as Uint8Array);
    throw otaError('key-unknown', 'The bundle is signed with key id ' + named + ' but this device holds ' + held.join(', ') +
      '. Sign it with a key the device trusts, or add that key to the device.', false, { keyId: named, held: held });
  }
  return byKid;
}

/** Tries each candidate key in turn (a flat chain, one verification in flight). */
function verifyWithAny(keys: SignatureVerifier[], alg: number, message: Uint8Array, tag: Uint8Array): Promise<boolean> {
  let index = 0;
  const next = function (ok: boolean): Promise<boolean> | boolean {
    if (ok) return true;
    if (index >= keys.length) return false;
    const key = keys[index++];
    return key.verify(alg, message, tag).then(next);
  };
  return Promise.resolve(false).then(next);
}

function decodeManifest(payload: Uint8Array): Manifest {
  return parseManifest(readCbor(payload, 0, payload.length, MANIFEST_LIMITS));
}

/**
 * Checks a complete header: preamble, COSE shape, the signature or MAC under `policy` (before the manifest is
 * parsed), then the manifest schema. Touches no flash. Rejects with a specific OtaError.
 */
export function verifyHeader(preamble: Uint8Array, header: Uint8Array, policy: TrustPolicy, hashes: HashFactory): Promise<VerifiedHeader> {
  return Promise.resolve(null).then(function () {
    const pre = readPreamble(preamble);
    if (header.length !== pre.headerLength) {
      throw otaError('bundle-truncated', 'The bundle header is ' + header.length + ' bytes; the preamble announced ' +
        pre.headerLength + '. Resume or download it again.', true, { received: header.length, expected: pre.headerLength });
    }
    const hash = hashes.sha256();
    hash.update(new Uint8Array(preamble.subarray(0, PREAMBLE_SIZE)));
    hash.update(header);
    const digest = hash.digest();
    const cose = decodeHeader(header, 0, header.length, pre.kind);
    const result = function (authenticated: boolean): VerifiedHeader {
      return {
        kind: cose.kind, alg: cose.alg, keyId: cose.keyId, authenticated: authenticated, headerLength: pre.headerLength,
        digest: digest, manifest: decodeManifest(cose.payload),
      };
    };
    if (policy.verifiers.length === 0) {
      if (!policy.allowUnsigned) {
        throw otaError('no-trusted-keys', 'This device has no verification key and does not allow unsigned bundles; configure ' +
          'a key (or, for development only, allow unsigned payloads).', false);
      }
      return result(false);
    }
    if (cose.kind === KIND_BARE) {
      throw otaError('bundle-unsigned', 'The bundle is unsigned (kind 0) but this device requires a signature or MAC. Sign it ' +
        'with "ota bundle create --sign-key" or "--hmac-key".', false);
    }
    const keys = candidates(cose, policy.verifiers);
    const message = toBeSigned(cose.structure === 'MAC0' ? 'MAC0' : 'Signature1', cose.protectedBytes,
      new Uint8Array(preamble.subarray(0, AAD_SIZE)), cose.payload);
    return verifyWithAny(keys, cose.alg as number, message, cose.tag).then(function (ok) {
      if (!ok) {
        throw otaError('signature-invalid', 'The bundle ' + (cose.structure === 'MAC0' ? 'MAC' : 'signature') + ' does not ' +
          'verify with the device key; the bundle was altered or signed with another key. Nothing was written.', false);
      }
      return result(true);
    });
  });
}

/** Decodes a header without verifying anything but its shape and the manifest schema (for inspection tools). */
export function inspectHeader(preamble: Uint8Array, header: Uint8Array): { cose: CoseHeader; manifest: Manifest } {
  const pre = readPreamble(preamble);
  const cose = decodeHeader(header, 0, header.length, pre.kind);
  return { cose: cose, manifest: decodeManifest(cose.payload) };
}
