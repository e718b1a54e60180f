// What the adapters need from the Espruino firmware, as small interfaces. On a device `deviceRuntime()` hands out
// the real globals and modules; tests pass fakes that behave as /work/shared/reference/embedded-js.md documents.

/** A socket from require("net")/require("tls").connect: events data/close/error/drain. */
export interface EspruinoSocket {
  on(event: string, listener: (value?: unknown) => void): void;
  /** Writes a string of bytes (one char per byte). */
  write(data: string): unknown;
  end(): void;
}

/** require("net") and require("tls"): connect(options, onConnect). */
export interface EspruinoNet {
  connect(options: { host: string; port: number }, onConnect: () => void): EspruinoSocket;
}

/** require("Storage"): files in the on-chip flash filesystem; read() returns a memory-mapped string. */
export interface EspruinoStorage {
  write(name: string, data: string | Uint8Array, offset?: number, size?: number): boolean;
  read(name: string, offset?: number, length?: number): string | undefined;
  readJSON(name: string, noExceptions: boolean): unknown;
  writeJSON(name: string, data: unknown): boolean;
  erase(name: string): void;
  getFree?(): number;
}

/** One area of flash: start address and length. */
export interface EspruinoFlashArea {
  addr: number;
  length: number;
}

/** require("Flash"): raw pages; write only clears bits, erasePage sets them. */
export interface EspruinoFlashModule {
  getFree(): EspruinoFlashArea[];
  getPage(addr: number): EspruinoFlashArea | undefined;
  erasePage(addr: number): void;
  write(data: Uint8Array, addr: number): void;
  read(length: number, addr: number): Uint8Array;
}

/** require("crypto"): one-shot hashes returning an ArrayBuffer; SHA256 is missing on some boards (ESP8266). */
export interface EspruinoCrypto {
  SHA256?: (data: string | Uint8Array) => ArrayBuffer;
}

/** The global E: string/byte conversions and the one-shot CRC-32. */
export interface EspruinoE {
  /** Copies an 8-bit string into a new Uint8Array. */
  toUint8Array(data: string): Uint8Array;
  /** A flat string over the bytes (no copy for a Uint8Array backed by a flat string). */
  toString(data: Uint8Array): string;
  /** CRC-32 (IEEE, no seed) of a string or bytes; iterates memory-mapped flash strings in place. */
  CRC32(data: string | Uint8Array): number;
  /** A string over a region of memory-mapped flash or RAM (STM32, nRF52), read in place. */
  memoryArea?(addr: number, length: number): string;
}

/** Free and total variable blocks, as process.memory() reports them. */
export interface EspruinoMemory {
  free: number;
  total: number;
  usage?: number;
  blocksize?: number;
}

/** Everything the adapters take from the firmware. */
export interface EspruinoRuntime {
  require(name: string): unknown;
  E: EspruinoE;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  memory(): EspruinoMemory;
}

// Provided by the Espruino firmware. Referenced only inside deviceRuntime(), so the bundle loads anywhere.
declare const E: EspruinoE;
declare function require(name: string): unknown;
declare function setTimeout(callback: () => void, ms: number): unknown;
declare function clearTimeout(handle: unknown): void;
declare const process: { memory(): EspruinoMemory };

/** The real firmware: the globals E, require, setTimeout, clearTimeout and process.memory(). */
export function deviceRuntime(): EspruinoRuntime {
  // Espruino's natives ignore `this`, so they work as plain values.
  return { require: require, E: E, setTimeout: setTimeout, clearTimeout: clearTimeout, memory: process.memory };
}
