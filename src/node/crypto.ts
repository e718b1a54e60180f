import { createHash, createPublicKey, verify as cryptoVerify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { useCrc32 } from '../integrity/crc32.js';
import type { Hash, HashFactory } from '../integrity/hash.js';
import type { SignatureVerifier } from '../integrity/verifier.js';

// Node's crypto behind the portable interfaces: a streaming SHA-256 factory, native CRC-32 and an Ed25519 COSE verifier.

/** COSE algorithm id of Ed25519 (RFC 9864); what the packer emits. */
export const COSE_ALG_ED25519 = -19;
/** COSE "EdDSA" (RFC 9053), deprecated by RFC 9864 for Ed25519; still accepted from older tooling. */
export const COSE_ALG_EDDSA = -8;

// An Ed25519 SubjectPublicKeyInfo is this fixed 12-byte DER prefix followed by the 32-byte key (RFC 8410).
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** SHA-256 on node:crypto. */
export const nodeHashes: HashFactory = {
  sha256(): Hash {
    const hash = createHash('sha256');
    return {
      update(data: Uint8Array): void { hash.update(data); },
      digest(): Uint8Array { return new Uint8Array(hash.digest()); },
    };
  },
};

/** CRC-32 on zlib's native code (several GB/s; the portable byte-wise loop does a few hundred MB/s). */
export function nodeCrc32Update(previous: number, data: Uint8Array, start: number, end: number): number {
  return zlibCrc32(start === 0 && end === data.length ? data : data.subarray(start, end), previous >>> 0);
}

// Every Node program that wires the core to node:crypto also gets the native CRC-32 for all of the core's checksums
// (download, sector program/read-back, image digest); the values are identical, only faster.
useCrc32(nodeCrc32Update);

/** The raw 32-byte public key of an Ed25519 key (public, or private: its public half). */
export function rawEd25519PublicKey(key: KeyObject): Uint8Array {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  if (publicKey.asymmetricKeyType !== 'ed25519') throw new TypeError(`expected an Ed25519 key, got ${publicKey.asymmetricKeyType}`);
  const der = publicKey.export({ format: 'der', type: 'spki' });
  return new Uint8Array(der.subarray(der.length - 32));
}

/** A KeyObject for a raw 32-byte Ed25519 public key. */
export function ed25519PublicKeyFromRaw(raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw new TypeError(`an Ed25519 public key is 32 bytes, got ${raw.length}`);
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}

/** The key id bundles carry for an Ed25519 key: the first 8 bytes of SHA-256 of the raw public key. */
export function ed25519KeyId(rawPublicKey: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(rawPublicKey).digest().subarray(0, 8));
}

/**
 * A COSE_Sign1 verifier for one Ed25519 public key (KeyObject, PEM text, or 32 raw bytes). Accepts alg -19 and the
 * deprecated -8. `keyId` defaults to the key's derived kid; pass null to accept bundles naming any kid.
 */
export function ed25519Verifier(publicKey: KeyObject | string | Uint8Array, keyId?: Uint8Array | null): SignatureVerifier {
  const key = typeof publicKey === 'string' ? createPublicKey(publicKey)
    : publicKey instanceof Uint8Array ? ed25519PublicKeyFromRaw(publicKey) : publicKey;
  const raw = rawEd25519PublicKey(key);
  const verifyKey = ed25519PublicKeyFromRaw(raw);
  return {
    structure: 'Signature1',
    keyId: keyId === undefined ? ed25519KeyId(raw) : keyId,
    accepts: (alg) => alg === COSE_ALG_ED25519 || alg === COSE_ALG_EDDSA,
    verify: (alg, message, tag) => {
      if ((alg !== COSE_ALG_ED25519 && alg !== COSE_ALG_EDDSA) || tag.length !== 64) return Promise.resolve(false);
      try {
        return Promise.resolve(cryptoVerify(null, message, verifyKey, tag));
      } catch {
        return Promise.resolve(false);
      }
    },
  };
}
