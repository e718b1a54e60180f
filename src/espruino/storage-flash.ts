import type { Flash, FlashGeometry, FlashSector } from '../../hal/flash.js';
import { otaError } from '../util/errors.js';
import type { EspruinoRuntime, EspruinoStorage } from './runtime.js';
import { deviceRuntime } from './runtime.js';

// A HAL Flash made of Storage files, one file per sector, for the agent's journal on boards where no raw flash
// region is free. A Storage file created at its full size reads 0xFF, and a write inside it is accepted only where
// every byte is still 0xFF ("File already written with different data" otherwise, even for the same bytes): enough for
// the journal, which only appends inside a sector and erases whole ones. A write at offset 0 would re-create the file
// at the write's length, wiping the sector, so byte 0 of each file is a marker written when the file is made and the
// sector's bytes start at byte 1. Erasing a sector re-creates its file. Names are PREFIX + index (keep them short).

/** Options of StorageFlash. */
export interface StorageFlashOptions {
  /** File-name prefix; files are PREFIX0, PREFIX1, ... */
  prefix: string;
  /** Bytes per sector (one file each). */
  sectorSize: number;
  /** Number of sectors; the journal needs at least 2. */
  sectors: number;
  runtime?: EspruinoRuntime;
}

/** Storage files as a flash device. */
export class StorageFlash implements Flash {
  geometry: FlashGeometry;
  private storage: EspruinoStorage;
  private prefix: string;
  private size: number;

  constructor(options: StorageFlashOptions) {
    const runtime = options.runtime || deviceRuntime();
    this.storage = runtime.require('Storage') as EspruinoStorage;
    this.prefix = options.prefix;
    this.size = options.sectorSize;
    if (options.prefix.length + String(options.sectors).length > 28) {
      throw otaError('storage-name-too-long', 'StorageFlash prefix "' + options.prefix + '" makes names longer than 28 characters.', false);
    }
    const sectors: FlashSector[] = [];
    for (let i = 0; i < options.sectors; i++) sectors.push({ offset: i * options.sectorSize, size: options.sectorSize });
    this.geometry = { sectors: sectors, writeAlign: 1, eraseValue: 0xff };
  }

  private span(op: string, offset: number, length: number): number {
    const index = Math.floor(offset / this.size);
    if (offset < 0 || length < 0 || index >= this.geometry.sectors.length || (length > 0 && Math.floor((offset + length - 1) / this.size) !== index)) {
      throw otaError('flash-out-of-range', op + ' of ' + length + ' bytes at ' + offset + ' must stay inside one ' + this.size + '-byte sector.', false,
        { op: op, offset: offset, length: length });
    }
    return index;
  }

  /** Reads inside one sector; a sector never written reads erased. */
  read(offset: number, length: number): Promise<Uint8Array> {
    let index: number;
    try {
      index = this.span('read', offset, length);
    } catch (error) {
      return Promise.reject(error);
    }
    const out = new Uint8Array(length);
    const text = this.storage.read(this.prefix + index, offset - index * this.size + 1, length);
    if (text === undefined) {
      for (let i = 0; i < length; i++) out[i] = 0xff;
    } else {
      for (let i = 0; i < length; i++) out[i] = text.charCodeAt(i) & 0xff;
    }
    return Promise.resolve(out);
  }

  /** Programs inside one sector (bits only cleared), creating the sector's file when needed. */
  write(offset: number, data: Uint8Array): Promise<void> {
    let index: number;
    try {
      index = this.span('write', offset, data.length);
    } catch (error) {
      return Promise.reject(error);
    }
    const name = this.prefix + index;
    try {
      if (this.storage.read(name, 0, 1) === undefined) this.erasedFile(name);
    } catch (error) {
      return Promise.reject(error);
    }
    let ok = data.length === 0;
    try {
      ok = ok || this.storage.write(name, data, offset - index * this.size + 1);
    } catch {
      ok = false; // Espruino throws where a file has no room or the bytes were written already
    }
    return ok ? Promise.resolve() : Promise.reject(otaError('storage-write-failed', 'Storage.write into ' + name + ' failed; Storage may be full.', true));
  }

  /** Erases whole sectors by re-creating their files. */
  erase(offset: number, length: number): Promise<void> {
    if (offset % this.size !== 0 || length % this.size !== 0 || offset < 0 || offset + length > this.size * this.geometry.sectors.length) {
      return Promise.reject(otaError('flash-erase-unaligned', 'Erase [' + offset + ', ' + (offset + length) + ') is not whole ' + this.size + '-byte sectors.', false));
    }
    try {
      for (let at = offset; at < offset + length; at += this.size) this.erasedFile(this.prefix + at / this.size);
    } catch (error) {
      return Promise.reject(error);
    }
    return Promise.resolve();
  }

  private erasedFile(name: string): void {
    // The marker byte at offset 0 with the full size re-creates the file with every sector byte erased.
    this.storage.erase(name);
    let made = false;
    try {
      made = this.storage.write(name, new Uint8Array([0xff]), 0, this.size + 1);
    } catch {
      made = false; // "Unable to find or create file": no room
    }
    if (!made) {
      throw otaError('storage-full', 'Could not create ' + name + ' (' + (this.size + 1) + ' bytes) for the journal: Storage is full. ' +
        'Erase unused files or run require("Storage").compact().', true, { size: this.size + 1 });
    }
  }
}
