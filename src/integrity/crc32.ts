// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320): the checksum of zlib, PNG and Espruino's E.CRC32.

/** Continues a CRC-32 over bytes [start, end) of `data` from `previous` (0 to start); returns it as uint32. */
export type Crc32Update = (previous: number, data: Uint8Array, start: number, end: number) => number;

// An Int32Array, not a number[]: entries above 2^31 would make V8 store the array as doubles (several times slower
// per byte), and on Espruino a typed array is 1 KiB where an array of numbers costs a variable per entry.
let table: Int32Array | null = null;

function crcTable(): Int32Array {
  if (table !== null) return table;
  const built = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    built[n] = c;
  }
  table = built;
  return built;
}

/** The portable byte-wise CRC-32 (one 256-entry table): small enough for an MCU. */
export function portableCrc32Update(previous: number, data: Uint8Array, start: number, end: number): number {
  const t = crcTable();
  let c = ~previous;
  for (let i = start; i < end; i++) c = t[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

// Every CRC in the core goes through this; a host with a native CRC-32 (Node's zlib) installs it once at startup.
let active: Crc32Update = portableCrc32Update;

/**
 * Makes `crc32Update` (and so every CRC the core computes) use `implementation`, or the portable one again with
 * null. The implementation must return exactly what `portableCrc32Update` returns for the same arguments.
 */
export function useCrc32(implementation: Crc32Update | null): void {
  active = implementation !== null ? implementation : portableCrc32Update;
}

/**
 * Continues a CRC-32 over bytes [start, end) of `data`. Pass 0 as `previous` to start; feeding chunks in order
 * gives the CRC of their concatenation, so a download can checkpoint and resume the value.
 */
export function crc32Update(previous: number, data: Uint8Array, start: number, end: number): number {
  if (end <= start) return previous >>> 0;
  return active(previous, data, start, end);
}

/** CRC-32 of the whole of `data`. */
export function crc32(data: Uint8Array): number {
  return crc32Update(0, data, 0, data.length);
}
