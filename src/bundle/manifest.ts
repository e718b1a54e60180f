import { CborMap } from './cbor-reader.js';
import type { CborValue } from './cbor-reader.js';
import { otaError } from '../util/errors.js';

// The manifest schema (integer keys, docs/bundle-format.md):
//   {1: format version, 2: sequence, 3: release version, 4: [hardware versions], 5: [parts]}
//   part {1: software type, 2: version, 3: size, 4: SHA-256, 5: CRC-32, 6: activation order, 7?: [[type, min version]]}
// Negative keys are vendor data and ignored; an unknown positive key is an error (new meaning = new format version).

/** The manifest format version this code understands. */
export const MANIFEST_VERSION = 1;
/** Most parts one bundle may carry. */
export const MAX_PARTS = 8;

/** Manifest keys. */
export const M_VERSION = 1;
export const M_SEQUENCE = 2;
export const M_RELEASE = 3;
export const M_HARDWARE = 4;
export const M_PARTS = 5;
/** Part keys. */
export const P_TYPE = 1;
export const P_VERSION = 2;
export const P_SIZE = 3;
export const P_SHA256 = 4;
export const P_CRC32 = 5;
export const P_ORDER = 6;
export const P_REQUIRES = 7;

/** "This part needs `softwareType` at `minVersion` or newer" (Memfault version order). */
export interface Requirement {
  softwareType: string;
  minVersion: string;
}

/** One image of the release. */
export interface ManifestPart {
  softwareType: string;
  version: string;
  size: number;
  sha256: Uint8Array;
  crc32: number;
  /** Activation order: lower activates (and is confirmed) first; unique within the manifest. */
  order: number;
  requires: Requirement[];
}

/** A decoded, schema-checked manifest. Parts are in stream order. */
export interface Manifest {
  formatVersion: number;
  sequence: number;
  releaseVersion: string;
  hardwareVersions: string[];
  parts: ManifestPart[];
}

function invalid(where: string, expected: string): object {
  return otaError('manifest-invalid', 'The manifest field ' + where + ' must be ' + expected + '. Re-create the bundle with ' +
    'the ota packer.', false, { field: where });
}

function checkKeys(map: CborMap, known: number[], where: string): void {
  for (let i = 0; i < map.keys.length; i++) {
    const key = map.keys[i];
    if (key < 0) continue;
    let found = false;
    for (let j = 0; j < known.length; j++) if (known[j] === key) found = true;
    if (!found) {
      throw otaError('manifest-key-unknown', 'The manifest has unknown key ' + key + ' in ' + where + '; this device reads ' +
        'manifest version ' + MANIFEST_VERSION + '. Build the bundle for this version or update the device first.', false,
      { key: key, where: where });
    }
  }
}

function field(map: CborMap, key: number, where: string): CborValue {
  const value = map.get(key);
  if (value === undefined) {
    throw otaError('manifest-invalid', 'The manifest lacks required field ' + where + '. Re-create the bundle with the ota packer.',
      false, { field: where });
  }
  return value;
}

function uint(map: CborMap, key: number, where: string): number {
  const value = field(map, key, where);
  if (typeof value !== 'number' || value < 0) throw invalid(where, 'an unsigned integer');
  return value;
}

function text(value: CborValue, where: string): string {
  if (typeof value !== 'string' || value.length === 0) throw invalid(where, 'a non-empty text string');
  return value;
}

function list(value: CborValue, where: string, max: number): CborValue[] {
  if (!(value instanceof Array) || value.length < 1 || value.length > max) throw invalid(where, 'an array of 1 to ' + max + ' items');
  return value;
}

function asMap(value: CborValue, where: string): CborMap {
  if (!(value instanceof CborMap)) throw invalid(where, 'a map');
  return value;
}

function parseRequires(value: CborValue, where: string): Requirement[] {
  const items = list(value, where, 8);
  const out: Requirement[] = [];
  for (let i = 0; i < items.length; i++) {
    const pair = items[i];
    if (!(pair instanceof Array) || pair.length !== 2) throw invalid(where + '[' + i + ']', 'a [software type, minimum version] pair');
    out.push({ softwareType: text(pair[0], where + '[' + i + '][0]'), minVersion: text(pair[1], where + '[' + i + '][1]') });
  }
  return out;
}

function parsePart(value: CborValue, index: number): ManifestPart {
  const where = 'parts[' + index + ']';
  const map = asMap(value, where);
  checkKeys(map, [P_TYPE, P_VERSION, P_SIZE, P_SHA256, P_CRC32, P_ORDER, P_REQUIRES], where);
  const sha = field(map, P_SHA256, where + '.sha256');
  if (!(sha instanceof Uint8Array) || sha.length !== 32) throw invalid(where + '.sha256', 'a 32-byte SHA-256 digest');
  const size = uint(map, P_SIZE, where + '.size');
  if (size < 1) throw invalid(where + '.size', 'at least 1 byte');
  const requires = map.get(P_REQUIRES);
  return {
    softwareType: text(field(map, P_TYPE, where + '.software_type'), where + '.software_type'),
    version: text(field(map, P_VERSION, where + '.version'), where + '.version'),
    size: size,
    sha256: sha,
    crc32: uint(map, P_CRC32, where + '.crc32'),
    order: uint(map, P_ORDER, where + '.order'),
    requires: requires === undefined ? [] : parseRequires(requires, where + '.requires'),
  };
}

/** Checks what any device would reject: duplicate software types or orders, and requirements activated out of order. */
function checkConsistency(parts: ManifestPart[]): void {
  for (let i = 0; i < parts.length; i++) {
    for (let j = 0; j < i; j++) {
      if (parts[i].softwareType === parts[j].softwareType) {
        throw otaError('part-duplicate-type', 'Software type "' + parts[i].softwareType + '" appears twice in the manifest; ' +
          'a bundle carries one image per software type.', false, { softwareType: parts[i].softwareType });
      }
      if (parts[i].order === parts[j].order) {
        throw otaError('part-duplicate-order', 'Parts "' + parts[j].softwareType + '" and "' + parts[i].softwareType + '" share ' +
          'activation order ' + parts[i].order + '; orders must be unique.', false, { order: parts[i].order });
      }
    }
  }
  for (let i = 0; i < parts.length; i++) {
    const reqs = parts[i].requires;
    for (let r = 0; r < reqs.length; r++) {
      if (reqs[r].softwareType === parts[i].softwareType) {
        throw invalid('parts[' + i + '].requires', 'about other software types, not the part itself');
      }
      for (let j = 0; j < parts.length; j++) {
        // A requirement met by another part of the release must be activated (and confirmed) first, so that no
        // reachable state runs this part beside the older image it excludes.
        if (parts[j].softwareType === reqs[r].softwareType && parts[j].order >= parts[i].order) {
          throw otaError('requires-order', 'Part "' + parts[i].softwareType + '" requires "' + reqs[r].softwareType + '" but is ' +
            'activated before it (order ' + parts[i].order + ' vs ' + parts[j].order + '); give the required part a lower order.',
          false, { part: parts[i].softwareType, requires: reqs[r].softwareType });
        }
      }
    }
  }
}

/** Turns a decoded CBOR value into a Manifest; throws a specific OtaError for anything off-schema. */
export function parseManifest(value: CborValue): Manifest {
  const map = asMap(value, 'manifest');
  const version = field(map, M_VERSION, 'format_version');
  if (version !== MANIFEST_VERSION) {
    throw otaError('manifest-version-unsupported', 'Manifest version ' + String(version) + ' is not supported; this device ' +
      'reads version ' + MANIFEST_VERSION + '. Update the device first or build the bundle for version ' + MANIFEST_VERSION + '.',
    false, { version: typeof version === 'number' ? version : null });
  }
  checkKeys(map, [M_VERSION, M_SEQUENCE, M_RELEASE, M_HARDWARE, M_PARTS], 'manifest');
  const hardware = list(field(map, M_HARDWARE, 'hardware_versions'), 'hardware_versions', 8);
  const hardwareVersions: string[] = [];
  for (let i = 0; i < hardware.length; i++) hardwareVersions.push(text(hardware[i], 'hardware_versions[' + i + ']'));
  const rawParts = list(field(map, M_PARTS, 'parts'), 'parts', MAX_PARTS);
  const parts: ManifestPart[] = [];
  for (let i = 0; i < rawParts.length; i++) parts.push(parsePart(rawParts[i], i));
  checkConsistency(parts);
  return {
    formatVersion: version,
    sequence: uint(map, M_SEQUENCE, 'sequence'),
    releaseVersion: text(field(map, M_RELEASE, 'release_version'), 'release_version'),
    hardwareVersions: hardwareVersions,
    parts: parts,
  };
}

/** Part indices sorted by activation order. */
export function activationOrder(manifest: Manifest): number[] {
  const indices: number[] = [];
  for (let i = 0; i < manifest.parts.length; i++) indices.push(i);
  indices.sort(function (a, b) { return manifest.parts[a].order - manifest.parts[b].order; });
  return indices;
}
