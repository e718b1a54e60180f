// Byte helpers in the portable subset: Uint8Array only, copies through subarray (Espruino's slice returns an Array).

/** A copy of bytes [start, end) of `data`, as its own Uint8Array. */
export function copyBytes(data: Uint8Array, start: number, end: number): Uint8Array {
  return new Uint8Array(data.subarray(start, end));
}

/** The concatenation of `parts`, in order. */
export function concatBytes(parts: Uint8Array[]): Uint8Array {
  let total = 0;
  for (let i = 0; i < parts.length; i++) total += parts[i].length;
  const out = new Uint8Array(total);
  let at = 0;
  for (let i = 0; i < parts.length; i++) {
    out.set(parts[i], at);
    at += parts[i].length;
  }
  return out;
}

/** True when both arrays hold the same bytes. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Encodes a string of code points below 256 (ASCII, Latin-1) as bytes. HTTP heads and CBOR text are ASCII. */
export function asciiToBytes(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0xff;
  return out;
}

/** Decodes bytes [start, end) as Latin-1 (one char per byte), without building intermediate arrays. */
export function bytesToAscii(data: Uint8Array, start: number, end: number): string {
  let text = '';
  // Espruino's Function.apply takes at most 256 arguments.
  const step = 256;
  for (let i = start; i < end; i += step) {
    const stop = i + step < end ? i + step : end;
    text += String.fromCharCode.apply(null, data.subarray(i, stop) as unknown as number[]);
  }
  return text;
}

/** Encodes a JavaScript string as UTF-8. */
export function utf8ToBytes(text: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c >= 0xd800 && c < 0xdc00 && i + 1 < text.length) {
      const low = text.charCodeAt(i + 1);
      if (low >= 0xdc00 && low < 0xe000) {
        c = 0x10000 + ((c - 0xd800) << 10) + (low - 0xdc00);
        i++;
      }
    }
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
  return new Uint8Array(out);
}

const HEX = '0123456789abcdef';

/** Lower-case hex of `data`. */
export function toHex(data: Uint8Array): string {
  let text = '';
  for (let i = 0; i < data.length; i++) text += HEX.charAt(data[i] >> 4) + HEX.charAt(data[i] & 15);
  return text;
}

/** Bytes of a hex string (either case); returns null when it is not an even-length hex string. */
export function fromHex(text: string): Uint8Array | null {
  if (text.length % 2 !== 0) return null;
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) {
    const hi = HEX.indexOf(text.charAt(2 * i).toLowerCase());
    const lo = HEX.indexOf(text.charAt(2 * i + 1).toLowerCase());
    if (hi < 0 || lo < 0) return null;
    out[i] = (hi << 4) | lo;
  }
  return out;
}

/** Reads a big-endian unsigned 32-bit value. */
export function readU32BE(data: Uint8Array, offset: number): number {
  return new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(offset, false) >>> 0;
}

/** Writes a big-endian unsigned 32-bit value. */
export function writeU32BE(data: Uint8Array, offset: number, value: number): void {
  new DataView(data.buffer, data.byteOffset, data.byteLength).setUint32(offset, value >>> 0, false);
}

/** Reads a little-endian unsigned 32-bit value. */
export function readU32LE(data: Uint8Array, offset: number): number {
  return new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(offset, true) >>> 0;
}

/** Writes a little-endian unsigned 32-bit value. */
export function writeU32LE(data: Uint8Array, offset: number, value: number): void {
  new DataView(data.buffer, data.byteOffset, data.byteLength).setUint32(offset, value >>> 0, true);
}
