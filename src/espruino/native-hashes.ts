import type { Hash, HashFactory } from '../integrity/hash.js';
import { otaError } from '../util/errors.js';
import type { EspruinoCrypto, EspruinoRuntime } from './runtime.js';
import { deviceRuntime } from './runtime.js';

// Espruino's crypto.SHA256 is one-shot, so this Hash keeps what it is fed (up to a limit) and hashes it at digest().
// It serves bounded inputs: HMAC over a bundle manifest (at most 16 KiB). Images are verified in place by the
// targets (crypto.SHA256(Storage.read(name))), never streamed through here.

/** Default limit: a 16 KiB manifest plus the HMAC pad and some slack. */
export const NATIVE_HASH_LIMIT = 16384 + 512;

/** Options of nativeHashes. */
export interface NativeHashOptions {
  runtime?: EspruinoRuntime;
  /** Most bytes one hash accepts. */
  limit?: number;
}

class BufferedSha256 implements Hash {
  private parts: Uint8Array[] = [];
  private total = 0;
  private done = false;

  constructor(private sha256: (data: Uint8Array) => ArrayBuffer, private limit: number) {}

  /** Keeps a copy of `data` for digest(). */
  update(data: Uint8Array): void {
    if (this.done) throw otaError('hash-finished', 'update() after digest(); make a new hash for new data.', false);
    if (this.total + data.length > this.limit) {
      throw otaError('hash-input-too-large', 'The native one-shot SHA-256 holds at most ' + this.limit + ' bytes, and ' +
        (this.total + data.length) + ' were fed; verify large data in place (crypto.SHA256(Storage.read(name))) instead.',
      false, { limit: this.limit });
    }
    this.parts.push(new Uint8Array(data.subarray(0, data.length)));
    this.total += data.length;
  }

  /** SHA-256 of everything fed, by the firmware's native code. */
  digest(): Uint8Array {
    if (this.done) throw otaError('hash-finished', 'digest() was called twice; keep the first result.', false);
    this.done = true;
    const all = new Uint8Array(this.total);
    let at = 0;
    for (let i = 0; i < this.parts.length; i++) {
      all.set(this.parts[i], at);
      at += this.parts[i].length;
    }
    this.parts = [];
    return new Uint8Array(this.sha256(all));
  }
}

/** A HashFactory over require("crypto").SHA256; throws `sha256-unavailable` on boards without it (ESP8266). */
export function nativeHashes(options?: NativeHashOptions): HashFactory {
  const given = options || {};
  const runtime = given.runtime || deviceRuntime();
  const limit = given.limit || NATIVE_HASH_LIMIT;
  const crypto = runtime.require('crypto') as EspruinoCrypto | undefined;
  const sha256 = crypto !== undefined && crypto !== null ? crypto.SHA256 : undefined;
  if (typeof sha256 !== 'function') {
    throw otaError('sha256-unavailable', 'This Espruino build has no crypto.SHA256 (ESP8266 builds have SHA1 only); signed ' +
      'bundles need it, so use a board with SHA-256 (Pico, WiFi, ESP32, Puck.js, Bangle.js 2).', false);
  }
  return {
    sha256: function (): Hash {
      return new BufferedSha256(sha256, limit);
    },
  };
}
