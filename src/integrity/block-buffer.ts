// The 64-byte block buffering and Merkle–Damgård padding that MD5 and SHA-256 share. Composed into each hash, not
// inherited: class inheritance breaks on Espruino.

/** Compresses the 64-byte block of `data` that starts at `at` into a hash's state. */
export type CompressBlock = (data: Uint8Array, at: number) => void;

/** Collects input into 64-byte blocks for a Merkle–Damgård hash and pads the last one. */
export class BlockBuffer {
  /** The partial block waiting for more input. */
  readonly block = new Uint8Array(64);
  /** Bytes of `block` in use. */
  used = 0;
  /** Bytes fed so far. */
  total = 0;

  /** Feeds bytes [start, end) of `data`: whole blocks compress straight from `data`, the rest waits in `block`. */
  feed(data: Uint8Array, start: number, end: number, compress: CompressBlock): void {
    let i = start;
    this.total += end - start;
    if (this.used > 0) {
      while (i < end && this.used < 64) this.block[this.used++] = data[i++];
      if (this.used < 64) return;
      compress(this.block, 0);
      this.used = 0;
    }
    while (end - i >= 64) {
      compress(data, i);
      i += 64;
    }
    while (i < end) this.block[this.used++] = data[i++];
  }

  /** Appends the 0x80 marker, zeros and the length in bits (64-bit, little- or big-endian) and compresses the rest. */
  pad(littleEndian: boolean, compress: CompressBlock): void {
    const bits = this.total * 8;
    this.block[this.used++] = 0x80;
    if (this.used > 56) {
      while (this.used < 64) this.block[this.used++] = 0;
      compress(this.block, 0);
      this.used = 0;
    }
    while (this.used < 56) this.block[this.used++] = 0;
    const view = new DataView(this.block.buffer, 0, 64);
    const high = Math.floor(bits / 0x100000000) >>> 0;
    const low = bits >>> 0;
    view.setUint32(56, littleEndian ? low : high, littleEndian);
    view.setUint32(60, littleEndian ? high : low, littleEndian);
    compress(this.block, 0);
  }
}
