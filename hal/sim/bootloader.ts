import type { Flash } from '../flash.js';
import type { HashFactory } from '../../src/integrity/hash.js';
import type { OtaError } from '../../src/util/errors.js';
import { otaError } from '../../src/util/errors.js';
import { bytesEqual } from '../../src/util/bytes.js';
import type { SlotEntry } from '../boot-record.js';
import { Slots, isUnreadable } from '../slots.js';
import type { SlotsOptions } from '../slots.js';
import { digestFlash } from '../slot-target.js';
import type { FirmwareBehaviour } from './firmware-image.js';
import { readFirmwareHeader } from './firmware-image.js';

// The bootloader model. Each boot: read the records (newest valid copy wins); a pending or trial image with
// attempts left is verified, then one attempt is spent and persisted before the jump; one with none left, or one
// that fails verification, is rejected (persisted) and the confirmed fallback is verified and started instead.
// Nothing that fails verification ever boots; when nothing verifies, the boot fails loudly.

/** What the bootloader needs; it builds its own Slots, as a separate program would. */
export interface BootloaderOptions {
  records: Flash;
  images: Flash[];
  hashes: HashFactory;
  slots?: SlotsOptions;
  readChunk?: number;
}

/** An image the bootloader gave up on. */
export interface RejectedImage {
  slot: number;
  version: string;
}

/** The image a boot started. */
export interface BootResult {
  slot: number;
  version: string;
  softwareType: string;
  size: number;
  /** True when it runs as an unconfirmed trial. */
  trial: boolean;
  attemptsLeft: number;
  /** From the simulated firmware header; null for images without one. */
  behaviour: FirmwareBehaviour | null;
  /** Images rejected during this boot (trial out of attempts, failed verification). */
  rejected: RejectedImage[];
}

/** A simulated MCU bootloader over an A/B pair. */
export class SimBootloader {
  readonly slots: Slots;
  private readonly images: Flash[];
  private readonly hashes: HashFactory;
  private readonly readChunk: number;

  /** See BootloaderOptions. */
  constructor(options: BootloaderOptions) {
    this.slots = new Slots(options.records, options.slots);
    this.images = options.images;
    this.hashes = options.hashes;
    this.readChunk = options.readChunk ?? 4096;
  }

  /** Chooses, verifies and "starts" an image. Rejects with `no-bootable-image` when nothing verifies. */
  async boot(): Promise<BootResult> {
    const record = await this.slots.load();
    if (record === null) throw noBootableImage('no valid boot record in either copy');
    const rejected: RejectedImage[] = [];
    // Each pass either boots or rejects a slot, so two passes plus the final fallback check suffice.
    for (let pass = 0; pass < 3; pass++) {
      const r = this.slots.record();
      if (r === null) break;
      const slot = r.boot >= 0 ? r.boot : r.slots[0].state === 'confirmed' ? 0 : r.slots[1].state === 'confirmed' ? 1 : -1;
      if (slot < 0) break;
      const entry = r.slots[slot];
      if (entry.state === 'pending' || entry.state === 'trial') {
        if (entry.attempts > 0 && await this.verifies(slot, entry)) {
          await this.slots.spendAttempt(slot);
          return this.started(slot, rejected);
        }
        await this.slots.reject(slot);
        rejected.push({ slot, version: entry.version });
        continue;
      }
      if (entry.state === 'confirmed') {
        if (await this.verifies(slot, entry)) return this.started(slot, rejected);
        const other = r.slots[1 - slot];
        if (other.state !== 'confirmed') throw noBootableImage('confirmed slot ' + slot + ' fails verification and slot ' +
          (1 - slot) + ' is ' + other.state);
        await this.slots.reject(slot);
        rejected.push({ slot, version: entry.version });
        continue;
      }
      // The boot slot holds nothing bootable (a stale pointer): the confirmed other slot runs, no write needed.
      const other = r.slots[1 - slot];
      if (other.state === 'confirmed' && await this.verifies(1 - slot, other)) return this.started(1 - slot, rejected);
      break;
    }
    const r = this.slots.record();
    throw noBootableImage(r === null ? 'no record' : 'slot 0 is ' + r.slots[0].state + ', slot 1 is ' + r.slots[1].state +
      ', boot slot ' + r.boot);
  }

  /** True when the image in `slot` matches its record's size, CRC-32 and SHA-256. */
  async verifies(slot: number, entry: SlotEntry): Promise<boolean> {
    const flash = this.images[slot];
    const capacity = flash.geometry.sectors.reduce((n, s) => n + s.size, 0);
    if (entry.size <= 0 || entry.size > capacity) return false;
    let digest;
    try {
      digest = await digestFlash(flash, entry.size, this.readChunk, this.hashes);
    } catch (e) {
      if (isUnreadable(e)) return false; // an unreadable image does not verify
      throw e;
    }
    return digest.crc32 === entry.crc32 && bytesEqual(digest.sha256, entry.sha256);
  }

  private async started(slot: number, rejected: RejectedImage[]): Promise<BootResult> {
    // Never jump on a record that might read differently later (torn, marginal): the application re-reads it.
    await this.slots.settle();
    const entry = this.slots.entry(slot);
    const header = await readFirmwareHeader(this.images[slot]);
    return { slot, version: entry.version, softwareType: entry.softwareType, size: entry.size,
      trial: entry.state === 'trial', attemptsLeft: entry.attempts, behaviour: header === null ? null : header.behaviour,
      rejected };
  }
}

function noBootableImage(why: string): OtaError {
  return otaError('no-bootable-image', 'The bootloader found no image that verifies (' + why + '); the device cannot ' +
    'start. Reflash a known-good image over the debug port.', false, { why });
}
