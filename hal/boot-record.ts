import { crc32 } from '../src/integrity/crc32.js';
import { otaError } from '../src/util/errors.js';

// The boot-control record: one program call, CRC-32 over every byte before the CRC (ESP-IDF's otadata covers only
// its sequence number; a torn state byte there goes unnoticed). Little-endian. Layout (204 bytes, an optional
// 16-byte anti-rollback extension, then padding to the write unit with the erase value):
//
//   0  4  magic "OTAB" (4f 54 41 42)       neither all-0xFF nor all-0x00, so erased cells never decode
//   4  1  format version (1)
//   5  1  slot count (2)
//   6  2  record length before padding (204)
//   8  4  sequence number: serial order, 0 and 0xFFFFFFFF never used
//  12  1  boot slot: 0, 1, or 0xFF for none
//  13  1  flags: bit 0 = the anti-rollback extension follows; other bits zero (format 1 wrote 0 here)
//  14  2  reserved, zero
//  16 92  slot 0 entry
// 108 92  slot 1 entry
// 200  4  CRC-32 of bytes [0, 200)
// Anti-rollback extension, written only when one of its values is not 0 (flag bit 0 set):
// 204  4  security floor: the highest bundle sequence confirmed on this MCU (a bundle must be newer)
// 208  4  slot 0 bundle sequence: the signed bundle sequence the image in slot 0 came from (0: none)
// 212  4  slot 1 bundle sequence
// 216  4  CRC-32 of bytes [0, 216)
//
// The extension sits where format 1 put its padding and is announced by a flag the base CRC covers, so: a record
// written before it existed (flag 0) reads with floor 0; a decoder that predates it still reads the base and ignores
// the rest; and a write torn inside the extension fails the extension CRC instead of reading as "floor 0".
//
// Slot entry (92 bytes):
//   0  1  state (1 empty, 2 writing, 3 staged, 4 pending, 5 trial, 6 confirmed, 7 rejected)
//   1  1  boot attempts left
//   2  2  reserved, zero
//   4  4  image size
//   8  4  image CRC-32
//  12 32  image SHA-256
//  44 32  version, printable ASCII, zero-padded
//  76 16  software type, printable ASCII, zero-padded

/** Life of an image slot. `writing` also names the image being written, so a resume can check it is the same. */
export type SlotState = 'empty' | 'writing' | 'staged' | 'pending' | 'trial' | 'confirmed' | 'rejected';

/** What the record says about one slot. */
export interface SlotEntry {
  state: SlotState;
  attempts: number;
  size: number;
  crc32: number;
  sha256: Uint8Array;
  version: string;
  softwareType: string;
  /** Sequence of the signed bundle this image came from (its anti-rollback counter); absent means 0 (none). */
  sequence?: number;
}

/** One decoded boot-control record. */
export interface BootRecord {
  seq: number;
  /** Slot the bootloader should start, or -1 for none. */
  boot: number;
  slots: SlotEntry[];
  /** Anti-rollback floor: the highest bundle sequence confirmed here; absent means 0 (none). */
  floor?: number;
}

/** Bytes of the base record (format 1), before the extension and padding. */
export const BOOT_RECORD_LENGTH = 204;
/** Bytes of a record with its anti-rollback extension, before padding. */
export const EXTENDED_RECORD_LENGTH = 220;
/** Longest version string a slot entry holds. */
export const MAX_VERSION_LENGTH = 32;
/** Longest software type a slot entry holds. */
export const MAX_SOFTWARE_TYPE_LENGTH = 16;

const MAGIC = [0x4f, 0x54, 0x41, 0x42];
const FORMAT = 1;
const ENTRY = 92;
const STATES: SlotState[] = ['empty', 'writing', 'staged', 'pending', 'trial', 'confirmed', 'rejected'];

/** Size on flash of a record without the extension: the base record padded to a multiple of the write unit. */
export function paddedRecordLength(writeAlign: number): number {
  return Math.ceil(BOOT_RECORD_LENGTH / writeAlign) * writeAlign;
}

/** Size on flash of a record with the extension, and so what a reader reads from each copy. */
export function paddedExtendedLength(writeAlign: number): number {
  return Math.ceil(EXTENDED_RECORD_LENGTH / writeAlign) * writeAlign;
}

/** How many of `bytes` (read from a copy) the record written there occupies: its flag says whether it is extended. */
export function storedRecordLength(bytes: Uint8Array, writeAlign: number): number {
  const n = bytes.length > 13 && bytes[13] === 1 ? paddedExtendedLength(writeAlign) : paddedRecordLength(writeAlign);
  return n < bytes.length ? n : bytes.length;
}

/** The anti-rollback floor a record holds (0 when it holds none). */
export function recordFloor(record: BootRecord): number {
  return record.floor !== undefined ? record.floor : 0;
}

/** The bundle sequence a slot entry holds (0 when none). */
export function entrySequence(entry: SlotEntry): number {
  return entry.sequence !== undefined ? entry.sequence : 0;
}

/** True when sequence number `a` is newer than `b` in serial-number order (RFC 1982), so it survives wrapping. */
export function seqNewer(a: number, b: number): boolean {
  const d = (a - b) >>> 0;
  return d !== 0 && d < 0x80000000;
}

/** The sequence number after `seq`, skipping the reserved 0 and 0xFFFFFFFF. */
export function nextSeq(seq: number): number {
  const n = (seq + 1) >>> 0;
  return n === 0 || n === 0xffffffff ? 1 : n;
}

/** An empty slot entry. */
export function emptyEntry(): SlotEntry {
  return { state: 'empty', attempts: 0, size: 0, crc32: 0, sha256: new Uint8Array(32), version: '', softwareType: '' };
}

/** A deep copy of a record (the optional anti-rollback fields only where present, so copies compare equal). */
export function copyRecord(record: BootRecord): BootRecord {
  const slots: SlotEntry[] = [];
  for (let i = 0; i < record.slots.length; i++) {
    const e = record.slots[i];
    const c: SlotEntry = { state: e.state, attempts: e.attempts, size: e.size, crc32: e.crc32,
      sha256: new Uint8Array(e.sha256), version: e.version, softwareType: e.softwareType };
    if (e.sequence !== undefined) c.sequence = e.sequence;
    slots.push(c);
  }
  const out: BootRecord = { seq: record.seq, boot: record.boot, slots: slots };
  if (record.floor !== undefined) out.floor = record.floor;
  return out;
}

function checkCounter(what: string, value: number): void {
  if (!(value >= 0 && value <= 0xffffffff && value % 1 === 0)) {
    throw otaError('record-counter-invalid', what + ' must be an integer from 0 to 4294967295 to fit the boot record, got ' +
      value + '.', false, { what: what, value: value });
  }
}

/** Throws unless `text` is printable ASCII of at most `max` bytes. */
export function checkRecordText(what: string, text: string, max: number): void {
  let ok = text.length <= max;
  for (let i = 0; i < text.length && ok; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) ok = false;
  }
  if (!ok) {
    throw otaError('record-text-invalid', what + ' "' + text + '" must be printable ASCII of at most ' + max +
      ' characters to fit the boot record; shorten it.', false, { what: what, length: text.length, max: max });
  }
}

function putText(view: Uint8Array, at: number, text: string): void {
  for (let i = 0; i < text.length; i++) view[at + i] = text.charCodeAt(i);
}

function getText(bytes: Uint8Array, at: number, max: number): string | null {
  let text = '';
  let ended = false;
  for (let i = 0; i < max; i++) {
    const c = bytes[at + i];
    if (c === 0) {
      ended = true;
    } else {
      if (ended || c < 0x20 || c > 0x7e) return null;
      text += String.fromCharCode(c);
    }
  }
  return text;
}

/**
 * Encodes `record` for a part with `writeAlign` and `eraseValue`: one buffer, written in one program call. Without
 * anti-rollback values it is byte for byte a format-1 record; with them it grows by the extension.
 */
export function encodeBootRecord(record: BootRecord, writeAlign: number, eraseValue: number): Uint8Array {
  const floor = recordFloor(record);
  const s0 = entrySequence(record.slots[0]);
  const s1 = entrySequence(record.slots[1]);
  checkCounter('The security floor', floor);
  checkCounter('A slot\'s bundle sequence', s0);
  checkCounter('A slot\'s bundle sequence', s1);
  const extended = floor !== 0 || s0 !== 0 || s1 !== 0;
  const out = new Uint8Array(extended ? paddedExtendedLength(writeAlign) : paddedRecordLength(writeAlign));
  for (let i = extended ? EXTENDED_RECORD_LENGTH : BOOT_RECORD_LENGTH; i < out.length; i++) out[i] = eraseValue;
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let i = 0; i < 4; i++) out[i] = MAGIC[i];
  out[4] = FORMAT;
  out[5] = 2;
  view.setUint16(6, BOOT_RECORD_LENGTH, true);
  view.setUint32(8, record.seq >>> 0, true);
  out[12] = record.boot < 0 ? 0xff : record.boot;
  for (let s = 0; s < 2; s++) {
    const e = record.slots[s];
    const at = 16 + s * ENTRY;
    checkRecordText('Version', e.version, MAX_VERSION_LENGTH);
    checkRecordText('Software type', e.softwareType, MAX_SOFTWARE_TYPE_LENGTH);
    out[at] = STATES.indexOf(e.state) + 1;
    out[at + 1] = e.attempts;
    view.setUint32(at + 4, e.size >>> 0, true);
    view.setUint32(at + 8, e.crc32 >>> 0, true);
    out.set(e.sha256.subarray(0, 32), at + 12);
    putText(out, at + 44, e.version);
    putText(out, at + 76, e.softwareType);
  }
  if (extended) {
    out[13] = 1;
    view.setUint32(204, floor, true);
    view.setUint32(208, s0, true);
    view.setUint32(212, s1, true);
  }
  view.setUint32(200, crc32(out.subarray(0, 200)), true);
  if (extended) view.setUint32(216, crc32(out.subarray(0, 216)), true);
  return out;
}

/** Why `bytes` is not a valid record, or null when it is one. */
export function bootRecordProblem(bytes: Uint8Array): string | null {
  if (bytes.length < BOOT_RECORD_LENGTH) return 'too short: ' + bytes.length + ' bytes';
  for (let i = 0; i < 4; i++) if (bytes[i] !== MAGIC[i]) return 'bad magic';
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes[4] !== FORMAT) return 'unknown format ' + bytes[4];
  if (bytes[5] !== 2 || view.getUint16(6, true) !== BOOT_RECORD_LENGTH) return 'unexpected slot count or length';
  if ((crc32(bytes.subarray(0, 200)) >>> 0) !== view.getUint32(200, true)) return 'CRC mismatch';
  const seq = view.getUint32(8, true);
  if (seq === 0 || seq === 0xffffffff) return 'reserved sequence number';
  if (bytes[12] !== 0 && bytes[12] !== 1 && bytes[12] !== 0xff) return 'bad boot slot ' + bytes[12];
  if (bytes[13] > 1) return 'unknown flags ' + bytes[13];
  if (bytes[13] === 1) {
    if (bytes.length < EXTENDED_RECORD_LENGTH) return 'too short for the anti-rollback extension: ' + bytes.length + ' bytes';
    if ((crc32(bytes.subarray(0, 216)) >>> 0) !== view.getUint32(216, true)) return 'extension CRC mismatch';
  }
  for (let s = 0; s < 2; s++) {
    const at = 16 + s * ENTRY;
    if (bytes[at] < 1 || bytes[at] > STATES.length) return 'bad state in slot ' + s;
    if (getText(bytes, at + 44, MAX_VERSION_LENGTH) === null || getText(bytes, at + 76, MAX_SOFTWARE_TYPE_LENGTH) === null) {
      return 'bad text in slot ' + s;
    }
  }
  return null;
}

/** Decodes a record, or returns null when it is torn, erased, corrupt or of another format. */
export function decodeBootRecord(bytes: Uint8Array): BootRecord | null {
  if (bootRecordProblem(bytes) !== null) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const slots: SlotEntry[] = [];
  const extended = bytes[13] === 1;
  for (let s = 0; s < 2; s++) {
    const at = 16 + s * ENTRY;
    const entry: SlotEntry = {
      state: STATES[bytes[at] - 1],
      attempts: bytes[at + 1],
      size: view.getUint32(at + 4, true),
      crc32: view.getUint32(at + 8, true),
      sha256: new Uint8Array(bytes.subarray(at + 12, at + 44)),
      version: getText(bytes, at + 44, MAX_VERSION_LENGTH) as string,
      softwareType: getText(bytes, at + 76, MAX_SOFTWARE_TYPE_LENGTH) as string,
    };
    const sequence = extended ? view.getUint32(208 + 4 * s, true) : 0;
    if (sequence !== 0) entry.sequence = sequence;
    slots.push(entry);
  }
  const record: BootRecord = { seq: view.getUint32(8, true), boot: bytes[12] === 0xff ? -1 : bytes[12], slots: slots };
  const floor = extended ? view.getUint32(204, true) : 0;
  if (floor !== 0) record.floor = floor;
  return record;
}
