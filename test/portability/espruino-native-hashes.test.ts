// SHA-256 and HMAC over Espruino's one-shot crypto.SHA256 (a fake returning an ArrayBuffer, as 2v29's does).
import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { nativeHashes } from '../../src/espruino/native-hashes.js';
import { hmacVerifier } from '../../src/integrity/hmac.js';
import { FakeCrypto, fakeRuntime } from './fakes/espruino-fakes.js';

describe('nativeHashes', () => {
  const crypto = new FakeCrypto(true);
  const hashes = nativeHashes({ runtime: fakeRuntime({ crypto }) });

  it('hashes updates in any split like a one-shot SHA-256 of their concatenation', () => {
    const data = new Uint8Array(3000).map((_, i) => (i * 11) & 0xff);
    for (const cut of [0, 1, 63, 64, 1500, 2999, 3000]) {
      const hash = hashes.sha256();
      hash.update(data.subarray(0, cut));
      hash.update(data.subarray(cut));
      expect(Buffer.from(hash.digest()).toString('hex'), `cut ${cut}`).toBe(createHash('sha256').update(data).digest('hex'));
    }
  });

  it('verifies an HMAC-SHA256 tag through the core verifier, and refuses a wrong one', async () => {
    const key = new Uint8Array(32).fill(7);
    const message = new Uint8Array(2048).map((_, i) => i & 0xff);
    const tag = new Uint8Array(createHmac('sha256', key).update(message).digest());
    const verifier = hmacVerifier(hashes, key, null);
    expect(await verifier.verify(5, message, tag)).toBe(true);
    tag[0] ^= 1;
    expect(await verifier.verify(5, message, tag)).toBe(false);
  });

  it('refuses more input than its limit, and boards without SHA-256', () => {
    const small = nativeHashes({ runtime: fakeRuntime({ crypto }), limit: 100 });
    const hash = small.sha256();
    hash.update(new Uint8Array(100));
    expect(() => hash.update(new Uint8Array(1))).toThrow(expect.objectContaining({ code: 'hash-input-too-large' }));
    expect(() => nativeHashes({ runtime: fakeRuntime({ crypto: new FakeCrypto(false) }) })).toThrow(expect.objectContaining({ code: 'sha256-unavailable' }));
  });
});
