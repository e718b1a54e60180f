import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ifRangeMatches, parseRange } from '../../src/backend/range.js';

describe('Range parsing (RFC 9110 single ranges)', () => {
  it('agrees with a reference model for every header shape', () => {
    const header = fc.oneof(
      fc.tuple(fc.nat(2000), fc.nat(2000)).map(([a, b]) => `bytes=${a}-${b}`),
      fc.nat(2000).map((a) => `bytes=${a}-`),
      fc.nat(2000).map((n) => `bytes=-${n}`),
      fc.string({ maxLength: 12 }).map((junk) => `bytes=${junk}`),
      fc.string({ maxLength: 12 }),
    );
    fc.assert(fc.property(fc.nat(1500), header, (size, text) => {
      const result = parseRange(text, size);
      const m = /^bytes=([0-9]*)-([0-9]*)$/.exec(text);
      if (!m || (m[1] === '' && m[2] === '')) {
        expect(result).toEqual({ kind: 'none' });
        return;
      }
      if (m[1] === '') {
        const n = Number(m[2]);
        expect(result).toEqual(n === 0 || size === 0 ? { kind: 'unsatisfiable' } : { kind: 'range', start: Math.max(0, size - n), end: size - 1 });
        return;
      }
      const start = Number(m[1]);
      if (m[2] !== '' && Number(m[2]) < start) { expect(result).toEqual({ kind: 'none' }); return; }
      if (start >= size) { expect(result).toEqual({ kind: 'unsatisfiable' }); return; }
      const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
      expect(result).toEqual({ kind: 'range', start, end });
      expect(end - start + 1).toBeGreaterThan(0);
    }), { seed: 20261123, numRuns: 2000 });
  });

  it('keeps a range under If-Range only for the same strong ETag or the exact date', () => {
    const etag = '"abc"';
    const date = 'Mon, 23 Nov 2026 09:00:00 GMT';
    expect(ifRangeMatches(undefined, etag, date)).toBe(true);
    expect(ifRangeMatches('"abc"', etag, date)).toBe(true);
    expect(ifRangeMatches('W/"abc"', etag, date)).toBe(false);
    expect(ifRangeMatches('"abd"', etag, date)).toBe(false);
    expect(ifRangeMatches(date, etag, date)).toBe(true);
    expect(ifRangeMatches('Mon, 23 Nov 2026 09:00:01 GMT', etag, date)).toBe(false);
    expect(ifRangeMatches('not a date', etag, date)).toBe(false);
  });
});
