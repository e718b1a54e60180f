import type { Hash } from './hash.js';
import { BlockBuffer } from './block-buffer.js';
import { otaError } from '../util/errors.js';

// RFC 1321 MD5 in the portable subset. Memfault's /latest lists an artifact's md5, so the agent checks it as a
// transport checksum (never as a security check: MD5 is broken for that). Its state can be saved and restored,
// so a download interrupted by a power cut continues the digest from a journal checkpoint.

// The per-step shift amounts: each round repeats four of them, so round r, step i uses S[4 * r + (i & 3)]. 16
// entries instead of 64 spell the same table and cost Espruino (which builds module constants at load) fewer blocks.
const S = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];

let table: number[] | null = null;

function constants(): number[] {
  if (table !== null) return table;
  const built: number[] = [];
  for (let i = 0; i < 64; i++) built.push(Math.floor(Math.abs(Math.sin(i + 1)) * 4294967296) | 0);
  table = built;
  return built;
}

/** True in this module; false in the Espruino build's stand-in (src/espruino/md5-omitted.ts), which has no MD5. */
export const MD5_INCLUDED = true;

/** Size in bytes of a saved MD5 state: four words, the byte count (two words) and the partial block. */
export const MD5_STATE_SIZE = 4 * 4 + 8 + 64;

/** Incremental MD5 whose state can be saved and restored. */
export class Md5 implements Hash {
  private h = [0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476];
  private readonly blocks = new BlockBuffer();
  private x = new Int32Array(16);
  private done = false;
  private readonly compressBlock = (data: Uint8Array, at: number): void => { this.compress(data, at); };

  /** Feeds `data`. */
  update(data: Uint8Array): void {
    this.updateRange(data, 0, data.length);
  }

  /** Feeds bytes [start, end) of `data` without copying them. */
  updateRange(data: Uint8Array, start: number, end: number): void {
    if (this.done) throw otaError('hash-finished', 'Md5.update was called after digest(); make a new hash for new data.', false);
    this.blocks.feed(data, start, end, this.compressBlock);
  }

  /** The 16-byte digest of everything fed. */
  digest(): Uint8Array {
    if (this.done) throw otaError('hash-finished', 'Md5.digest() was called twice; keep the first result.', false);
    this.done = true;
    this.blocks.pad(true, this.compressBlock);
    const out = new Uint8Array(16);
    const outView = new DataView(out.buffer, 0, 16);
    for (let j = 0; j < 4; j++) outView.setUint32(4 * j, this.h[j] >>> 0, true);
    return out;
  }

  /** The state as MD5_STATE_SIZE bytes (little-endian), for a journal checkpoint. */
  saveState(): Uint8Array {
    const out = new Uint8Array(MD5_STATE_SIZE);
    const view = new DataView(out.buffer, 0, MD5_STATE_SIZE);
    for (let j = 0; j < 4; j++) view.setUint32(4 * j, this.h[j] >>> 0, true);
    view.setUint32(16, this.blocks.total >>> 0, true);
    view.setUint32(20, Math.floor(this.blocks.total / 0x100000000) >>> 0, true);
    out.set(this.blocks.block.subarray(0, this.blocks.used), 24);
    return out;
  }

  /** Bytes fed so far. */
  length(): number {
    return this.blocks.total;
  }

  private compress(data: Uint8Array, at: number): void {
    const x = this.x;
    for (let t = 0; t < 16; t++) {
      const p = at + 4 * t;
      x[t] = data[p] | (data[p + 1] << 8) | (data[p + 2] << 16) | (data[p + 3] << 24);
    }
    const k = constants();
    const h = this.h;
    let a = h[0], b = h[1], c = h[2], d = h[3];
    for (let i = 0; i < 64; i++) {
      let f: number;
      let g: number;
      if (i < 16) { f = (b & c) | (~b & d); g = i; }
      else if (i < 32) { f = (d & b) | (~d & c); g = (5 * i + 1) & 15; }
      else if (i < 48) { f = b ^ c ^ d; g = (3 * i + 5) & 15; }
      else { f = c ^ (b | ~d); g = (7 * i) & 15; }
      const sum = (a + f + k[i] + x[g]) | 0;
      const s = S[((i >> 4) << 2) | (i & 3)];
      a = d; d = c; c = b;
      b = (b + ((sum << s) | (sum >>> (32 - s)))) | 0;
    }
    h[0] = (h[0] + a) | 0; h[1] = (h[1] + b) | 0; h[2] = (h[2] + c) | 0; h[3] = (h[3] + d) | 0;
  }
}

/** An Md5 continuing from a state made by `saveState`; null when the bytes are not such a state. */
export function restoreMd5(state: Uint8Array): Md5 | null {
  if (state.length !== MD5_STATE_SIZE) return null;
  const view = new DataView(state.buffer, state.byteOffset, MD5_STATE_SIZE);
  const total = view.getUint32(16, true) + view.getUint32(20, true) * 0x100000000;
  const md5 = new Md5();
  const inner = md5 as unknown as { h: number[]; blocks: BlockBuffer };
  for (let j = 0; j < 4; j++) inner.h[j] = view.getUint32(4 * j, true) | 0;
  inner.blocks.total = total;
  inner.blocks.used = total % 64;
  inner.blocks.block.set(state.subarray(24, 24 + inner.blocks.used), 0);
  return md5;
}

/** MD5 of the whole of `data`. */
export function md5(data: Uint8Array): Uint8Array {
  const hash = new Md5();
  hash.update(data);
  return hash.digest();
}
