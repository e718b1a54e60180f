import type { HashFactory } from './hash.js';
import type { SignatureVerifier } from './verifier.js';

// HMAC-SHA256 (RFC 2104) over an injected SHA-256, so Espruino can use its native hash and Node node:crypto.
// This is the authenticator for devices too small for public-key checks (COSE_Mac0, alg 5 = HMAC 256/256).

const BLOCK = 64;

/** COSE algorithm id of HMAC-SHA256 with a 256-bit tag (RFC 9053). */
export const COSE_ALG_HMAC_256_256 = 5;

/** HMAC-SHA256 of the concatenation of `messages` under `key`. */
export function hmacSha256(hashes: HashFactory, key: Uint8Array, messages: Uint8Array[]): Uint8Array {
  let k = key;
  if (k.length > BLOCK) {
    const long = hashes.sha256();
    long.update(k);
    k = long.digest();
  }
  const ipad = new Uint8Array(BLOCK);
  const opad = new Uint8Array(BLOCK);
  for (let i = 0; i < BLOCK; i++) {
    const byte = i < k.length ? k[i] : 0;
    ipad[i] = byte ^ 0x36;
    opad[i] = byte ^ 0x5c;
  }
  const inner = hashes.sha256();
  inner.update(ipad);
  for (let i = 0; i < messages.length; i++) inner.update(messages[i]);
  const outer = hashes.sha256();
  outer.update(opad);
  outer.update(inner.digest());
  return outer.digest();
}

/** Compares two tags in time independent of where they differ (a MAC check must not leak the prefix it matched). */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/** A COSE_Mac0 verifier for HMAC 256/256 under a per-device `key`; `keyId` null matches any kid. */
export function hmacVerifier(hashes: HashFactory, key: Uint8Array, keyId: Uint8Array | null): SignatureVerifier {
  const secret = new Uint8Array(key.subarray(0, key.length));
  return {
    structure: 'MAC0',
    keyId: keyId,
    accepts: function (alg: number): boolean {
      return alg === COSE_ALG_HMAC_256_256;
    },
    verify: function (alg: number, message: Uint8Array, tag: Uint8Array): Promise<boolean> {
      if (alg !== COSE_ALG_HMAC_256_256) return Promise.resolve(false);
      return Promise.resolve(constantTimeEqual(hmacSha256(hashes, secret, [message]), tag));
    },
  };
}
