import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isDecimal, isHex } from '../../src/util/text.js';

describe('isDecimal and isHex agree with the regexes they replace', () => {
  it('isDecimal', () => {
    fc.assert(fc.property(fc.string({ maxLength: 20 }), fc.integer({ min: 1, max: 16 }), (text, max) => {
      expect(isDecimal(text, max)).toBe(new RegExp(`^[0-9]{1,${max}}$`).test(text));
    }), { seed: 3, numRuns: 500 });
    expect(isDecimal('65535', 5)).toBe(true);
    expect(isDecimal('655350', 5)).toBe(false);
    expect(isDecimal('', 5)).toBe(false);
  });

  it('isHex', () => {
    fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 40 }), fc.stringMatching(/^[0-9a-fA-F]{32}$/)), (text) => {
      expect(isHex(text, 32)).toBe(/^[0-9a-fA-F]{32}$/.test(text));
    }), { seed: 4, numRuns: 500 });
  });
});
