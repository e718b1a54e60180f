import type { Flash, FlashGeometry, FlashSector } from '../../hal/flash.js';
import { otaError } from '../util/errors.js';
import type { EspruinoFlashModule, EspruinoRuntime } from './runtime.js';
import { deviceRuntime } from './runtime.js';

// The flash HAL over require("Flash"), confined to one region that must lie inside an area Flash.getFree() reports
// (never the firmware, Storage or saved code). Offsets are relative to the region; pages come from Flash.getPage.

/** Options of EspruinoFlash. */
export interface EspruinoFlashOptions {
  /** Absolute start address of the region; must be a page start. */
  start: number;
  /** Length in bytes; the region must end on a page end. */
  length: number;
  runtime?: EspruinoRuntime;
}

/** A region of the on-chip flash as a HAL Flash. */
export class EspruinoFlash implements Flash {
  geometry: FlashGeometry;
  /** Absolute address of offset 0. */
  start: number;
  /** The firmware this region lives in. */
  runtime: EspruinoRuntime;
  private flash: EspruinoFlashModule;

  constructor(options: EspruinoFlashOptions) {
    const runtime = options.runtime || deviceRuntime();
    const flash = runtime.require('Flash') as EspruinoFlashModule;
    const start = options.start;
    const end = start + options.length;
    const free = flash.getFree();
    let inside = false;
    for (let i = 0; i < free.length; i++) {
      if (start >= free[i].addr && end <= free[i].addr + free[i].length) inside = true;
    }
    if (!inside || options.length <= 0) {
      throw otaError('flash-region-not-free', 'Flash region [0x' + start.toString(16) + ', 0x' + end.toString(16) + ') is not inside ' +
        'an area require("Flash").getFree() reports; pick one of those so firmware, Storage and saved code stay untouched.', false,
      { start: start, length: options.length });
    }
    const sectors: FlashSector[] = [];
    let at = start;
    while (at < end) {
      const page = flash.getPage(at);
      if (page === undefined || page.addr !== at || page.length <= 0 || at + page.length > end) {
        throw otaError('flash-region-unaligned', 'Flash region [0x' + start.toString(16) + ', 0x' + end.toString(16) + ') must start and ' +
          'end on page boundaries (Flash.getPage(0x' + at.toString(16) + ') does not start there or overruns the end).', false);
      }
      sectors.push({ offset: at - start, size: page.length });
      at += page.length;
    }
    this.flash = flash;
    this.runtime = runtime;
    this.start = start;
    this.geometry = { sectors: sectors, writeAlign: 4, eraseValue: 0xff };
  }

  private check(op: string, offset: number, length: number): object | null {
    if (offset >= 0 && length >= 0 && offset + length <= this.regionSize()) return null;
    return otaError('flash-out-of-range', op + ' of ' + length + ' bytes at ' + offset + ' falls outside the flash region (size ' +
      this.regionSize() + ', base 0x' + this.start.toString(16) + ').', false, { op: op, offset: offset, length: length });
  }

  /** Region size in bytes. */
  regionSize(): number {
    const last = this.geometry.sectors[this.geometry.sectors.length - 1];
    return last.offset + last.size;
  }

  /** Reads bytes of the region. */
  read(offset: number, length: number): Promise<Uint8Array> {
    const bad = this.check('read', offset, length);
    if (bad !== null) return Promise.reject(bad);
    return Promise.resolve(this.flash.read(length, this.start + offset));
  }

  /** Programs bytes (clears bits only; erase first). */
  write(offset: number, data: Uint8Array): Promise<void> {
    const bad = this.check('write', offset, data.length);
    if (bad !== null) return Promise.reject(bad);
    this.flash.write(data, this.start + offset);
    return Promise.resolve();
  }

  /** Erases the pages covering exactly [offset, offset + length). */
  erase(offset: number, length: number): Promise<void> {
    const bad = this.check('erase', offset, length);
    if (bad !== null) return Promise.reject(bad);
    const sectors = this.geometry.sectors;
    let covered = 0;
    for (let i = 0; i < sectors.length; i++) {
      const s = sectors[i];
      if (s.offset >= offset && s.offset + s.size <= offset + length) covered += s.size;
      else if (s.offset < offset + length && s.offset + s.size > offset) {
        return Promise.reject(otaError('flash-erase-unaligned', 'Erase [' + offset + ', ' + (offset + length) + ') cuts page ' + s.offset +
          '+' + s.size + '; erase whole pages.', false, { offset: offset, length: length }));
      }
    }
    if (covered !== length) return Promise.reject(otaError('flash-erase-unaligned', 'Erase length ' + length + ' is not whole pages.', false));
    for (let i = 0; i < sectors.length; i++) {
      const s = sectors[i];
      if (s.offset >= offset && s.offset + s.size <= offset + length) this.flash.erasePage(this.start + s.offset);
    }
    return Promise.resolve();
  }
}
