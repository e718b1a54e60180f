import type { Flash } from '../flash.js';
import type { HashFactory } from '../../src/integrity/hash.js';
import { Slots } from '../slots.js';
import type { SlotsOptions } from '../slots.js';
import { SlotTarget } from '../slot-target.js';
import { SimBootloader } from './bootloader.js';
import type { BootResult } from './bootloader.js';
import { makeLayout, defaultLayoutSpec } from './layout.js';
import type { DeviceLayout, LayoutSpec } from './layout.js';
import { provision } from './provision.js';

// One simulated MCU with A/B banks: a flash part, its partitions, a bootloader. Every boot() is a power-on: the
// part comes back (if it was cut) and every object above the flash is built afresh, so nothing survives in RAM.

/** What a SimMcu is made of. */
export interface SimMcuOptions {
  /** The flash part; a SimFlash or a FileFlash (anything with an optional powerCycle()). */
  flash: Flash & { powerCycle?: () => void };
  softwareType: string;
  hashes: HashFactory;
  /** Partition sector ranges (default: defaultLayoutSpec). */
  layout?: LayoutSpec;
  slots?: SlotsOptions;
  readChunk?: number;
  /** Read-back compare of the targets (SlotTargetOptions.equal). */
  equal?: (a: Uint8Array, b: Uint8Array) => boolean;
}

/** What a verified bundle installs, as recordSequence() needs it (the agent's ReleasePlan has this shape). */
export interface SequencedRelease {
  sequence: number;
  parts: { softwareType: string; version: string }[];
}

/** A simulated device: boot it, then update it through target(). */
export class SimMcu {
  readonly flash: Flash & { powerCycle?: () => void };
  readonly layout: DeviceLayout;
  readonly softwareType: string;
  private readonly options: SimMcuOptions;
  private current: SlotTarget | null = null;
  /** The anti-rollback floor the bootloader read at the last boot. */
  private bootFloor = 0;

  /** See SimMcuOptions. */
  constructor(options: SimMcuOptions) {
    this.options = options;
    this.flash = options.flash;
    this.softwareType = options.softwareType;
    this.layout = makeLayout(options.flash, options.layout ?? defaultLayoutSpec(options.flash));
  }

  /** Factory-programs `image` as the confirmed image of slot A. */
  provision(image: Uint8Array, version: string): Promise<void> {
    return provision(this.layout, image, { version, softwareType: this.softwareType, hashes: this.options.hashes });
  }

  /** Power on: restores power, runs a fresh bootloader, and makes a fresh target for the booted image. */
  async boot(): Promise<BootResult> {
    if (this.flash.powerCycle) this.flash.powerCycle();
    this.current = null;
    const loader = new SimBootloader({ records: this.layout.records, images: this.layout.slots, hashes: this.options.hashes,
      slots: this.options.slots, readChunk: this.options.readChunk });
    const result = await loader.boot();
    this.bootFloor = loader.slots.floor();
    this.current = this.makeTarget(result.slot);
    return result;
  }

  /**
   * The anti-rollback floor from the boot record (the bootloader's storage, not the agent's journal): the running
   * target's record once it was read (it sees a confirmation made since boot), else what the bootloader read.
   */
  installedSequence(): number {
    const slots = this.current !== null ? this.current.slots : null;
    return slots !== null && slots.isLoaded() ? slots.floor() : this.bootFloor;
  }

  /**
   * Records `release.sequence` with the staged image of this MCU's part, so that confirming the image raises the floor.
   * Resolves false, recording nothing, when the release has no part that changes this MCU (none for its software type,
   * or the version it already runs, which activation skips) or no staged image of it. Call after the release verified
   * and before it is activated; calling it again is safe.
   */
  async recordSequence(release: SequencedRelease): Promise<boolean> {
    const part = release.parts.find((p) => p.softwareType === this.softwareType);
    if (part === undefined || release.sequence === 0) return false;
    const target = this.target();
    if ((await target.status()).runningVersion === part.version) return false;
    const slot = await target.stagingSlot();
    const entry = target.slots.entry(slot);
    // Only the image this release staged: verified (staged), of this part's version.
    if (entry.state !== 'staged' || entry.version !== part.version || entry.softwareType !== this.softwareType) return false;
    await target.slots.tagSequence(slot, release.sequence);
    return true;
  }

  /** The ImageTarget of the running firmware (fresh after each boot). */
  target(): SlotTarget {
    if (this.current === null) this.current = this.makeTarget();
    return this.current;
  }

  private makeTarget(runningSlot?: number): SlotTarget {
    return new SlotTarget({ softwareType: this.softwareType, slots: new Slots(this.layout.records, this.options.slots),
      images: this.layout.slots, hashes: this.options.hashes, readChunk: this.options.readChunk, equal: this.options.equal, runningSlot });
  }
}
