import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Md5, md5, restoreMd5 } from '../../src/integrity/md5.js';
import { asciiToBytes, toHex } from '../../src/util/bytes.js';

describe('portable MD5 (src/integrity/md5.ts)', () => {
  it('matches the RFC 1321 test suite', () => {
    const suite: [string, string][] = [
      ['', 'd41d8cd98f00b204e9800998ecf8427e'],
      ['a', '0cc175b9c0f1b6a831c399e269772661'],
      ['abc', '900150983cd24fb0d6963f7d28e17f72'],
      ['message digest', 'f96b697d7cb7938d525a2f31aaf161d0'],
      ['abcdefghijklmnopqrstuvwxyz', 'c3fcd3d76192e4007dfb496cca67e13b'],
      ['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789', 'd174ab98d277d9f5a5611c2c9f419d9f'],
      ['1234567890'.repeat(8), '57edf4a22be3c955ac49da2e2107b67a'],
    ];
    for (const [input, digest] of suite) expect(toHex(md5(asciiToBytes(input))), input).toBe(digest);
  });

  it('property: any split, and any save/restore point, gives node:crypto\'s digest (seeded)', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 700 }), fc.nat(), fc.nat(), (data, a, b) => {
      const cut1 = data.length === 0 ? 0 : a % (data.length + 1);
      const cut2 = cut1 + (data.length - cut1 === 0 ? 0 : b % (data.length - cut1 + 1));
      const hash = new Md5();
      hash.update(data.subarray(0, cut1));
      const restored = restoreMd5(hash.saveState());
      expect(restored).not.toBeNull();
      restored!.updateRange(data, cut1, cut2);
      restored!.update(data.subarray(cut2));
      expect(toHex(restored!.digest())).toBe(createHash('md5').update(data).digest('hex'));
    }), { seed: 1321, numRuns: 300 });
  });

  it('refuses misuse with clear errors', () => {
    const hash = new Md5();
    hash.digest();
    expect(() => hash.digest()).toThrow();
    expect(() => hash.update(new Uint8Array(1))).toThrow();
    expect(restoreMd5(new Uint8Array(3))).toBeNull();
  });
});
