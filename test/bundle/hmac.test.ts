import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { constantTimeEqual, hmacSha256, hmacVerifier } from '../../src/integrity/hmac.js';
import { portableHashes } from '../../src/integrity/sha256.js';
import { ed25519Verifier, nodeHashes } from '../../src/node/crypto.js';
import { fromHex, toHex } from '../../src/util/bytes.js';
import { TEST_KEY } from './helpers.js';
import { sign } from 'node:crypto';

describe('HMAC-SHA256 over a HashFactory', () => {
  it('matches RFC 4231 test cases 1 and 6 (key longer than a block) with both hash factories', () => {
    const case1 = hmacSha256(portableHashes, new Uint8Array(20).fill(0x0b), [new TextEncoder().encode('Hi There')]);
    expect(toHex(case1)).toBe('b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7');
    const case6 = hmacSha256(nodeHashes, new Uint8Array(131).fill(0xaa), [new TextEncoder().encode('Test Using Larger Than Block-Size Key - Hash Key First')]);
    expect(toHex(case6)).toBe('60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54');
  });

  it('equals node:crypto for random keys and split messages (fast-check)', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 150 }), fc.array(fc.uint8Array({ maxLength: 100 }), { maxLength: 4 }), (key, parts) => {
      const expected = createHmac('sha256', key).update(Buffer.concat(parts)).digest('hex');
      expect(toHex(hmacSha256(portableHashes, key, parts))).toBe(expected);
    }), { seed: 99, numRuns: 200 });
  });

  it('the verifier accepts only alg 5 and the right tag', async () => {
    const key = new Uint8Array(32).fill(7);
    const verifier = hmacVerifier(nodeHashes, key, null);
    const message = fromHex('00010203') as Uint8Array;
    const tag = hmacSha256(nodeHashes, key, [message]);
    expect(verifier.accepts(5)).toBe(true);
    expect(verifier.accepts(4)).toBe(false);
    expect(await verifier.verify(5, message, tag)).toBe(true);
    expect(await verifier.verify(4, message, tag)).toBe(false);
    tag[31] ^= 1;
    expect(await verifier.verify(5, message, tag)).toBe(false);
    expect(constantTimeEqual(tag, tag.subarray(0, 31))).toBe(false);
  });
});

describe('Ed25519 verifier on node:crypto', () => {
  it('accepts -19 and -8, refuses other algs, wrong lengths and wrong messages without throwing', async () => {
    const verifier = ed25519Verifier(TEST_KEY);
    const message = new Uint8Array([1, 2, 3]);
    const signature = new Uint8Array(sign(null, message, TEST_KEY));
    expect(await verifier.verify(-19, message, signature)).toBe(true);
    expect(await verifier.verify(-8, message, signature)).toBe(true);
    expect(await verifier.verify(-7, message, signature)).toBe(false);
    expect(await verifier.verify(-19, message, signature.subarray(0, 63))).toBe(false);
    expect(await verifier.verify(-19, new Uint8Array([1, 2, 4]), signature)).toBe(false);
    expect(verifier.keyId?.length).toBe(8);
  });
});
