import type { ImageWriter } from '../../image-target.js';
import type { HashFactory } from '../../../src/integrity/hash.js';
import type { Clock } from '../../../src/util/clock.js';
import { bytesEqual } from '../../../src/util/bytes.js';
import { isOtaError, otaError, toOtaError } from '../../../src/util/errors.js';
import type { BootResult } from '../bootloader.js';
import type { SimFlash } from '../sim-flash.js';
import { SimMcu } from '../sim-mcu.js';
import type { LayoutSpec } from '../layout.js';
import { Deframer, encodeFrame } from './frame.js';
import {
  Cmd, busyResponse, decodeBegin, decodeRequest, decodeTag, encodeInfo, encodeU32s, errorResponse, okResponse, u32At,
} from './protocol.js';
import type { Request } from './protocol.js';
import type { LinkPort } from './serial-link.js';

// The WiFi co-processor: a second MCU with its own flash, A/B banks and bootloader (a SimMcu), serving the
// update protocol on its end of the serial link. Its RAM (the open writer, the response cache) is lost at every
// power-on; the flash and its boot records are all that survive.

/** Boots of a crashing image after which the co-processor is taken as dead (a confirmed image that crashes). */
const MAX_CRASH_BOOTS = 16;

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
  /**
   * Simulated time a command keeps the co-processor busy before it answers (a flash erase, say), on the clock given
   * to attach(); null: none. A retransmission of the command it is executing is answered BUSY meanwhile.
   */
  serviceTime: ((kind: number) => number) | null = null;
  private clock: Clock | null = null;
  /** The request being executed, to answer its retransmissions BUSY. */
  private executing: Request | null = null;
  private port: LinkPort | null = null;
  private deframer = new Deframer();
  private writer: ImageWriter | null = null;
  private fed = 0;
  /** The last request answered (kind, sequence number and body), to recognise its retransmission. */
  private lastRequest: Request | null = null;
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

  /** Connects the co-processor's UART to a link port; `clock` times its serviceTime. */
  attach(port: LinkPort, clock?: Clock): void {
    this.port = port;
    this.clock = clock ?? null;
    port.onReceive((bytes) => this.receive(bytes));
  }

  /**
   * Power-on: RAM cleared, the bootloader runs. Resolves with the boot (or null when nothing verified). `kept` is the
   * answered REBOOT a software reset keeps (RTC memory survives it; a power cycle clears it), so that a retransmitted
   * REBOOT whose answer was lost is answered again instead of rebooting again and spending another boot attempt.
   */
  async powerOn(kept?: { request: Request; response: Uint8Array }): Promise<BootResult | null> {
    this.generation++;
    this.writer = null;
    this.executing = null;
    this.fed = 0;
    this.lastRequest = kept !== undefined ? kept.request : null;
    this.lastResponse = kept !== undefined ? kept.response : null;
    this.deframer = new Deframer();
    this.booted = null;
    this.bootError = null;
    try {
      let boot = await this.device.boot();
      // A crashing image resets the chip before it ever answers: the watchdog reboots it, and each boot spends one of
      // the trial's attempts until the bootloader rejects it and starts the confirmed image.
      for (let crashes = 0; boot.behaviour === 'crash-on-boot'; crashes++) {
        if (crashes >= MAX_CRASH_BOOTS) {
          throw otaError('wifi-crash-loop', `The WiFi co-processor's image ${boot.version} crashes at every boot ` +
            `(${MAX_CRASH_BOOTS} boots) and its bootloader has nothing else to start; reflash the co-processor over its ` +
            'serial bootloader.', false, { version: boot.version });
        }
        boot = await this.device.boot();
      }
      this.booted = boot;
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
      if (this.executing !== null && this.port !== null && sameRequest(this.executing, request)) {
        // Still working on it (the requester timed out first): say so at once, so it waits instead of giving up.
        void this.port.send(encodeFrame(busyResponse(request.kind, request.seq)));
        continue;
      }
      const generation = this.generation;
      // Commands run one at a time, in arrival order, like a firmware main loop.
      this.queue = this.queue.then(() => (generation === this.generation ? this.serve(request) : undefined)).catch(() => undefined);
    }
  }

  private async serve(request: Request): Promise<void> {
    const port = this.port;
    const generation = this.generation;
    // Not running (nothing booted, or its supply failed: a dead flash means a dead CPU): the requester times out.
    if (this.booted === null || port === null || this.flash.isDead) return;
    if (this.isRetransmission(request) && this.lastResponse !== null) {
      // A retransmission: the first answer was lost. Answer again without running the command twice.
      await port.send(encodeFrame(this.lastResponse));
      return;
    }
    let response: Uint8Array;
    let reboot = false;
    this.executing = request;
    try {
      const busy = this.serviceTime !== null && this.clock !== null ? this.serviceTime(request.kind) : 0;
      if (busy > 0) await (this.clock as Clock).sleep(busy);
      if (generation !== this.generation) return;
      const body = await this.run(request);
      response = okResponse(request.kind, request.seq, body);
      reboot = request.kind === Cmd.REBOOT;
    } catch (error) {
      if (isOtaError(error) && error.code === 'power-cut') throw error;
      response = errorResponse(request.kind, request.seq, toOtaError(error, 'wifi-internal', false));
    } finally {
      if (generation === this.generation) this.executing = null;
    }
    // Work begun before a power cycle must not answer on the new link or fill the new cache.
    if (generation !== this.generation) return;
    this.lastRequest = { kind: request.kind, seq: request.seq, body: new Uint8Array(request.body) };
    this.lastResponse = response;
    await port.send(encodeFrame(response));
    if (reboot) await this.powerOn({ request: this.lastRequest, response });
  }

  /**
   * A retransmission repeats the answered request exactly. The sequence number alone is not enough: a main MCU that
   * reset on its own starts numbering again, and its first request must not get the answer to another command.
   */
  private isRetransmission(request: Request): boolean {
    return this.lastRequest !== null && sameRequest(this.lastRequest, request);
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
        await writer.write(new Uint8Array(data));
        // Counted once written: a write that failed leaves the image continuing where it did.
        this.fed += data.length;
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
      case Cmd.REVERT:
        await target.revert();
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
    // Also what a co-processor that restarted since BEGIN finds (its RAM lost the writer): retryable, BEGIN resumes.
    if (this.writer === null) throw otaError('wifi-no-image-open', 'No image is open on the co-processor; send BEGIN first.', true);
    return this.writer;
  }
}

/** True when `b` repeats `a`: same sequence number, command and body. */
function sameRequest(a: Request, b: Request): boolean {
  return a.seq === b.seq && a.kind === b.kind && bytesEqual(a.body, b.body);
}
