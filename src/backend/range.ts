/** A parsed Range header against a resource of known size. */
export type RangeResult =
  | { kind: 'none' }                              // absent, malformed or multi-range: send the whole resource
  | { kind: 'range'; start: number; end: number } // satisfiable single range, end inclusive
  | { kind: 'unsatisfiable' };

/**
 * A decimal position of any length as a number; digit strings beyond 2^53 become Infinity. Exactness does not
 * matter there: every stored object is far smaller, so such a position is past the end of any of them.
 */
function position(digits: string): number {
  const significant = digits.replace(/^0+(?=[0-9])/, '');
  return significant.length > 15 ? Infinity : Number(significant);
}

/**
 * Parses a single `bytes=` range (RFC 9110 §14.1.2): `a-b`, `a-`, `-n`. Multiple ranges and anything malformed
 * are ignored (a 200 with the whole body is always a valid answer); a well-formed range that starts past the end,
 * or a zero-length suffix, is unsatisfiable. A last position or suffix length beyond the object (however many
 * digits) means "to the end" / "the whole object", as §14.1.1 says, not an unsatisfiable range.
 */
export function parseRange(header: string | undefined, size: number): RangeResult {
  if (header === undefined) return { kind: 'none' };
  const match = /^bytes=([0-9]*)-([0-9]*)$/.exec(header.trim());
  if (!match) return { kind: 'none' };
  const first = match[1];
  const last = match[2];
  if (first === '' && last === '') return { kind: 'none' };
  if (first === '') {
    const suffix = position(last);
    if (suffix === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'range', start: Math.max(0, size - suffix), end: size - 1 };
  }
  // Compared exactly (BigInt): two long positions may be equal as doubles.
  if (last !== '' && BigInt(last) < BigInt(first)) return { kind: 'none' };
  const start = position(first);
  const end = last === '' ? Infinity : position(last);
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'range', start, end: Math.min(end, size - 1) };
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

/**
 * An HTTP-date (RFC 9110 §5.6.7: IMF-fixdate, obsolete RFC 850 or asctime form, always GMT) in ms, or NaN.
 * Date.parse is not used: it reads the zone-less asctime form in the server's local time zone, and accepts
 * ISO dates and other text that is no HTTP-date at all.
 */
export function parseHttpDate(text: string): number {
  const value = text.trim();
  let day: string;
  let month: string;
  let year: number;
  let time: string;
  let m = /^[A-Za-z]{3}, ([0-9]{2}) ([A-Za-z]{3}) ([0-9]{4}) ([0-9]{2}:[0-9]{2}:[0-9]{2}) GMT$/.exec(value);
  if (m) {
    [, day, month, , time] = m;
    year = Number(m[3]);
  } else if ((m = /^[A-Za-z]{6,9}, ([0-9]{2})-([A-Za-z]{3})-([0-9]{2}) ([0-9]{2}:[0-9]{2}:[0-9]{2}) GMT$/.exec(value))) {
    [, day, month, , time] = m;
    // RFC 9110: a two-digit year more than 50 years in the future is in the past century.
    const yy = Number(m[3]);
    const now = new Date().getUTCFullYear();
    year = 2000 + yy > now + 50 ? 1900 + yy : 2000 + yy;
  } else if ((m = /^[A-Za-z]{3} ([A-Za-z]{3}) ([ 0-9][0-9]) ([0-9]{2}:[0-9]{2}:[0-9]{2}) ([0-9]{4})$/.exec(value))) {
    [, month, day, time] = m;
    year = Number(m[4]);
  } else {
    return NaN;
  }
  const monthIndex = MONTHS.indexOf(month.toLowerCase());
  const [hh, mm, ss] = time.split(':').map(Number);
  const dayNumber = Number(day.trim());
  if (monthIndex < 0 || dayNumber < 1 || dayNumber > 31 || hh > 23 || mm > 59 || ss > 60) return NaN;
  return Date.UTC(year, monthIndex, dayNumber, hh, mm, ss);
}

/** True when an `If-Range` value still names the current representation (strong ETag or exact Last-Modified). */
export function ifRangeMatches(ifRange: string | undefined, etag: string, lastModified: string): boolean {
  if (ifRange === undefined) return true;
  const value = ifRange.trim();
  if (value.startsWith('W/')) return false;
  if (value.startsWith('"')) return value === etag;
  const date = parseHttpDate(value);
  return !Number.isNaN(date) && date === parseHttpDate(lastModified);
}
