import { asciiToBytes, bytesToAscii } from '../../../src/util/bytes.js';
import type { OtaError } from '../../../src/util/errors.js';
import { otaError } from '../../../src/util/errors.js';

// The co-processor update protocol: one request, one response, matched by an 8-bit sequence number. The response
// doubles as the acknowledgement; the requester retransmits the same request (same sequence) until it gets one,
// and the co-processor answers a repeated sequence from its cache without running the command twice.
//
// request : kind u8 | seq u8 | body
// response: kind|0x80 u8 | seq u8 | status u8 (0 ok, 1 error, 2 busy) | body; an error body is retryable u8 | code (ASCII)
// A busy response (no body) answers a retransmission of the request the co-processor is still executing (a flash
// erase can take longer than the requester's timeout): it is alive, the real answer follows.
// All integers are little-endian.

/** Request kinds. */
export const Cmd = {
  INFO: 1,
  BEGIN: 2,
  WRITE: 3,
  FINISH: 4,
  ACTIVATE: 5,
  CONFIRM: 6,
  REBOOT: 7,
  /** Records a verified release's bundle sequence with the staged image: u32 sequence | version (length-prefixed); answers u8 1 if recorded. */
  TAG: 8,
  /** Rejects the running trial (or the pending image): the confirmed image boots at the next reset. */
  REVERT: 9,
} as const;

/** What the co-processor says about itself. */
export interface WifiInfo {
  softwareType: string;
  runningVersion: string | null;
  trial: boolean;
  capacity: number;
  /** The co-processor's anti-rollback floor, from its boot record (0 when none, or from a co-processor without it). */
  floor?: number;
}

/** A BEGIN request. */
export interface BeginBody {
  size: number;
  resumeAt: number;
  crc32: number | null;
  sha256: Uint8Array | null;
  version: string;
}

/** A decoded request. */
export interface Request {
  kind: number;
  seq: number;
  body: Uint8Array;
}

/** A decoded response. */
export interface Response {
  kind: number;
  seq: number;
  ok: boolean;
  /** True for a BUSY answer: still executing this request; the real answer follows. */
  busy: boolean;
  body: Uint8Array;
}

/** Encodes a request. */
export function encodeRequest(kind: number, seq: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(2 + body.length);
  out[0] = kind;
  out[1] = seq & 0xff;
  out.set(body, 2);
  return out;
}

/** Decodes a request, or null when it is not one. */
export function decodeRequest(bytes: Uint8Array): Request | null {
  if (bytes.length < 2 || (bytes[0] & 0x80) !== 0) return null;
  return { kind: bytes[0], seq: bytes[1], body: bytes.subarray(2) };
}

/** Encodes a success response. */
export function okResponse(kind: number, seq: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(3 + body.length);
  out[0] = kind | 0x80;
  out[1] = seq & 0xff;
  out[2] = 0;
  out.set(body, 3);
  return out;
}

/** Encodes a BUSY response: the request with this sequence number is still executing. */
export function busyResponse(kind: number, seq: number): Uint8Array {
  return Uint8Array.of(kind | 0x80, seq & 0xff, 2);
}

/** Encodes an error response carrying an OtaError's code and retryable flag. */
export function errorResponse(kind: number, seq: number, error: OtaError): Uint8Array {
  const code = asciiToBytes(error.code.slice(0, 64));
  const out = new Uint8Array(4 + code.length);
  out[0] = kind | 0x80;
  out[1] = seq & 0xff;
  out[2] = 1;
  out[3] = error.retryable ? 1 : 0;
  out.set(code, 4);
  return out;
}

/** Decodes a response, or null when it is not one. */
export function decodeResponse(bytes: Uint8Array): Response | null {
  if (bytes.length < 3 || (bytes[0] & 0x80) === 0) return null;
  return { kind: bytes[0] & 0x7f, seq: bytes[1], ok: bytes[2] === 0, busy: bytes[2] === 2, body: bytes.subarray(3) };
}

/** What the main MCU can add to a co-processor's error code (only the code and retryable flag cross the link). */
const HINTS: { [code: string]: string } = {
  'wifi-no-image-open': 'it has no image open, so it restarted since BEGIN (a reset or brown-out of the co-processor alone). ' +
    'The partial image in its inactive bank is never activated and nothing was activated; the next cycle sends the image again',
  'wifi-command-unknown': 'its firmware does not know this command; it runs an older update protocol than the main MCU expects',
};

/** The OtaError an error response carries. */
export function responseError(response: Response, what: string): OtaError {
  const code = response.body.length > 1 ? bytesToAscii(response.body, 1, response.body.length) : 'wifi-error';
  const hint = Object.prototype.hasOwnProperty.call(HINTS, code) ? `: ${HINTS[code]}` : '';
  return otaError(code, `The WiFi co-processor refused ${what} (${code})${hint}.`, response.body[0] === 1, { command: what });
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function text(value: string): Uint8Array {
  const bytes = asciiToBytes(value);
  const out = new Uint8Array(1 + bytes.length);
  out[0] = bytes.length;
  out.set(bytes, 1);
  return out;
}

/** Encodes INFO's answer. */
export function encodeInfo(info: WifiInfo): Uint8Array {
  const type = text(info.softwareType);
  const version = text(info.runningVersion ?? '');
  // The floor goes last, so a decoder that predates it reads the same fields and ignores it.
  const out = new Uint8Array(5 + type.length + version.length + 4);
  view(out).setUint32(0, info.capacity, true);
  out[4] = (info.trial ? 1 : 0) | (info.runningVersion === null ? 0 : 2);
  out.set(type, 5);
  out.set(version, 5 + type.length);
  view(out).setUint32(5 + type.length + version.length, (info.floor ?? 0) >>> 0, true);
  return out;
}

/** Decodes INFO's answer. */
export function decodeInfo(body: Uint8Array): WifiInfo {
  const capacity = view(body).getUint32(0, true);
  const flags = body[4];
  const typeLength = body[5];
  const softwareType = bytesToAscii(body, 6, 6 + typeLength);
  const versionAt = 6 + typeLength;
  const versionEnd = versionAt + 1 + body[versionAt];
  const version = bytesToAscii(body, versionAt + 1, versionEnd);
  const floor = body.length >= versionEnd + 4 ? view(body).getUint32(versionEnd, true) : 0;
  return { softwareType, runningVersion: (flags & 2) !== 0 ? version : null, trial: (flags & 1) !== 0, capacity, floor };
}

/** Encodes TAG: the bundle sequence to record with the staged image of `version`. */
export function encodeTag(sequence: number, version: string): Uint8Array {
  return encodeU32s([sequence], text(version));
}

/** Decodes TAG. */
export function decodeTag(body: Uint8Array): { sequence: number; version: string } {
  return { sequence: u32At(body, 0), version: bytesToAscii(body, 5, 5 + body[4]) };
}

/** Encodes BEGIN. */
export function encodeBegin(begin: BeginBody): Uint8Array {
  const version = text(begin.version);
  const out = new Uint8Array(13 + 32 + version.length);
  const v = view(out);
  v.setUint32(0, begin.size, true);
  v.setUint32(4, begin.resumeAt, true);
  v.setUint32(8, begin.crc32 ?? 0, true);
  out[12] = (begin.crc32 === null ? 0 : 1) | (begin.sha256 === null ? 0 : 2);
  if (begin.sha256 !== null) out.set(begin.sha256, 13);
  out.set(version, 45);
  return out;
}

/** Decodes BEGIN. */
export function decodeBegin(body: Uint8Array): BeginBody {
  const v = view(body);
  const flags = body[12];
  return {
    size: v.getUint32(0, true),
    resumeAt: v.getUint32(4, true),
    crc32: (flags & 1) !== 0 ? v.getUint32(8, true) : null,
    sha256: (flags & 2) !== 0 ? body.slice(13, 45) : null,
    version: bytesToAscii(body, 46, 46 + body[45]),
  };
}

/** Encodes a u32 pair (offsets in WRITE requests and answers). */
export function encodeU32s(values: number[], tail?: Uint8Array): Uint8Array {
  const out = new Uint8Array(values.length * 4 + (tail?.length ?? 0));
  values.forEach((value, i) => view(out).setUint32(i * 4, value >>> 0, true));
  if (tail) out.set(tail, values.length * 4);
  return out;
}

/** Reads u32 number `index` of a body. */
export function u32At(body: Uint8Array, index: number): number {
  return view(body).getUint32(index * 4, true);
}
