import { CborMap, CborTag, readCbor } from './cbor-reader.js';
import type { CborLimits, CborValue } from './cbor-reader.js';
import { KIND_BARE, KIND_MAC0, KIND_SIGN1 } from './framing.js';
import type { CoseStructure } from '../integrity/verifier.js';
import { asciiToBytes } from '../util/bytes.js';
import { otaError } from '../util/errors.js';

// COSE_Sign1 (tag 18) and COSE_Mac0 (tag 17) from RFC 9052, restricted to what bundles use: an attached payload
// (the manifest), a protected header holding only the algorithm, an unprotected header holding at most a kid.

/** COSE tag of COSE_Sign1. */
export const TAG_SIGN1 = 18;
/** COSE tag of COSE_Mac0. */
export const TAG_MAC0 = 17;
/** COSE header label of the algorithm. */
export const LABEL_ALG = 1;
/** COSE header label of the key identifier. */
export const LABEL_KID = 4;

/** The parts of a header, before any verification. */
export interface CoseHeader {
  kind: number;
  /** Null for a bare manifest. */
  structure: CoseStructure | null;
  /** COSE algorithm id, or null for a bare manifest. */
  alg: number | null;
  keyId: Uint8Array | null;
  /** Protected header bytes exactly as received (signatures cover these, never a re-encoding). */
  protectedBytes: Uint8Array;
  /** The manifest's CBOR bytes. */
  payload: Uint8Array;
  /** Signature or MAC tag; empty for a bare manifest. */
  tag: Uint8Array;
}

// Message parts; the Espruino build replaces whole messages by their codes, so these cost nothing there.
const BAD_COSE = 'The bundle header is not a COSE object this device accepts: ';
const REDO = '. Re-create the bundle with the ota packer.';

/** Reader limits for a COSE header of `maxBytes` bytes (the payload may use all of it). */
export function headerLimits(maxBytes: number): CborLimits {
  return { maxDepth: 2, maxItems: 8, maxText: 128, maxBytes: maxBytes, maxElements: 4, topLevelTags: [TAG_SIGN1, TAG_MAC0] };
}

const PROTECTED_LIMITS: CborLimits = { maxDepth: 1, maxItems: 8, maxText: 64, maxBytes: 64, maxElements: 4, topLevelTags: [] };

/** Parses header bytes [start, end) of `data` for preamble `kind`; checks shape, tag and header labels, not the signature. */
export function decodeHeader(data: Uint8Array, start: number, end: number, kind: number): CoseHeader {
  if (kind === KIND_BARE) {
    return {
      kind: kind, structure: null, alg: null, keyId: null, protectedBytes: new Uint8Array(0),
      payload: new Uint8Array(data.subarray(start, end)), tag: new Uint8Array(0),
    };
  }
  const top = readCbor(data, start, end, headerLimits(end - start));
  const expected = kind === KIND_SIGN1 ? TAG_SIGN1 : TAG_MAC0;
  if (!(top instanceof CborTag) || top.tag !== expected) {
    throw otaError('cose-kind-mismatch', 'The preamble says kind ' + kind + ' (' + (kind === KIND_SIGN1 ? 'COSE_Sign1, tag 18' :
      'COSE_Mac0, tag 17') + ') but the header is ' + (top instanceof CborTag ? 'tag ' + top.tag : 'untagged') + '.', false,
    { kind: kind });
  }
  const items = top.value;
  if (!(items instanceof Array) || items.length !== 4) throw otaError('cose-malformed', BAD_COSE + 'expected an array of 4 items' + REDO, false);
  const protectedBytes = items[0];
  const unprotected = items[1];
  const payload = items[2];
  const tag = items[3];
  if (!(protectedBytes instanceof Uint8Array) || protectedBytes.length === 0) {
    throw otaError('cose-malformed', BAD_COSE + 'the protected header must be a non-empty byte string holding the algorithm' + REDO, false);
  }
  const prot = readCbor(protectedBytes, 0, protectedBytes.length, PROTECTED_LIMITS);
  if (!(prot instanceof CborMap) || prot.keys.length !== 1 || prot.keys[0] !== LABEL_ALG) {
    throw otaError('cose-header-unsupported', BAD_COSE + 'the protected header must hold only the algorithm (label 1)' + REDO, false);
  }
  const alg = prot.get(LABEL_ALG);
  if (typeof alg !== 'number') throw otaError('cose-malformed', BAD_COSE + 'the algorithm must be an integer' + REDO, false);
  if (!(unprotected instanceof CborMap)) throw otaError('cose-malformed', BAD_COSE + 'the unprotected header must be a map' + REDO, false);
  let keyId: Uint8Array | null = null;
  for (let i = 0; i < unprotected.keys.length; i++) {
    if (unprotected.keys[i] !== LABEL_KID) {
      throw otaError('cose-header-unsupported', BAD_COSE + 'unprotected header label ' + unprotected.keys[i] + ' is not accepted (only kid, 4)' + REDO, false);
    }
    const kid: CborValue = unprotected.values[i];
    if (!(kid instanceof Uint8Array) || kid.length === 0 || kid.length > 64) throw otaError('cose-malformed', BAD_COSE + 'kid must be 1-64 bytes' + REDO, false);
    keyId = kid;
  }
  if (payload === null) throw otaError('cose-payload-detached', BAD_COSE + 'the manifest payload is detached (nil); bundles attach it' + REDO, false);
  if (!(payload instanceof Uint8Array)) throw otaError('cose-malformed', BAD_COSE + 'the payload must be a byte string' + REDO, false);
  if (!(tag instanceof Uint8Array)) throw otaError('cose-malformed', BAD_COSE + 'the signature or MAC must be a byte string' + REDO, false);
  return {
    kind: kind, structure: kind === KIND_MAC0 ? 'MAC0' : 'Signature1', alg: alg, keyId: keyId,
    protectedBytes: protectedBytes, payload: payload, tag: tag,
  };
}

function headSize(length: number): number {
  if (length < 24) return 1;
  if (length < 0x100) return 2;
  if (length < 0x10000) return 3;
  return 5;
}

function writeHead(out: Uint8Array, at: number, major: number, length: number): number {
  const m = major << 5;
  if (length < 24) {
    out[at] = m | length;
    return at + 1;
  }
  if (length < 0x100) {
    out[at] = m | 24;
    out[at + 1] = length;
    return at + 2;
  }
  if (length < 0x10000) {
    out[at] = m | 25;
    out[at + 1] = length >>> 8;
    out[at + 2] = length & 0xff;
    return at + 3;
  }
  out[at] = m | 26;
  out[at + 1] = length >>> 24;
  out[at + 2] = (length >>> 16) & 0xff;
  out[at + 3] = (length >>> 8) & 0xff;
  out[at + 4] = length & 0xff;
  return at + 5;
}

/**
 * The bytes a COSE signature or MAC covers: `[context, protected, external_aad, payload]` with context
 * "Signature1" or "MAC0", in deterministic CBOR (RFC 9052 §4.4, §6.3).
 */
export function toBeSigned(structure: CoseStructure, protectedBytes: Uint8Array, externalAad: Uint8Array, payload: Uint8Array): Uint8Array {
  const context = asciiToBytes(structure);
  const fields = [context, protectedBytes, externalAad, payload];
  let size = 1;
  for (let i = 0; i < fields.length; i++) size += headSize(fields[i].length) + fields[i].length;
  const out = new Uint8Array(size);
  let at = writeHead(out, 0, 4, 4);
  for (let i = 0; i < fields.length; i++) {
    at = writeHead(out, at, i === 0 ? 3 : 2, fields[i].length);
    out.set(fields[i], at);
    at += fields[i].length;
  }
  return out;
}
