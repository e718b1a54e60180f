import type { ImageWriter } from '../../image-target.js';
import type { HashFactory } from '../../../src/integrity/hash.js';
import { isOtaError, otaError, toOtaError } from '../../../src/util/errors.js';
import type { BootResult } from '../bootloader.js';
import type { SimFlash } from '../sim-flash.js';
import { SimMcu } from '../sim-mcu.js';
import type { LayoutSpec } from '../layout.js';
import { Deframer, encodeFrame } from './frame.js';
import {
  Cmd, decodeBegin, decodeRequest, decodeTag, encodeInfo, encodeU32s, errorResponse, okResponse, u32At,
} from './protocol.js';
import type { Request } from './protocol.js';
import type { LinkPort } from './serial-link.js';

// The WiFi co-processor: a second MCU with its own flash, A/B banks and bootloader (a SimMcu), serving the
// update protocol on its end of the serial link. Its RAM (the open writer, the response cache) is lost at every
// power-on; the flash and its boot records are all that survive.

/** How a co-processor is built. */
export interface WifiCoprocessorOptions {
  flash: SimFlash;
  hashes: HashFactory;
  /** Software type it runs (default "wifi-fw"). */
  softwareType?: string;
  layout?: LayoutSpec;
}

/** A simulated WiFi MCU. */
export class WifiCoprocessor {
  readonly device: SimMcu;
  readonly flash: SimFlash;
  /** The last boot, or null while off or when nothing could boot. */
  booted: BootResult | null = null;
  /** The error of the last boot when nothing verified. */
  bootError: unknown = null;
  private port: LinkPort | null = null;
  private deframer = new Deframer();
  private writer: ImageWriter | null = null;
  private fed = 0;
  private lastSeq = -1;
  private lastResponse: Uint8Array | null = null;
  private queue: Promise<void> = Promise.resolve();
  private generation = 0;

  /** A co-processor over `options.flash` (factory-program it with provision()). */
  constructor(options: WifiCoprocessorOptions) {
    this.flash = options.flash;
    this.device = new SimMcu({ flash: options.flash, softwareType: options.softwareType ?? 'wifi-fw', hashes: options.hashes,
      layout: options.layout });
  }

  /** Factory-programs the confirmed image. */
  provision(image: Uint8Array, version: string): Promise<void> {
    return this.device.provision(image, version);
  }

  /** Connects the co-processor's UART to a link port. */
  attach(port: LinkPort): void {
    this.port = port;
    port.onReceive((bytes) => this.receive(bytes));
  }

  /** Power-on: RAM cleared, the bootloader runs. Resolves with the boot (or null when nothing verified). */
  async powerOn(): Promise<BootResult | null> {
    this.generation++;
    this.writer = null;
    this.fed = 0;
    this.lastSeq = -1;
    this.lastResponse = null;
    this.deframer = new Deframer();
    this.booted = null;
    this.bootError = null;
    try {
      this.booted = await this.device.boot();
    } catch (error) {
      if (isOtaError(error) && error.code === 'power-cut') throw error;
      this.bootError = error;
    }
    return this.booted;
  }

  private receive(bytes: Uint8Array): void {
    for (const frame of this.deframer.push(bytes)) {
      const request = decodeRequest(frame);
      if (request === null) continue;
      const generation = this.generation;
      // Commands run one at a time, in arrival order, like a firmware main loop.
      this.queue = this.queue.then(() => (generation === this.generation ? this.serve(request) : undefined)).catch(() => undefined);
    }
  }

  private async serve(request: Request): Promise<void> {
    const port = this.port;
    const generation = this.generation;
    if (this.booted === null || port === null) return; // not running: the requester times out
    if (request.seq === this.lastSeq && this.lastResponse !== null) {
      // A retransmission: the first answer was lost. Answer again without running the command twice.
      await port.send(encodeFrame(this.lastResponse));
      return;
    }
    let response: Uint8Array;
    let reboot = false;
    try {
      const body = await this.run(request);
      response = okResponse(request.kind, request.seq, body);
      reboot = request.kind === Cmd.REBOOT;
    } catch (error) {
      if (isOtaError(error) && error.code === 'power-cut') throw error;
      response = errorResponse(request.kind, request.seq, toOtaError(error, 'wifi-internal', false));
    }
    // Work begun before a power cycle must not answer on the new link or fill the new cache.
    if (generation !== this.generation) return;
    this.lastSeq = request.seq;
    this.lastResponse = response;
    await port.send(encodeFrame(response));
    if (reboot) await this.powerOn();
  }

  private async run(request: Request): Promise<Uint8Array> {
    const target = this.device.target();
    switch (request.kind) {
      case Cmd.INFO: {
        const status = await target.status();
        return encodeInfo({ softwareType: target.softwareType, runningVersion: status.runningVersion, trial: status.trial, capacity: target.capacity(),
          floor: this.device.installedSequence() });
      }
      case Cmd.BEGIN: {
        const begin = decodeBegin(request.body);
        this.writer = null;
        this.writer = await target.begin({ size: begin.size, version: begin.version, crc32: begin.crc32 ?? undefined,
          sha256: begin.sha256 ?? undefined }, begin.resumeAt);
        this.fed = begin.resumeAt;
        return encodeU32s([this.writer.durableOffset()]);
      }
      case Cmd.WRITE: {
        const writer = this.openWriter();
        const offset = u32At(request.body, 0);
        if (offset !== this.fed) {
          throw otaError('write-out-of-order', `WRITE at ${offset} but the image continues at ${this.fed}.`, false, { offset, expected: this.fed });
        }
        const data = request.body.subarray(4);
        this.fed += data.length;
        await writer.write(new Uint8Array(data));
        return encodeU32s([writer.durableOffset(), this.fed]);
      }
      case Cmd.FINISH: {
        const writer = this.openWriter();
        this.writer = null;
        await writer.finish();
        return new Uint8Array(0);
      }
      case Cmd.ACTIVATE:
        await target.activate();
        return new Uint8Array(0);
      case Cmd.CONFIRM:
        await target.confirm();
        return new Uint8Array(0);
      case Cmd.REBOOT:
        return new Uint8Array(0);
      case Cmd.TAG: {
        const tag = decodeTag(request.body);
        const tagged = await this.device.recordSequence({ sequence: tag.sequence, parts: [{ softwareType: target.softwareType, version: tag.version }] });
        return new Uint8Array([tagged ? 1 : 0]);
      }
      default:
        throw otaError('wifi-command-unknown', `Unknown command ${request.kind}.`, false);
    }
  }

  private openWriter(): ImageWriter {
    if (this.writer === null) throw otaError('wifi-no-image-open', 'No image is open on the co-processor; send BEGIN first.', false);
    return this.writer;
  }
}
