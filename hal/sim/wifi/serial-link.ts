import type { Clock, Random } from '../../../src/util/clock.js';
import { seededRandom } from '../random.js';

// A simulated UART between the main MCU and the WiFi co-processor. Each direction transmits one frame after
// another; a frame of n bytes occupies the line n * bitsPerByte / baud seconds of the injected clock, so the baud
// rate sets the simulated transfer time. Faults: independent bit errors at a rate, frames dropped at a rate, and
// scheduled drops/corruptions by frame index for exact tests.

/** Faults to inject on a link. */
export interface LinkFaults {
  /** Probability that any one transmitted bit flips. */
  bitErrorRate?: number;
  /** Probability that a whole frame is lost. */
  dropRate?: number;
  /** Indices (0-based, both directions counted together) of frames to lose. */
  dropFrames?: number[];
  /** Indices of frames to deliver with one bit flipped. */
  corruptFrames?: number[];
}

/** How a link is built. */
export interface SerialLinkOptions {
  clock: Clock;
  /** Bits per second (default 115200). */
  baud?: number;
  /** Bits on the wire per byte: start + 8 data + stop = 10 (default). */
  bitsPerByte?: number;
  /** Seeds the random faults. */
  seed?: number;
  faults?: LinkFaults;
}

/** Counters of what the link did. */
export interface LinkStats {
  frames: number;
  bytes: number;
  dropped: number;
  corrupted: number;
  bitFlips: number;
}

/** One end of the link. */
export class LinkPort {
  private receiver: ((bytes: Uint8Array) => void) | null = null;
  /** Time the line of this direction is busy until. */
  busyUntil = 0;

  /** End `side` of `link`. */
  constructor(private readonly link: SerialLink, readonly side: 0 | 1) {}

  /** Transmits `bytes`; resolves when the last bit has left (the peer receives it then, unless lost). */
  send(bytes: Uint8Array): Promise<void> {
    return this.link.transmit(this, bytes);
  }

  /** Sets the function that gets received bytes. */
  onReceive(receiver: ((bytes: Uint8Array) => void) | null): void {
    this.receiver = receiver;
  }

  /** Delivers bytes to this end. */
  deliver(bytes: Uint8Array): void {
    if (this.receiver !== null) this.receiver(bytes);
  }
}

/** A point-to-point serial line with two ports. */
export class SerialLink {
  readonly ports: [LinkPort, LinkPort];
  readonly baud: number;
  readonly bitsPerByte: number;
  readonly stats: LinkStats = { frames: 0, bytes: 0, dropped: 0, corrupted: 0, bitFlips: 0 };
  faults: LinkFaults;
  private readonly clock: Clock;
  private readonly random: Random;
  private powered = true;
  private epoch = 0;

  /** A powered link on `options.clock`. */
  constructor(options: SerialLinkOptions) {
    this.clock = options.clock;
    this.baud = options.baud ?? 115200;
    this.bitsPerByte = options.bitsPerByte ?? 10;
    this.random = seededRandom(options.seed ?? 1);
    this.faults = options.faults ?? {};
    this.ports = [new LinkPort(this, 0), new LinkPort(this, 1)];
  }

  /** Milliseconds a frame of `bytes` bytes occupies the line. */
  transferMs(bytes: number): number {
    return (bytes * this.bitsPerByte * 1000) / this.baud;
  }

  /** Cuts the line (both ends lose power): frames in flight are never delivered. */
  powerOff(): void {
    this.powered = false;
    this.epoch++;
  }

  /** Transmits a frame from `from` to the other port. */
  async transmit(from: LinkPort, bytes: Uint8Array): Promise<void> {
    if (!this.powered) return;
    const epoch = this.epoch;
    const index = this.stats.frames++;
    this.stats.bytes += bytes.length;
    const start = Math.max(this.clock.now(), from.busyUntil);
    const end = start + this.transferMs(bytes.length);
    from.busyUntil = end;
    await this.clock.sleep(end - this.clock.now());
    if (!this.powered || epoch !== this.epoch) return;
    const faults = this.faults;
    if ((faults.dropFrames ?? []).includes(index) || (faults.dropRate !== undefined && this.random() < faults.dropRate)) {
      this.stats.dropped++;
      return;
    }
    let data = bytes;
    if ((faults.corruptFrames ?? []).includes(index)) data = this.flip(data, Math.floor(this.random() * data.length * 8));
    const rate = faults.bitErrorRate ?? 0;
    if (rate > 0) {
      // Geometric skips between flipped bits: cost proportional to the number of errors, not of bits.
      let bit = Math.floor(Math.log(1 - this.random()) / Math.log(1 - rate));
      while (bit < data.length * 8) {
        data = this.flip(data, bit);
        bit += 1 + Math.floor(Math.log(1 - this.random()) / Math.log(1 - rate));
      }
    }
    if (data !== bytes) this.stats.corrupted++;
    this.ports[1 - from.side].deliver(data);
  }

  private flip(data: Uint8Array, bit: number): Uint8Array {
    const copy = new Uint8Array(data);
    copy[bit >> 3] ^= 1 << (bit & 7);
    this.stats.bitFlips++;
    return copy;
  }
}
