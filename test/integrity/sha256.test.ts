import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Sha256 } from '../../src/integrity/sha256.js';
import { toHex } from '../../src/util/bytes.js';

describe('portable Sha256', () => {
  it('matches node:crypto for random data fed in random chunks', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 3000 }), fc.array(fc.nat({ max: 200 }), { maxLength: 20 }), (data, cuts) => {
      const hash = new Sha256();
      let at = 0;
      for (const cut of cuts) {
        const end = Math.min(data.length, at + cut);
        hash.update(data.subarray(at, end));
        at = end;
      }
      hash.update(data.subarray(at));
      expect(toHex(hash.digest())).toBe(createHash('sha256').update(data).digest('hex'));
    }), { seed: 7, numRuns: 300 });
  });

  it('refuses to be reused after digest', () => {
    const hash = new Sha256();
    hash.digest();
    expect(() => hash.update(new Uint8Array(1))).toThrow();
  });
});
