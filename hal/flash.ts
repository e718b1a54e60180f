import { otaError } from '../src/util/errors.js';

// The flash HAL, shaped like Zephyr's flash API and MCUboot's flash_area: geometry, read, write, erase.

/** One erase unit. */
export interface FlashSector {
  offset: number;
  size: number;
}

/** What a flash part looks like to software. */
export interface FlashGeometry {
  /** Erase units in address order, contiguous from 0; sizes may differ (STM32F4: 16/64/128 KiB). */
  sectors: FlashSector[];
  /** Program unit in bytes: writes start and end on multiples of it. */
  writeAlign: number;
  /** The value every byte reads after an erase. */
  eraseValue: number;
}

/** A flash device or a window onto one. */
export interface Flash {
  geometry: FlashGeometry;
  /**
   * Reads `length` bytes at `offset`. With `into` (at least `length` bytes) the driver may place them there and
   * return a view of it, as Zephyr's flash_read fills the caller's buffer; callers always use the returned bytes.
   */
  read(offset: number, length: number, into?: Uint8Array): Promise<Uint8Array>;
  /** Programs `data` at `offset`; aligned to `writeAlign`; only erased cells change (NOR: 1 -> 0). */
  write(offset: number, data: Uint8Array): Promise<void>;
  /** Erases whole sectors covering exactly [offset, offset + length). */
  erase(offset: number, length: number): Promise<void>;
}

/** Total size in bytes of a geometry. */
export function flashSize(geometry: FlashGeometry): number {
  const last = geometry.sectors[geometry.sectors.length - 1];
  return last === undefined ? 0 : last.offset + last.size;
}

/** Index of the sector containing `offset` (binary search: a slot may have thousands), or -1 when outside. */
export function sectorIndexAt(geometry: FlashGeometry, offset: number): number {
  const sectors = geometry.sectors;
  let lo = 0;
  let hi = sectors.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const s = sectors[mid];
    if (offset < s.offset) hi = mid - 1;
    else if (offset >= s.offset + s.size) lo = mid + 1;
    else return mid;
  }
  return -1;
}

/** Indices of the sectors covering exactly [offset, offset + length) (an erase's range), or null when it splits one. */
export function sectorsCovering(geometry: FlashGeometry, offset: number, length: number): number[] | null {
  const out: number[] = [];
  const sectors = geometry.sectors;
  let at = offset;
  const first = sectorIndexAt(geometry, offset);
  if (first < 0) return null;
  for (let i = first; i < sectors.length && at < offset + length; i++) {
    if (sectors[i].offset !== at) return null;
    out.push(i);
    at += sectors[i].size;
  }
  return at === offset + length && length > 0 ? out : null;
}

/** The sector containing `offset`, or null when outside. */
export function sectorAt(geometry: FlashGeometry, offset: number): FlashSector | null {
  const index = sectorIndexAt(geometry, offset);
  return index >= 0 ? geometry.sectors[index] : null;
}

/** Makes a geometry of `count` equal sectors. */
export function uniformGeometry(sectorSize: number, count: number, writeAlign: number, eraseValue: number): FlashGeometry {
  const sectors: FlashSector[] = [];
  for (let i = 0; i < count; i++) sectors.push({ offset: i * sectorSize, size: sectorSize });
  return { sectors: sectors, writeAlign: writeAlign, eraseValue: eraseValue };
}

/**
 * A partition: the window [offset, offset + size) of a Flash, with offsets relative to its start, like
 * MCUboot's flash_area. Both ends must fall on sector boundaries; every access outside it is an error.
 */
export class FlashArea implements Flash {
  readonly geometry: FlashGeometry;

  constructor(readonly device: Flash, readonly offset: number, readonly size: number, readonly name: string) {
    const end = offset + size;
    const dev = device.geometry;
    const sectors: FlashSector[] = [];
    let coveredStart = false;
    let coveredEnd = false;
    for (let i = 0; i < dev.sectors.length; i++) {
      const s = dev.sectors[i];
      if (s.offset === offset) coveredStart = true;
      if (s.offset + s.size === end) coveredEnd = true;
      if (s.offset >= offset && s.offset + s.size <= end) sectors.push({ offset: s.offset - offset, size: s.size });
    }
    if (size <= 0 || !coveredStart || !coveredEnd) {
      throw otaError('flash-area-unaligned',
        'Flash area "' + name + '" [' + offset + ', ' + end + ') must start and end on sector boundaries of the device; ' +
        'pick offsets from the device geometry.', false, { offset: offset, size: size });
    }
    this.geometry = { sectors: sectors, writeAlign: dev.writeAlign, eraseValue: dev.eraseValue };
  }

  /** Reads inside the area. */
  read(offset: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
    const bad = this.check('read', offset, length);
    if (bad !== null) return Promise.reject(bad);
    return this.device.read(this.offset + offset, length, into);
  }

  /** Programs inside the area. */
  write(offset: number, data: Uint8Array): Promise<void> {
    const bad = this.check('write', offset, data.length);
    if (bad !== null) return Promise.reject(bad);
    return this.device.write(this.offset + offset, data);
  }

  /** Erases sectors inside the area. */
  erase(offset: number, length: number): Promise<void> {
    const bad = this.check('erase', offset, length);
    if (bad !== null) return Promise.reject(bad);
    return this.device.erase(this.offset + offset, length);
  }

  private check(op: string, offset: number, length: number): object | null {
    if (offset >= 0 && length >= 0 && offset + length <= this.size && offset === Math.floor(offset)) return null;
    return otaError('flash-out-of-range',
      op + ' of ' + length + ' bytes at ' + offset + ' falls outside flash area "' + this.name + '" (size ' + this.size +
      '); offsets are relative to the area start.', false, { op: op, offset: offset, length: length, areaSize: this.size });
  }
}
