// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320): the checksum of zlib, PNG and Espruino's E.CRC32.

let table: number[] | null = null;

function crcTable(): number[] {
  if (table !== null) return table;
  const built: number[] = [];
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    built.push(c >>> 0);
  }
  table = built;
  return built;
}

/**
 * Continues a CRC-32 over bytes [start, end) of `data`. Pass 0 as `previous` to start; feeding chunks in order
 * gives the CRC of their concatenation, so a download can checkpoint and resume the value.
 */
export function crc32Update(previous: number, data: Uint8Array, start: number, end: number): number {
  const t = crcTable();
  let c = (previous ^ 0xffffffff) >>> 0;
  for (let i = start; i < end; i++) c = t[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** CRC-32 of the whole of `data`. */
export function crc32(data: Uint8Array): number {
  return crc32Update(0, data, 0, data.length);
}
