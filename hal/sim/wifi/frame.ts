import { crc32 } from '../../../src/integrity/crc32.js';

// Serial framing for the co-processor link, in the HDLC style: 0x7E flags around each frame, 0x7D escapes, and a
// CRC-32 (little-endian) over the payload inside. A receiver that loses sync (bit errors, a dropped flag) resyncs
// at the next flag; a frame with a bad CRC or length is dropped and counted, never delivered.

const FLAG = 0x7e;
const ESCAPE = 0x7d;
const XOR = 0x20;

/** Largest payload a frame carries; longer runs between flags are discarded (bounded receive buffer). */
export const MAX_FRAME_PAYLOAD = 1024;

/** Encodes one payload as a flagged, escaped frame with its CRC-32. */
export function encodeFrame(payload: Uint8Array): Uint8Array {
  const crc = crc32(payload);
  const body = new Uint8Array(payload.length + 4);
  body.set(payload);
  new DataView(body.buffer).setUint32(payload.length, crc, true);
  const out: number[] = [FLAG];
  for (const byte of body) {
    if (byte === FLAG || byte === ESCAPE) out.push(ESCAPE, byte ^ XOR);
    else out.push(byte);
  }
  out.push(FLAG);
  return Uint8Array.from(out);
}

/** Turns a byte stream back into payloads whose CRC checks. */
export class Deframer {
  /** Frames dropped for a bad CRC, a bad escape or an oversize run. */
  rejected = 0;
  private buffer = new Uint8Array(MAX_FRAME_PAYLOAD + 4);
  private length = 0;
  private escaped = false;
  private overflow = false;

  /** Feeds received bytes; returns the payloads completed by them. */
  push(bytes: Uint8Array): Uint8Array[] {
    const frames: Uint8Array[] = [];
    for (const byte of bytes) {
      if (byte === FLAG) {
        if (this.length > 0 || this.overflow || this.escaped) {
          const frame = this.take();
          if (frame !== null) frames.push(frame);
          else this.rejected++;
        }
        this.reset();
        continue;
      }
      if (this.overflow) continue;
      let value = byte;
      if (this.escaped) {
        value = byte ^ XOR;
        this.escaped = false;
      } else if (byte === ESCAPE) {
        this.escaped = true;
        continue;
      }
      if (this.length >= this.buffer.length) {
        this.overflow = true;
        continue;
      }
      this.buffer[this.length++] = value;
    }
    return frames;
  }

  private take(): Uint8Array | null {
    if (this.overflow || this.escaped || this.length < 5) return null;
    const payload = this.buffer.slice(0, this.length - 4);
    const crc = new DataView(this.buffer.buffer).getUint32(this.length - 4, true);
    return crc32(payload) === crc ? payload : null;
  }

  private reset(): void {
    this.length = 0;
    this.escaped = false;
    this.overflow = false;
  }
}
