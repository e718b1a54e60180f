import type { Flash } from '../flash.js';
import { FlashArea } from '../flash.js';
import { otaError } from '../../src/util/errors.js';

// How a device's flash is split: two record sectors, then image slot A and image slot B.

/** The partitions of an A/B device. */
export interface DeviceLayout {
  records: FlashArea;
  slots: FlashArea[];
  /** Sectors left for the agent's journal, when the spec reserves some. */
  journal?: FlashArea;
}

/** Sector index ranges [first, end) for each partition. */
export interface LayoutSpec {
  records: [number, number];
  a: [number, number];
  b: [number, number];
  journal?: [number, number];
}

function area(flash: Flash, range: [number, number], name: string): FlashArea {
  const sectors = flash.geometry.sectors;
  const first = sectors[range[0]];
  const last = sectors[range[1] - 1];
  if (first === undefined || last === undefined || range[1] <= range[0]) {
    throw otaError('layout-invalid', 'Partition "' + name + '" sectors [' + range[0] + ', ' + range[1] + ') do not exist ' +
      'on a ' + sectors.length + '-sector device.', false);
  }
  return new FlashArea(flash, first.offset, last.offset + last.size - first.offset, name);
}

/** The partitions named by `spec`. */
export function makeLayout(flash: Flash, spec: LayoutSpec): DeviceLayout {
  const layout: DeviceLayout = { records: area(flash, spec.records, 'records'),
    slots: [area(flash, spec.a, 'slot-a'), area(flash, spec.b, 'slot-b')] };
  if (spec.journal) layout.journal = area(flash, spec.journal, 'journal');
  return layout;
}

/**
 * The default split: the first two sectors hold the records, the last `journalSectors` (default 0) are left for the
 * agent's journal, and the rest is cut in two at the sector boundary that makes the slots closest in size (on
 * STM32F4: 16+16+64 KiB against 128 KiB).
 */
export function defaultLayoutSpec(flash: Flash, journalSectors = 0): LayoutSpec {
  const all = flash.geometry.sectors;
  const sectors = all.slice(0, all.length - journalSectors);
  if (sectors.length < 4) {
    throw otaError('layout-invalid', 'An A/B layout needs at least 4 sectors (2 for records, 1 per slot); the device has ' +
      sectors.length + '.', false);
  }
  let total = 0;
  for (let i = 2; i < sectors.length; i++) total += sectors[i].size;
  let best = 3;
  let bestGap = Infinity;
  let left = 0;
  for (let split = 3; split < sectors.length; split++) {
    left += sectors[split - 1].size;
    const gap = Math.abs(total - 2 * left);
    if (gap < bestGap) {
      bestGap = gap;
      best = split;
    }
  }
  const spec: LayoutSpec = { records: [0, 2], a: [2, best], b: [best, sectors.length] };
  if (journalSectors > 0) spec.journal = [sectors.length, all.length];
  return spec;
}

/** The default layout of `flash`. */
export function defaultLayout(flash: Flash, journalSectors = 0): DeviceLayout {
  return makeLayout(flash, defaultLayoutSpec(flash, journalSectors));
}
