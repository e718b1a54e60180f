import type { TrustPolicy } from '../bundle/header.js';
import { hmacVerifier } from '../integrity/hmac.js';
import { otaError } from '../util/errors.js';
import type { EspruinoRuntime } from './runtime.js';
import { nativeHashes } from './native-hashes.js';

// Espruino's TLS authenticates nobody (see tls-warning.ts), so on Espruino trust comes only from signed bundles:
// HMAC-SHA256 over the manifest (COSE_Mac0) with a per-device key, checked with the native one-shot SHA-256.
// Without a key the configuration is refused, over HTTP and HTTPS alike, unless allowUnsigned says otherwise.

/** Options of espruinoTrust. */
export interface EspruinoTrustOptions {
  /** The device's HMAC-SHA256 key (at least 16 bytes); the manifest's COSE_Mac0 tag must verify under it. */
  hmacKey?: Uint8Array | null;
  /** The key id bundles name (COSE kid); null or absent matches any. */
  keyId?: Uint8Array | null;
  /** Development only: accept unsigned bundles and raw images. */
  allowUnsigned?: boolean;
  runtime?: EspruinoRuntime;
}

/** The bundle trust policy for an Espruino device; throws `espruino-unsigned-refused` without a key or allowUnsigned. */
export function espruinoTrust(options: EspruinoTrustOptions): TrustPolicy {
  const key = options.hmacKey;
  if (key === null) {
    // fromHex of text that is not hex (the example's placeholder) gives null: a key was meant, none arrived.
    throw otaError('hmac-key-invalid', 'hmacKey is null, not a key: fromHex() returns null for text that is not an even number ' +
      'of hex digits; put the 64 hex digits of the device key (ota keys generate --type hmac).', false);
  }
  if (key === undefined || key.length === 0) {
    if (options.allowUnsigned !== true) {
      throw otaError('espruino-unsigned-refused', 'Espruino TLS does not authenticate the server, so an Espruino device needs an ' +
        'HMAC key to check signed bundles; pass hmacKey (ota keys generate --type hmac), or allowUnsigned: true for development only.', false);
    }
    return { verifiers: [], allowUnsigned: true };
  }
  if (key.length < 16) {
    throw otaError('hmac-key-too-short', 'The HMAC key has ' + key.length + ' bytes; use at least 16 (32 recommended).', false);
  }
  const hashes = nativeHashes({ runtime: options.runtime });
  return { verifiers: [hmacVerifier(hashes, key, options.keyId || null)], allowUnsigned: false };
}
