import { createHash, createHmac, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type { BundleSigner } from './bundle.js';
import { hmacVerifier, COSE_ALG_HMAC_256_256 } from '../integrity/hmac.js';
import type { SignatureVerifier } from '../integrity/verifier.js';
import { COSE_ALG_ED25519, ed25519KeyId, ed25519Verifier, nodeHashes, rawEd25519PublicKey } from '../node/crypto.js';
import { fromHex, toHex } from '../util/bytes.js';
import { otaError } from '../util/errors.js';

// Keys for bundles: Ed25519 PEM pairs (COSE_Sign1) and HMAC-SHA256 keys (COSE_Mac0), stored as 64 hex digits.

/** Bytes of a generated HMAC key. */
export const HMAC_KEY_BYTES = 32;
/** Shortest HMAC key accepted (RFC 2104 recommends at least the hash output length; 16 is the hard floor). */
export const HMAC_MIN_BYTES = 16;

// PKCS#8 DER prefix of an Ed25519 private key; the 32-byte seed follows (RFC 8410).
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** A new Ed25519 key pair as PEM (PKCS#8 private, SPKI public). */
export function generateEd25519(): { privatePem: string; publicPem: string } {
  const pair = generateKeyPairSync('ed25519');
  return {
    privatePem: pair.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicPem: pair.publicKey.export({ format: 'pem', type: 'spki' }).toString(),
  };
}

/** An Ed25519 private key from its 32-byte seed (test vectors). */
export function ed25519PrivateKeyFromSeed(seed: Uint8Array): KeyObject {
  if (seed.length !== 32) throw new TypeError('an Ed25519 seed is 32 bytes');
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
}

/** A new random HMAC key. */
export function generateHmacKey(): Uint8Array {
  return new Uint8Array(randomBytes(HMAC_KEY_BYTES));
}

/** The file form of an HMAC key: hex digits and a newline. */
export function formatHmacKey(key: Uint8Array): string {
  return toHex(key) + '\n';
}

/** Parses an HMAC key file (hex digits, surrounding whitespace ignored). The key never appears in the error. */
export function parseHmacKey(text: string): Uint8Array {
  const key = fromHex(text.trim());
  if (key === null || key.length < HMAC_MIN_BYTES) {
    throw otaError('key-invalid', `An HMAC key file holds at least ${HMAC_MIN_BYTES * 2} hex digits (make one with "ota keys generate --type hmac").`, false);
  }
  return key;
}

/** The key id bundles carry for an HMAC key: the first 8 bytes of SHA-256 over a label and the key. */
export function hmacKeyId(key: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update('ota-agent hmac kid').update(key).digest().subarray(0, 8));
}

/** Signs with an Ed25519 private key (PEM or KeyObject); alg -19 unless told otherwise. */
export function ed25519Signer(privateKey: KeyObject | string, alg: number = COSE_ALG_ED25519): BundleSigner {
  const key = typeof privateKey === 'string' ? privateKeyFromText(privateKey) : privateKey;
  if (key.asymmetricKeyType !== 'ed25519' || key.type !== 'private') {
    throw otaError('key-invalid', 'The signing key must be an Ed25519 private key in PEM (make one with "ota keys generate").', false);
  }
  return {
    structure: 'Signature1', alg, keyId: ed25519KeyId(rawEd25519PublicKey(key)),
    sign: (message) => new Uint8Array(sign(null, message, key)),
  };
}

/** Reads a private key PEM, or throws `key-invalid` saying what the text is instead (never echoing the key). */
function privateKeyFromText(text: string): KeyObject {
  if (!isPem(text)) {
    const hex = fromHex(text.trim());
    throw otaError('key-invalid', hex !== null && hex.length >= HMAC_MIN_BYTES
      ? 'This is an HMAC key (hex digits), not an Ed25519 private key PEM: use it as an HMAC key (ota bundle create --hmac-key).'
      : 'The signing key must be an Ed25519 private key in PEM (make one with "ota keys generate").', false);
  }
  if (!text.includes('PRIVATE KEY')) {
    throw otaError('key-invalid', 'This is a public key; signing needs the private key (NAME.pem, not NAME.pub.pem, from "ota keys generate").', false);
  }
  try {
    return createPrivateKey(text);
  } catch (error) {
    throw otaError('key-invalid', 'The key file is PEM but not a readable private key (encrypted, damaged or an unsupported type); make one with "ota keys generate".', false, undefined, error);
  }
}

/** MACs with an HMAC-SHA256 key (COSE_Mac0, alg 5). */
export function hmacSigner(key: Uint8Array): BundleSigner {
  const secret = Buffer.from(key);
  return {
    structure: 'MAC0', alg: COSE_ALG_HMAC_256_256, keyId: hmacKeyId(key),
    sign: (message) => new Uint8Array(createHmac('sha256', secret).update(message).digest()),
  };
}

/** True when the text is a PEM block. */
export function isPem(text: string): boolean {
  return /-----BEGIN [A-Z ]+-----/.test(text);
}

/** A verifier from key file text: an Ed25519 PEM (public or private) or an HMAC hex key. */
export function verifierFromKeyText(text: string): SignatureVerifier {
  if (isPem(text)) {
    let key: KeyObject;
    try {
      key = text.includes('PRIVATE KEY') ? createPublicKey(createPrivateKey(text)) : createPublicKey(text);
    } catch (error) {
      throw otaError('key-invalid', 'The key file is PEM but not a readable Ed25519 key.', false, undefined, error);
    }
    if (key.asymmetricKeyType !== 'ed25519') throw otaError('key-invalid', `The PEM key is ${key.asymmetricKeyType}, not Ed25519.`, false);
    return ed25519Verifier(key);
  }
  const secret = parseHmacKey(text);
  return hmacVerifier(nodeHashes, secret, hmacKeyId(secret));
}
