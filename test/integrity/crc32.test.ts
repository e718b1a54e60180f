import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import CRC32 from 'crc-32';
import { crc32, crc32Update, portableCrc32Update, useCrc32 } from '../../src/integrity/crc32.js';
import { nodeCrc32Update } from '../../src/node/crypto.js';

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

  it('the native Node CRC-32 that src/node/crypto.ts installs equals the portable one on every range and start value', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 3000 }), fc.nat(), fc.nat(), fc.nat({ max: 0xffffffff }), (data, a, b, previous) => {
      const start = data.length === 0 ? 0 : a % (data.length + 1);
      const end = start + (data.length === 0 ? 0 : b % (data.length - start + 1));
      expect(nodeCrc32Update(previous, data, start, end)).toBe(portableCrc32Update(previous, data, start, end));
    }), { seed: 7, numRuns: 300 });
  });

  it('routes crc32Update through the installed implementation and back to the portable one with null', () => {
    const calls: number[] = [];
    const data = new TextEncoder().encode('123456789');
    try {
      useCrc32((previous, bytes, start, end) => { calls.push(end - start); return portableCrc32Update(previous, bytes, start, end); });
      expect(crc32(data)).toBe(0xcbf43926);
      expect(calls).toEqual([9]);
    } finally {
      useCrc32(null);
    }
    expect(crc32(data)).toBe(0xcbf43926);
    expect(calls).toEqual([9]);
  });
});
