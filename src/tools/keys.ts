import { createHash, createHmac, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
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
    throw otaError('key-invalid', `This PEM holds an ${key.asymmetricKeyType ?? 'unknown'} ${key.type} key; the signing key must be an Ed25519 ` +
      'private key (make one with "ota keys generate").', false);
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

/**
 * True when a value given for a key *file* is key material itself (a PEM block, several lines, or 32+ hex digits):
 * `--hmac-key "$KEY"` instead of a path. Such a value must never be echoed in a "does not exist" message.
 */
export function looksLikeKeyMaterial(value: string): boolean {
  return isPem(value) || value.includes('\n') || /^\s*(0x)?[0-9a-fA-F]{32,}\s*$/.test(value);
}

/** The usage message for a key flag whose value is the key itself (the value is not repeated). */
export function keyMaterialMessage(flag: string): string {
  return `${flag} takes the path of a key file, but the value given looks like a key itself (not shown): write the key to a file ` +
    `readable only by you (chmod 600) and pass its path`;
}

/**
 * A warning when a secret key file (a private PEM or an HMAC key; not a public PEM; a regular file) can be read by users other than
 * its owner, or null. Not a refusal: CI secret stores often write files with the default umask.
 */
export function looseKeyWarning(flag: string, path: string, text: string): string | null {
  if (process.platform === 'win32' || (isPem(text) && !text.includes('PRIVATE KEY'))) return null;
  const info = statSync(path);
  // Only a key at rest: a pipe (--hmac-key <(...)) holds nothing once read.
  if (!info.isFile()) return null;
  const mode = info.mode & 0o777;
  if ((mode & 0o077) === 0) return null;
  return `warning: ${flag} ${path} is readable by other users (mode ${mode.toString(8).padStart(4, '0')}); ` +
    `it is a secret: chmod 600 ${path}`;
}

/**
 * True when the first bytes of a file (`head`, up to 4 KiB) of `size` bytes are a secret key rather than firmware: a
 * private key PEM (PKCS#8, SEC1, PKCS#1, OpenSSH, encrypted) or an HMAC key file (hex digits only). Used to refuse
 * publishing a key as an OTA payload.
 */
export function looksLikeSecretKeyFile(head: Uint8Array, size: number): boolean {
  const text = Buffer.from(head).toString('latin1');
  if (/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(text)) return true;
  return size <= 1024 && head.length === size && /^\s*(0x)?[0-9a-fA-F]{32,}\s*$/.test(text);
}

/** Largest key file read: PEM keys and HMAC key files are a few hundred bytes. */
export const MAX_KEY_FILE_BYTES = 64 * 1024;

/**
 * Reads a key file as text, at most `MAX_KEY_FILE_BYTES`: a pipe works (`--hmac-key <(vault read ...)`), while a
 * firmware image or an endless device (`/dev/zero`) given as the key is refused with `key-invalid` instead of being
 * read for ever.
 */
export function readKeyFile(path: string): string {
  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.alloc(MAX_KEY_FILE_BYTES + 1);
    let length = 0;
    while (length < buffer.length) {
      const read = readSync(fd, buffer, length, buffer.length - length, null);
      if (read === 0) break;
      length += read;
    }
    if (length > MAX_KEY_FILE_BYTES) {
      throw otaError('key-invalid', `The file is larger than ${MAX_KEY_FILE_BYTES / 1024} KiB, so it is not a key (a PEM key or an HMAC key file is a few hundred bytes).`, false);
    }
    return buffer.subarray(0, length).toString('utf8');
  } finally {
    closeSync(fd);
  }
}
