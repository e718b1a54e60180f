import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareVersions } from '../../src/util/version.js';

const sign = (n: number): number => (n < 0 ? -1 : n > 0 ? 1 : 0);

describe('compareVersions', () => {
  it('orders the reference chain from the Memfault docs', () => {
    const chain = ['1.0.0rc1', '1.0.0', '1.0.1-dev', '1.0.1-rc2', '1.0.1', '1.0.12'];
    for (let i = 0; i < chain.length; i++) {
      for (let j = 0; j < chain.length; j++) {
        expect(sign(compareVersions(chain[i], chain[j])), `${chain[i]} vs ${chain[j]}`).toBe(sign(i - j));
      }
    }
    const shuffled = [chain[3], chain[5], chain[0], chain[4], chain[2], chain[1]];
    expect(shuffled.sort(compareVersions)).toEqual(chain);
  });

  it.each([
    ['1.2', '1.10', -1],
    ['1.0', '1.0.0', -1],
    ['1.0.0', '1.0.0.1', -1],
    ['1.9.9', '1.10.0', -1],
    ['2.0.0-beta', '2.0.0-alpha', 1],
    ['1.0.0-rc1', '1.0.0-rc10', -1],
    ['1.0.0-rc9', '1.0.0-rc10', -1],
    ['1.0.0rc', '1.0.0rc1', -1],
    ['1.0.0-RC1', '1.0.0-rc2', -1],
    ['v1.0.0', '1.0.0', -1],
    ['1.01', '1.1', -1],
    ['99999999999999999999.0', '100000000000000000000.0', -1],
    ['0.9', '0.9', 0],
    ['', '0', -1],
  ])('%s vs %s = %i', (a, b, expected) => {
    expect(sign(compareVersions(a, b))).toBe(expected);
    expect(sign(compareVersions(b, a))).toBe(expected === 0 ? 0 : -expected);
  });

  const version = fc.stringMatching(/^[0-9a-zA-Z.+_-]{0,12}$/);
  const semverish = fc.tuple(fc.nat(20), fc.nat(20), fc.nat(20), fc.constantFrom('', '-dev', '-rc1', 'rc2', '-alpha.3', '.dev4'))
    .map(([a, b, c, pre]) => `${a}.${b}.${c}${pre}`);

  it('is a total order: antisymmetric, transitive, zero only for identical strings', () => {
    fc.assert(fc.property(fc.oneof(version, semverish), fc.oneof(version, semverish), fc.oneof(version, semverish), (a, b, c) => {
      expect(sign(compareVersions(a, b)) + sign(compareVersions(b, a))).toBe(0);
      expect(compareVersions(a, b) === 0).toBe(a === b);
      if (compareVersions(a, b) <= 0 && compareVersions(b, c) <= 0) expect(compareVersions(a, c)).toBeLessThanOrEqual(0);
    }), { seed: 0x5eed, numRuns: 3000 });
  });

  it('puts every pre-release below its plain release and numbers in numeric order', () => {
    fc.assert(fc.property(fc.nat(1000), fc.nat(1000), fc.nat(1000), fc.constantFrom('-dev', '-rc1', 'rc3', '-beta.2', '+1'), (a, b, c, pre) => {
      const plain = `${a}.${b}.${c}`;
      expect(compareVersions(plain + pre, plain)).toBeLessThan(0);
      expect(sign(compareVersions(`${a}.${b}.${c}`, `${a}.${b}.${c + 1}`))).toBe(-1);
      expect(sign(compareVersions(`${a}.${b}.${c + 1}${pre}`, plain))).toBe(1);
    }), { seed: 42, numRuns: 1000 });
  });
});
