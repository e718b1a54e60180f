// Small fakes of the Espruino firmware, behaving as /work/shared/reference/embedded-js.md documents for 2v29:
// socket data as 8-bit strings of at most 536 bytes, close-notify (-30848) as an error followed by close, Storage
// files created at full size with unwritten bytes reading 0xFF and written in place (bits only cleared), one-shot
// hashes returning an ArrayBuffer, and Flash pages that must be erased before they are programmed.
import { createHash } from 'node:crypto';
import { crc32 } from '../../../src/integrity/crc32.js';
import type { EspruinoE, EspruinoFlashArea, EspruinoRuntime, EspruinoSocket } from '../../../src/espruino/runtime.js';

/** Latin-1 string of bytes (what Espruino's 8-bit strings hold). */
export function bytesToString(data: Uint8Array): string {
  let text = '';
  for (let i = 0; i < data.length; i++) text += String.fromCharCode(data[i]);
  return text;
}

/** Bytes of a Latin-1 string. */
export function stringToBytes(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0xff;
  return out;
}

function asBytes(data: string | Uint8Array): Uint8Array {
  return typeof data === 'string' ? stringToBytes(data) : data;
}

/** The global E. */
export function fakeE(memoryArea?: (addr: number, length: number) => string): EspruinoE {
  return {
    toUint8Array: (text: string) => stringToBytes(text),
    toString: (data: Uint8Array) => bytesToString(data),
    CRC32: (data: string | Uint8Array) => crc32(asBytes(data)),
    memoryArea: memoryArea,
  };
}

/** require("crypto"), optionally without SHA256 (ESP8266); records what it hashed. */
export class FakeCrypto {
  inputs: (string | Uint8Array)[] = [];
  SHA256?: (data: string | Uint8Array) => ArrayBuffer;

  constructor(withSha256: boolean) {
    if (withSha256) {
      this.SHA256 = (data) => {
        this.inputs.push(data);
        const digest = createHash('sha256').update(asBytes(data)).digest();
        return digest.buffer.slice(digest.byteOffset, digest.byteOffset + digest.byteLength);
      };
    }
  }
}

/** require("Storage"): named files in flash. */
export class FakeStorage {
  files = new Map<string, Uint8Array>();
  /** Every write call: name, offset, data length, size argument. */
  writes: { name: string; offset: number | undefined; length: number; size: number | undefined }[] = [];
  /** When set, writes fail (return false) once the count reaches zero. */
  failAfter: number | null = null;

  constructor(public capacity = 64 * 1024) {}

  private used(): number {
    let total = 0;
    for (const data of this.files.values()) total += data.length + 32;
    return total;
  }

  /**
   * Storage.write(name, data, offset, size): offset 0/undefined (re)creates the file at `size` (else the data's length),
   * padding with 0xFF; a later offset writes into bytes that must still be 0xFF.
   */
  write(name: string, data: string | Uint8Array, offset?: number, size?: number): boolean {
    const bytes = asBytes(data);
    this.writes.push({ name, offset, length: bytes.length, size });
    if (this.failAfter !== null && this.failAfter-- <= 0) return false;
    if (offset === undefined || offset === 0) {
      this.files.delete(name);
      const file = new Uint8Array(Math.max(size ?? bytes.length, bytes.length)).fill(0xff);
      if (this.used() + file.length + 32 > this.capacity) return false;
      file.set(bytes, 0);
      this.files.set(name, file);
      return true;
    }
    const file = this.files.get(name);
    if (file === undefined || offset + bytes.length > file.length) return false;
    // As Espruino 2v29: a write lands only on bytes still 0xFF, even when it would write the same bytes again.
    for (let i = 0; i < bytes.length; i++) if (file[offset + i] !== 0xff) throw new Error('File already written with different data');
    file.set(bytes, offset);
    return true;
  }

  /** The file (or `length` bytes of it from `offset`) as a (memory-mapped) string, or undefined. */
  read(name: string, offset?: number, length?: number): string | undefined {
    const file = this.files.get(name);
    if (file === undefined) return undefined;
    const start = offset ?? 0;
    return bytesToString(file.subarray(start, length === undefined ? file.length : start + length));
  }

  readJSON(name: string, noExceptions: boolean): unknown {
    const text = this.read(name);
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text);
    } catch (error) {
      if (noExceptions) return undefined;
      throw error;
    }
  }

  writeJSON(name: string, data: unknown): boolean {
    return this.write(name, JSON.stringify(data));
  }

  erase(name: string): void {
    this.files.delete(name);
  }

  getFree(): number {
    return Math.max(0, this.capacity - this.used() - 32);
  }
}

/** require("Flash"): pages of `pageSize` from `base`; write only clears bits. */
export class FakeFlashModule {
  memory: Uint8Array;
  erases = new Map<number, number>();
  /** Address ranges whose next write is silently dropped (a worn cell). */
  dropWriteAt: number | null = null;

  constructor(public base: number, size: number, public pageSize: number, public free: EspruinoFlashArea[]) {
    this.memory = new Uint8Array(size).fill(0xff);
  }

  getFree(): EspruinoFlashArea[] {
    return this.free.map((a) => ({ addr: a.addr, length: a.length }));
  }

  getPage(addr: number): EspruinoFlashArea | undefined {
    if (addr < this.base || addr >= this.base + this.memory.length) return undefined;
    const start = addr - ((addr - this.base) % this.pageSize);
    return { addr: start, length: this.pageSize };
  }

  erasePage(addr: number): void {
    const page = this.getPage(addr);
    if (page === undefined) throw new Error('erasePage outside flash');
    this.memory.fill(0xff, page.addr - this.base, page.addr - this.base + page.length);
    this.erases.set(page.addr, (this.erases.get(page.addr) ?? 0) + 1);
  }

  write(data: Uint8Array, addr: number): void {
    if (this.dropWriteAt !== null && addr <= this.dropWriteAt && this.dropWriteAt < addr + data.length) {
      this.dropWriteAt = null;
      return;
    }
    for (let i = 0; i < data.length; i++) this.memory[addr - this.base + i] &= data[i];
  }

  read(length: number, addr: number): Uint8Array {
    return new Uint8Array(this.memory.subarray(addr - this.base, addr - this.base + length));
  }

  /** E.memoryArea over this flash. */
  area(addr: number, length: number): string {
    return bytesToString(this.memory.subarray(addr - this.base, addr - this.base + length));
  }
}

/** The server side of a fake socket, driven by the test. */
export class FakePeer {
  received = '';
  ended = false;
  private listeners = new Map<string, ((value?: unknown) => void)[]>();
  readonly socket: EspruinoSocket;

  constructor(public options: { host: string; port: number }, private onConnect: () => void) {
    this.socket = {
      on: (event, listener) => {
        const list = this.listeners.get(event) ?? [];
        list.push(listener);
        this.listeners.set(event, list);
      },
      write: (data: string) => {
        this.received += data;
        return true;
      },
      end: () => {
        this.ended = true;
      },
    };
  }

  private emit(event: string, value?: unknown): void {
    for (const listener of this.listeners.get(event) ?? []) listener(value);
  }

  /** Completes the connection (the onConnect callback). */
  accept(): void {
    this.onConnect();
  }

  /** Sends bytes as Espruino delivers them: strings of at most `chunk` bytes (536 on most ports). */
  send(data: Uint8Array, chunk = 536): void {
    for (let i = 0; i < data.length; i += chunk) this.emit('data', bytesToString(data.subarray(i, i + chunk)));
  }

  /** An error event with an Espruino socket code. */
  fail(code: number, message = 'unknown error'): void {
    this.emit('error', { code, message });
  }

  /** The close event (Espruino passes true after an error). */
  close(hadError = false): void {
    this.emit('close', hadError);
  }

  /** The normal end of a TLS stream on Espruino: close-notify as an error, then close. */
  closeNotify(): void {
    this.fail(-30848);
    this.close(true);
  }
}

/** require("net") or require("tls"): each connect() hands a FakePeer to `onPeer`. */
export class FakeNet {
  peers: FakePeer[] = [];

  constructor(public name: string, private onPeer: (peer: FakePeer) => void) {}

  connect(options: { host: string; port: number }, onConnect: () => void): EspruinoSocket {
    const peer = new FakePeer(options, onConnect);
    this.peers.push(peer);
    // Espruino connects from its idle loop, never inside connect().
    setTimeout(() => this.onPeer(peer), 0);
    return peer.socket;
  }
}

/** A runtime over the given modules and E. */
export function fakeRuntime(modules: { [name: string]: unknown }, e: EspruinoE = fakeE()): EspruinoRuntime {
  return {
    require: (name: string) => modules[name],
    E: e,
    setTimeout: (callback: () => void, ms: number) => setTimeout(callback, ms),
    clearTimeout: (handle: unknown) => clearTimeout(handle as ReturnType<typeof setTimeout>),
    memory: () => ({ free: 4000, total: 5100 }),
  };
}
