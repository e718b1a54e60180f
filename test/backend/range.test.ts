import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ifRangeMatches, parseHttpDate, parseRange } from '../../src/backend/range.js';

describe('Range parsing (RFC 9110 single ranges)', () => {
  it('agrees with a reference model for every header shape', () => {
    const header = fc.oneof(
      fc.tuple(fc.nat(2000), fc.nat(2000)).map(([a, b]) => `bytes=${a}-${b}`),
      fc.nat(2000).map((a) => `bytes=${a}-`),
      fc.nat(2000).map((n) => `bytes=-${n}`),
      // Positions of any length (a client asking "to the end" with a huge last position, zero-padded numbers).
      fc.tuple(fc.stringMatching(/^[0-9]{1,30}$/), fc.stringMatching(/^[0-9]{0,30}$/)).map(([a, b]) => `bytes=${a}-${b}`),
      fc.stringMatching(/^[0-9]{1,30}$/).map((n) => `bytes=-${n}`),
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
      if (m[2] !== '' && BigInt(m[2]) < BigInt(m[1])) { expect(result).toEqual({ kind: 'none' }); return; }
      if (start >= size) { expect(result).toEqual({ kind: 'unsatisfiable' }); return; }
      const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
      expect(result).toEqual({ kind: 'range', start, end });
      expect(end - start + 1).toBeGreaterThan(0);
    }), { seed: 20261123, numRuns: 2000 });
  });

  it('reads a last position or suffix length past the object, however many digits, as "to the end"', () => {
    expect(parseRange('bytes=0-99999999999999999999999', 5000)).toEqual({ kind: 'range', start: 0, end: 4999 });
    expect(parseRange('bytes=10-18446744073709551615', 5000)).toEqual({ kind: 'range', start: 10, end: 4999 });
    expect(parseRange('bytes=-9007199254740993', 5000)).toEqual({ kind: 'range', start: 0, end: 4999 });
    expect(parseRange('bytes=0000000000000000000010-0000000000000000000019', 5000)).toEqual({ kind: 'range', start: 10, end: 19 });
    // A start past the end stays unsatisfiable, a last position before the start is ignored.
    expect(parseRange('bytes=99999999999999999999-', 5000)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=99999999999999999999-5', 5000)).toEqual({ kind: 'none' });
    expect(parseRange('bytes=200000000000000000001-200000000000000000000', 5000)).toEqual({ kind: 'none' });
  });

  it('reads all three HTTP-date forms as GMT, whatever the server\'s time zone', () => {
    const saved = process.env.TZ;
    try {
      for (const zone of ['UTC', 'Asia/Tokyo', 'America/Los_Angeles']) {
        process.env.TZ = zone;
        const expected = Date.UTC(2026, 10, 23, 18, 59, 35);
        expect(parseHttpDate('Mon, 23 Nov 2026 18:59:35 GMT')).toBe(expected);
        expect(parseHttpDate('Monday, 23-Nov-26 18:59:35 GMT')).toBe(expected);
        expect(parseHttpDate('Mon Nov 23 18:59:35 2026')).toBe(expected);
        expect(parseHttpDate('Mon Nov  3 18:59:35 2026')).toBe(Date.UTC(2026, 10, 3, 18, 59, 35));
        expect(ifRangeMatches('Mon Nov 23 18:59:35 2026', '"e"', 'Mon, 23 Nov 2026 18:59:35 GMT')).toBe(true);
      }
    } finally {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    }
    // Not HTTP-dates: an ISO date, a zone other than GMT.
    expect(parseHttpDate('2026-11-23T18:59:35Z')).toBeNaN();
    expect(parseHttpDate('Mon, 23 Nov 2026 18:59:35 +0000')).toBeNaN();
    expect(ifRangeMatches('2026-11-23T18:59:35Z', '"e"', 'Mon, 23 Nov 2026 18:59:35 GMT')).toBe(false);
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
