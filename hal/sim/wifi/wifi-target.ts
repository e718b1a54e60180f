import type { ImagePart, ImageTarget, ImageWriter, TargetStatus } from '../../image-target.js';
import type { Clock } from '../../../src/util/clock.js';
import { otaError } from '../../../src/util/errors.js';
import { LinkClient } from './link-client.js';
import { MAX_FRAME_PAYLOAD } from './frame.js';
import { Cmd, decodeInfo, encodeBegin, encodeTag, encodeU32s, u32At } from './protocol.js';
import type { WifiInfo } from './protocol.js';
import type { LinkPort } from './serial-link.js';

// The main MCU's ImageTarget for the WiFi firmware: every operation is a request over the serial link to the
// co-processor, which stages into its own inactive bank. Nothing here touches the co-processor's running bank;
// a link that fails mid-transfer leaves a partial image in the inactive bank, which is never activated.

/** How to reach the co-processor. */
export interface WifiTargetOptions {
  /** The main MCU's end of the serial link. */
  port: LinkPort;
  clock: Clock;
  /** Link speed, used to derive the response timeout (default 115200). */
  baud?: number;
  /** Image bytes per WRITE frame (default 256, at most 1000). */
  chunkSize?: number;
  /** Response timeout (default: twice the time of the largest frame each way, plus 20 ms of processing). */
  timeoutMs?: number;
  /** Retransmissions per request (default 8). */
  retries?: number;
  /** Longest a request may keep the co-processor busy, answering BUSY, before it fails `wifi-busy` (default 60 s). */
  busyLimitMs?: number;
  /** Software type (default "wifi-fw"). */
  softwareType?: string;
  /** Polls of INFO after a REBOOT before giving up (default 20). */
  rebootPolls?: number;
}

/** ImageTarget for "wifi-fw" over the co-processor link. Make it with WifiTarget.connect(). */
export class WifiTarget implements ImageTarget {
  readonly softwareType: string;
  readonly client: LinkClient;
  private info: WifiInfo;
  private readonly chunkSize: number;

  private constructor(options: WifiTargetOptions, client: LinkClient, info: WifiInfo) {
    this.softwareType = options.softwareType ?? 'wifi-fw';
    this.client = client;
    this.info = info;
    this.chunkSize = Math.min(options.chunkSize ?? 256, MAX_FRAME_PAYLOAD - 24);
  }

  /** Asks the co-processor for INFO (its capacity, running version) and returns a target for it. */
  static async connect(options: WifiTargetOptions): Promise<WifiTarget> {
    const baud = options.baud ?? 115200;
    const chunk = Math.min(options.chunkSize ?? 256, MAX_FRAME_PAYLOAD - 24);
    // A frame can double in size when escaped; allow both directions plus processing time.
    const frameMs = ((2 * (chunk + 16) + 2) * 10 * 1000) / baud;
    const client = new LinkClient(options.port, { clock: options.clock, timeoutMs: options.timeoutMs ?? 2 * frameMs + 20,
      retries: options.retries, busyLimitMs: options.busyLimitMs });
    const info = decodeInfo(await client.request(Cmd.INFO, new Uint8Array(0), 'INFO'));
    const softwareType = options.softwareType ?? 'wifi-fw';
    if (info.softwareType !== softwareType) {
      throw otaError('wifi-type-mismatch', `The co-processor runs "${info.softwareType}", not "${softwareType}".`, false);
    }
    const target = new WifiTarget(options, client, info);
    target.rebootPolls = options.rebootPolls ?? 20;
    return target;
  }

  private rebootPolls = 20;

  /** The co-processor's staging capacity (from INFO). */
  capacity(): number {
    return this.info.capacity;
  }

  /** The co-processor's anti-rollback floor as of its last INFO answer (every connect and status()). */
  installedSequence(): number {
    return this.info.floor ?? 0;
  }

  /**
   * Records a verified release's bundle sequence with the co-processor's staged image of its part (TAG), so that
   * confirming it raises the co-processor's floor. Resolves false when nothing was recorded (no part for this target,
   * the version it already runs, or no staged image of it).
   */
  async recordSequence(release: { sequence: number; parts: { softwareType: string; version: string }[] }): Promise<boolean> {
    const part = release.parts.find((p) => p.softwareType === this.softwareType);
    if (part === undefined || release.sequence === 0) return false;
    const answer = await this.client.request(Cmd.TAG, encodeTag(release.sequence, part.version), 'TAG');
    return answer[0] === 1;
  }

  /** The co-processor's running version and trial flag. */
  async status(): Promise<TargetStatus> {
    this.info = decodeInfo(await this.client.request(Cmd.INFO, new Uint8Array(0), 'INFO'));
    return { softwareType: this.softwareType, runningVersion: this.info.runningVersion, trial: this.info.trial };
  }

  /** Opens the co-processor's inactive bank at `resumeAt` and returns a writer that streams WRITE frames. */
  async begin(part: ImagePart, resumeAt: number): Promise<ImageWriter> {
    const answer = await this.client.request(Cmd.BEGIN, encodeBegin({ size: part.size, resumeAt, crc32: part.crc32 ?? null,
      sha256: part.sha256 ?? null, version: part.version }), 'BEGIN');
    let durable = u32At(answer, 0);
    let offset = resumeAt;
    const client = this.client;
    const chunkSize = this.chunkSize;
    return {
      async write(chunk: Uint8Array): Promise<void> {
        for (let at = 0; at < chunk.length; at += chunkSize) {
          const piece = chunk.subarray(at, Math.min(chunk.length, at + chunkSize));
          const reply = await client.request(Cmd.WRITE, encodeU32s([offset], piece), 'WRITE');
          offset += piece.length;
          durable = u32At(reply, 0);
        }
      },
      durableOffset: () => durable,
      async finish(): Promise<void> {
        await client.request(Cmd.FINISH, new Uint8Array(0), 'FINISH');
        durable = part.size;
      },
    };
  }

  /** Marks the co-processor's verified staged image pending (it boots as a trial at its next reboot). */
  async activate(): Promise<void> {
    await this.client.request(Cmd.ACTIVATE, new Uint8Array(0), 'ACTIVATE');
  }

  /** Confirms the co-processor's running trial image. */
  async confirm(): Promise<void> {
    await this.client.request(Cmd.CONFIRM, new Uint8Array(0), 'CONFIRM');
  }

  /**
   * Rejects the co-processor's running trial (or its pending image), so its confirmed image boots at the next reset:
   * the agent reverts a failed release on both MCUs at once instead of waiting for the co-processor's bootloader to
   * spend its attempts while the old main image runs beside a WiFi image that may require the new one.
   */
  async revert(): Promise<void> {
    await this.client.request(Cmd.REVERT, new Uint8Array(0), 'REVERT');
  }

  /**
   * ImmediateSwitch: reboots the co-processor into its pending image, checks it runs `version` as a trial, and
   * confirms it, so a main image that requires it is never activated beside a WiFi image that could still revert.
   */
  async switchNow(version: string): Promise<void> {
    const status = await this.reboot();
    if (status.runningVersion !== version || !status.trial) {
      throw otaError('wifi-switch-failed', `After its reboot the co-processor runs ${status.runningVersion ?? 'nothing'}` +
        `${status.trial ? ' (trial)' : ''}, not ${version} as a trial: its bootloader refused the new image (it crashed at every boot ` +
        'attempt or failed verification). The old image runs.', false, { reverted: true, version, running: status.runningVersion });
    }
    await this.confirm();
  }

  /** Reboots the co-processor and waits until it answers INFO again; resolves with what it runs then. */
  async reboot(): Promise<TargetStatus> {
    await this.client.request(Cmd.REBOOT, new Uint8Array(0), 'REBOOT');
    let last: unknown = null;
    for (let i = 0; i < this.rebootPolls; i++) {
      try {
        return await this.status();
      } catch (error) {
        last = error;
      }
    }
    throw otaError('wifi-unreachable', 'The WiFi co-processor did not come back after a reboot.', true, undefined, last);
  }
}
