import type { Flash } from '../flash.js';
import type { HashFactory } from '../../src/integrity/hash.js';
import { crc32 } from '../../src/integrity/crc32.js';
import { emptyEntry } from '../boot-record.js';
import type { BootRecord } from '../boot-record.js';
import { Slots } from '../slots.js';
import type { DeviceLayout } from './layout.js';

// Factory programming: what a device holds before its first update (an image in slot A, confirmed).

/** Programs `image` into `flash` from offset 0, erasing the sectors it needs and padding the last unit. */
export async function programImage(flash: Flash, image: Uint8Array): Promise<void> {
  const g = flash.geometry;
  for (const s of g.sectors) {
    if (s.offset >= image.length) break;
    await flash.erase(s.offset, s.size);
  }
  const padded = Math.ceil(image.length / g.writeAlign) * g.writeAlign;
  const bytes = new Uint8Array(padded).fill(g.eraseValue);
  bytes.set(image);
  if (padded > 0) await flash.write(0, bytes);
}

/** Options for provision(). */
export interface ProvisionOptions {
  version: string;
  softwareType: string;
  hashes: HashFactory;
  /** Slot to program (default 0). */
  slot?: number;
}

/** Writes `image` into a slot and records it confirmed, as a factory would. */
export async function provision(layout: DeviceLayout, image: Uint8Array, options: ProvisionOptions): Promise<void> {
  const slot = options.slot ?? 0;
  await programImage(layout.slots[slot], image);
  const hash = options.hashes.sha256();
  hash.update(image);
  const record: BootRecord = { seq: 1, boot: slot, slots: [emptyEntry(), emptyEntry()] };
  record.slots[slot] = { state: 'confirmed', attempts: 0, size: image.length, crc32: crc32(image), sha256: hash.digest(),
    version: options.version, softwareType: options.softwareType };
  await new Slots(layout.records).format(record);
}
