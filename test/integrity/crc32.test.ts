import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import CRC32 from 'crc-32';
import { crc32, crc32Update } from '../../src/integrity/crc32.js';

describe('crc32', () => {
  it('has the standard check value', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
  });

  it('matches the crc-32 package and continues across any split', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2000 }), fc.nat(), (data, cut) => {
      const at = data.length === 0 ? 0 : cut % (data.length + 1);
      const whole = CRC32.buf(data) >>> 0;
      expect(crc32(data)).toBe(whole);
      expect(crc32Update(crc32Update(0, data, 0, at), data, at, data.length)).toBe(whole);
    }), { seed: 42, numRuns: 200 });
  });
});
