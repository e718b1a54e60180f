import { otaError } from '../util/errors.js';

// The byte layout around the manifest (docs/bundle-format.md):
//   0  4  magic "OTAB"
//   4  1  format = 1
//   5  1  kind: 0 bare manifest, 1 COSE_Sign1, 2 COSE_Mac0
//   6  2  reserved = 0
//   8  4  H = header length, big-endian, 1..16384
//  12  H  header (COSE object whose payload is the manifest, or the bare manifest)
//  then for each part in manifest order: u32 big-endian length (= the signed size), then the bytes. Nothing after.

/** Length of the fixed preamble. */
export const PREAMBLE_SIZE = 12;
/** Bytes 0..7 of the preamble, bound into every signature as COSE external_aad. */
export const AAD_SIZE = 8;
/** Largest header accepted; checked before anything is allocated. */
export const MAX_HEADER_SIZE = 16384;
/** The one bundle format this code reads and writes. */
export const BUNDLE_FORMAT = 1;
/** Length of each part's prefix. */
export const PART_PREFIX_SIZE = 4;
/** The magic label "OTAB". */
export const MAGIC = [0x4f, 0x54, 0x41, 0x42];

/** Header kind 0: a bare manifest, accepted only when the device allows unsigned payloads. */
export const KIND_BARE = 0;
/** Header kind 1: COSE_Sign1 (tag 18). */
export const KIND_SIGN1 = 1;
/** Header kind 2: COSE_Mac0 (tag 17). */
export const KIND_MAC0 = 2;

/** What the preamble says. */
export interface Preamble {
  kind: number;
  headerLength: number;
}

/** True when `data` (at least 4 bytes) starts with the magic; anything else is a raw image. */
export function hasMagic(data: Uint8Array): boolean {
  for (let i = 0; i < MAGIC.length; i++) if (data[i] !== MAGIC[i]) return false;
  return true;
}

/** Checks the 12-byte preamble and returns kind and header length; throws a specific OtaError otherwise. */
export function readPreamble(data: Uint8Array): Preamble {
  if (data.length < PREAMBLE_SIZE) {
    throw otaError('bundle-truncated', 'The bundle ends inside its 12-byte preamble (' + data.length + ' bytes). ' +
      'Resume or download it again.', true, { received: data.length });
  }
  if (!hasMagic(data)) {
    throw otaError('bundle-magic', 'The payload does not start with "OTAB"; it is not a bundle.', false);
  }
  if (data[4] !== BUNDLE_FORMAT) {
    throw otaError('bundle-format-unsupported', 'Bundle format ' + data[4] + ' is not supported; this device reads format ' +
      BUNDLE_FORMAT + '. Update the device firmware first or build the bundle for format ' + BUNDLE_FORMAT + '.', false,
    { format: data[4] });
  }
  const kind = data[5];
  if (kind !== KIND_BARE && kind !== KIND_SIGN1 && kind !== KIND_MAC0) {
    throw otaError('bundle-kind-unknown', 'Bundle header kind ' + kind + ' is unknown; expected 0 (bare), 1 (COSE_Sign1) or ' +
      '2 (COSE_Mac0).', false, { kind: kind });
  }
  if (data[6] !== 0 || data[7] !== 0) {
    throw otaError('bundle-reserved', 'Preamble bytes 6-7 must be zero in format ' + BUNDLE_FORMAT + '; found ' + data[6] + ', ' +
      data[7] + '.', false);
  }
  const view = new DataView(data.buffer, data.byteOffset, PREAMBLE_SIZE);
  const headerLength = view.getUint32(8, false);
  if (headerLength < 1 || headerLength > MAX_HEADER_SIZE) {
    throw otaError('header-length-invalid', 'The bundle header claims ' + headerLength + ' bytes; a header is 1 to ' +
      MAX_HEADER_SIZE + ' bytes. The bundle is corrupt or hostile; nothing was buffered.', false,
    { headerLength: headerLength, limit: MAX_HEADER_SIZE });
  }
  return { kind: kind, headerLength: headerLength };
}

/** Writes a preamble for `kind` and `headerLength`. */
export function writePreamble(kind: number, headerLength: number): Uint8Array {
  const out = new Uint8Array(PREAMBLE_SIZE);
  for (let i = 0; i < MAGIC.length; i++) out[i] = MAGIC[i];
  out[4] = BUNDLE_FORMAT;
  out[5] = kind;
  new DataView(out.buffer).setUint32(8, headerLength >>> 0, false);
  return out;
}

/** Byte offset where part `index`'s data starts (after its prefix), given the header length and the part sizes. */
export function partDataOffset(headerLength: number, sizes: number[], index: number): number {
  let at = PREAMBLE_SIZE + headerLength;
  for (let i = 0; i < index; i++) at += PART_PREFIX_SIZE + sizes[i];
  return at + PART_PREFIX_SIZE;
}

/** Total bundle length for a header length and the part sizes. */
export function bundleLength(headerLength: number, sizes: number[]): number {
  return partDataOffset(headerLength, sizes, sizes.length) - PART_PREFIX_SIZE;
}
