import { otaError } from '../util/errors.js';
import type { OtaError } from '../util/errors.js';

// A strict, bounded CBOR (RFC 8949) reader for the device subset of docs/bundle-format.md: unsigned and negative
// integers up to 2^32-1 in magnitude, byte and text strings, definite arrays, maps with integer keys in strictly
// ascending encoded order, tags only where the caller allows them (top level), false/true/null. Everything else
// (floats, undefined, simple values, indefinite lengths, non-shortest arguments, 8-byte arguments, other tags,
// text keys, duplicate or unordered keys, non-ASCII text, trailing bytes) is rejected as `cbor-malformed` or
// `cbor-limit`. Each limit is checked against the claimed length before anything is allocated or looped over,
// so a hostile length costs nothing.

/** A decoded map: integer keys in their (ascending) order, values by key. */
export class CborMap {
  /** Keys in encoded order (strictly ascending: 0, 1, ..., then -1, -2, ...). */
  readonly keys: number[] = [];
  /** Values in the order of `keys` (maps hold at most a few pairs, so a scan beats an object). */
  readonly values: CborValue[] = [];

  /** The value stored under `key`, or undefined. */
  get(key: number): CborValue | undefined {
    for (let i = 0; i < this.keys.length; i++) if (this.keys[i] === key) return this.values[i];
    return undefined;
  }

  /** True when `key` is present. */
  has(key: number): boolean {
    for (let i = 0; i < this.keys.length; i++) if (this.keys[i] === key) return true;
    return false;
  }

  /** Adds a key (the reader guarantees order and uniqueness). */
  set(key: number, value: CborValue): void {
    this.keys.push(key);
    this.values.push(value);
  }
}

/** A decoded tag (only tags the caller allowed reach here). */
export class CborTag {
  /** Tag number and the tagged item. */
  constructor(readonly tag: number, readonly value: CborValue) {}
}

/** Everything the reader can produce. */
export type CborValue = number | string | boolean | null | Uint8Array | CborValue[] | CborMap | CborTag;

/** Bounds for one decode. All are inclusive maxima. */
export interface CborLimits {
  /** Container nesting: a top-level array or map is depth 1; scalars and tags do not count. */
  maxDepth: number;
  /** Data items decoded, map keys not counted. */
  maxItems: number;
  /** Length of a text string, in bytes. */
  maxText: number;
  /** Length of a byte string. */
  maxBytes: number;
  /** Elements of an array or pairs of a map. */
  maxElements: number;
  /** Tag numbers accepted on the top-level item (e.g. 17, 18 for COSE); empty = no tags. */
  topLevelTags: number[];
}

/** Limits for a manifest (docs/bundle-format.md §Limits). */
export const MANIFEST_LIMITS: CborLimits = {
  maxDepth: 5, maxItems: 160, maxText: 128, maxBytes: 64, maxElements: 8, topLevelTags: [],
};

const MAX_ARGUMENT = 0xffffffff;

interface Cursor {
  data: Uint8Array;
  at: number;
  end: number;
  items: number;
  limits: CborLimits;
}

function malformed(cursor: Cursor, what: string): OtaError {
  return otaError('cbor-malformed', 'The CBOR data is not in the accepted strict subset: ' + what + ' at byte ' + cursor.at +
    '. Re-create the bundle with the ota packer.', false, { offset: cursor.at });
}

function overLimit(cursor: Cursor, what: string, found: number, limit: number): OtaError {
  return otaError('cbor-limit', 'The CBOR data exceeds a device limit: ' + what + ' is ' + found + ', at most ' + limit +
    ' is accepted (byte ' + cursor.at + '). Keep manifests within the documented limits.', false,
  { offset: cursor.at, found: found, limit: limit });
}

function need(cursor: Cursor, count: number): void {
  if (cursor.end - cursor.at < count) throw malformed(cursor, 'data ends inside an item (' + count + ' more bytes needed)');
}

/** Reads the argument of the head at cursor.at; enforces shortest form and rejects 8-byte and indefinite forms. */
function readArgument(cursor: Cursor, info: number): number {
  if (info < 24) return info;
  if (info === 24) {
    need(cursor, 1);
    const v = cursor.data[cursor.at];
    cursor.at += 1;
    if (v < 24) throw malformed(cursor, 'non-shortest argument');
    return v;
  }
  if (info === 25) {
    need(cursor, 2);
    const v = (cursor.data[cursor.at] << 8) | cursor.data[cursor.at + 1];
    cursor.at += 2;
    if (v <= 0xff) throw malformed(cursor, 'non-shortest argument');
    return v;
  }
  if (info === 26) {
    need(cursor, 4);
    const d = cursor.data;
    const v = ((d[cursor.at] << 24) | (d[cursor.at + 1] << 16) | (d[cursor.at + 2] << 8) | d[cursor.at + 3]) >>> 0;
    cursor.at += 4;
    if (v <= 0xffff) throw malformed(cursor, 'non-shortest argument');
    return v;
  }
  if (info === 27) throw malformed(cursor, '8-byte argument (values above 2^32-1 are not used)');
  if (info === 31) throw malformed(cursor, 'indefinite length');
  throw malformed(cursor, 'reserved additional information ' + info);
}

/** Rank of an integer key in bytewise order of its shortest encoding: all unsigned keys sort before negative ones. */
function keyRank(key: number): number {
  return key >= 0 ? key : MAX_ARGUMENT + 1 + (-1 - key);
}

function readText(cursor: Cursor, length: number): string {
  if (length > cursor.limits.maxText) throw overLimit(cursor, 'a text string length', length, cursor.limits.maxText);
  need(cursor, length);
  let text = '';
  for (let i = 0; i < length; i++) {
    const c = cursor.data[cursor.at + i];
    if (c < 0x20 || c > 0x7e) throw malformed(cursor, 'text outside printable ASCII (byte 0x' + c.toString(16) + ')');
    text += String.fromCharCode(c);
  }
  cursor.at += length;
  return text;
}

function readItem(cursor: Cursor, depth: number, isKey: boolean): CborValue {
  if (!isKey) {
    cursor.items++;
    if (cursor.items > cursor.limits.maxItems) throw overLimit(cursor, 'the number of data items', cursor.items, cursor.limits.maxItems);
  }
  need(cursor, 1);
  const head = cursor.data[cursor.at];
  const major = head >> 5;
  const info = head & 0x1f;
  if (isKey && major > 1) throw malformed(cursor, 'a map key that is not an integer');
  if (major === 7) {
    if (info === 20) { cursor.at++; return false; }
    if (info === 21) { cursor.at++; return true; }
    if (info === 22) { cursor.at++; return null; }
    if (info === 23) throw malformed(cursor, 'undefined');
    if (info >= 25 && info <= 27) throw malformed(cursor, 'a floating-point number');
    if (info === 31) throw malformed(cursor, 'a break outside an indefinite item');
    throw malformed(cursor, 'a simple value');
  }
  const headAt = cursor.at;
  cursor.at++;
  const arg = readArgument(cursor, info);
  if (major === 0) return arg;
  if (major === 1) return -1 - arg;
  if (major === 2) {
    if (arg > cursor.limits.maxBytes) {
      cursor.at = headAt;
      throw overLimit(cursor, 'a byte string length', arg, cursor.limits.maxBytes);
    }
    need(cursor, arg);
    const bytes = new Uint8Array(cursor.data.subarray(cursor.at, cursor.at + arg));
    cursor.at += arg;
    return bytes;
  }
  if (major === 3) return readText(cursor, arg);
  if ((major === 4 || major === 5) && depth > cursor.limits.maxDepth) {
    cursor.at = headAt;
    throw overLimit(cursor, 'container nesting depth', depth, cursor.limits.maxDepth);
  }
  if (major === 4) {
    if (arg > cursor.limits.maxElements) throw overLimit(cursor, 'an array length', arg, cursor.limits.maxElements);
    const out: CborValue[] = [];
    for (let i = 0; i < arg; i++) out.push(readItem(cursor, depth + 1, false));
    return out;
  }
  if (major === 5) {
    if (arg > cursor.limits.maxElements) throw overLimit(cursor, 'a map size', arg, cursor.limits.maxElements);
    const map = new CborMap();
    let lastRank = -1;
    for (let i = 0; i < arg; i++) {
      const keyAt = cursor.at;
      const key = readItem(cursor, depth + 1, true) as number;
      const rank = keyRank(key);
      if (rank <= lastRank) {
        cursor.at = keyAt;
        throw malformed(cursor, rank === lastRank ? 'a duplicate map key ' + key : 'map keys out of canonical order at key ' + key);
      }
      lastRank = rank;
      map.set(key, readItem(cursor, depth + 1, false));
    }
    return map;
  }
  // major 6: tags are handled by readCbor at the top level only
  cursor.at = headAt;
  throw malformed(cursor, 'tag ' + arg + ' (not accepted here)');
}

/**
 * Decodes exactly one CBOR item from bytes [start, end) of `data` under `limits`; throws an OtaError
 * (`cbor-malformed`, `cbor-limit`) on anything outside the subset, including bytes left after the item.
 */
export function readCbor(data: Uint8Array, start: number, end: number, limits: CborLimits): CborValue {
  const cursor: Cursor = { data: data, at: start, end: end, items: 0, limits: limits };
  if (end <= start) throw malformed(cursor, 'no data');
  let value: CborValue;
  if (data[start] >> 5 === 6) {
    cursor.at++;
    const tag = readArgument(cursor, data[start] & 0x1f);
    let allowed = false;
    for (let i = 0; i < limits.topLevelTags.length; i++) if (limits.topLevelTags[i] === tag) allowed = true;
    if (!allowed) {
      cursor.at = start;
      throw malformed(cursor, 'tag ' + tag + ' (not accepted here)');
    }
    value = new CborTag(tag, readItem(cursor, 1, false));
  } else {
    value = readItem(cursor, 1, false);
  }
  if (cursor.at !== end) throw malformed(cursor, (end - cursor.at) + ' trailing bytes after the item');
  return value;
}
