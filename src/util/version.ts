// Memfault's version order: natural sort (digit runs compare as numbers) with a tweak so that a pre-release
// suffix sorts before the plain version: 1.0.0rc1 < 1.0.0 < 1.0.1-dev < 1.0.1-rc2 < 1.0.1 < 1.0.12.
//
// A version is split into tokens: digit runs (numbers), a lone "." between two digit runs (a component
// separator), and any other run of non-digits (text). Sequences compare token by token, with the end of the
// string acting as one more token. At a position, kinds rank text < end < number < separator, so:
// - "1.0.0" vs "1.0.0rc1": end beats text "rc" (the pre-release is lower; Memfault's "z" tweak);
// - "1.0" vs "1.0.1": the separator beats the end (more components is higher);
// - "rc" vs "rc1": a number beats the end.
// Numbers compare by value (any length, leading zeros ignored), text case-insensitively; when everything ties
// ("1.01" vs "1.1", "RC" vs "rc") the raw strings decide, so the order is total and 0 means identical.

const KIND_TEXT = 0;
const KIND_END = 1;
const KIND_NUMBER = 2;
const KIND_SEPARATOR = 3;

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

/** Where the token starting at `at` ends. */
function tokenEnd(text: string, at: number): number {
  const digit = isDigit(text.charCodeAt(at));
  let end = at + 1;
  while (end < text.length && isDigit(text.charCodeAt(end)) === digit) end++;
  return end;
}

function kindOf(text: string, start: number, end: number): number {
  if (start >= text.length) return KIND_END;
  if (isDigit(text.charCodeAt(start))) return KIND_NUMBER;
  if (end - start === 1 && text.charAt(start) === '.' && start > 0 && isDigit(text.charCodeAt(start - 1)) &&
    end < text.length && isDigit(text.charCodeAt(end))) return KIND_SEPARATOR;
  return KIND_TEXT;
}

function compareNumbers(a: string, aStart: number, aEnd: number, b: string, bStart: number, bEnd: number): number {
  while (aStart < aEnd - 1 && a.charAt(aStart) === '0') aStart++;
  while (bStart < bEnd - 1 && b.charAt(bStart) === '0') bStart++;
  if (aEnd - aStart !== bEnd - bStart) return aEnd - aStart < bEnd - bStart ? -1 : 1;
  for (let i = 0; i < aEnd - aStart; i++) {
    const x = a.charCodeAt(aStart + i);
    const y = b.charCodeAt(bStart + i);
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

function lowerCode(code: number): number {
  return code >= 65 && code <= 90 ? code + 32 : code;
}

function compareTexts(a: string, aStart: number, aEnd: number, b: string, bStart: number, bEnd: number): number {
  const length = Math.min(aEnd - aStart, bEnd - bStart);
  for (let i = 0; i < length; i++) {
    const x = lowerCode(a.charCodeAt(aStart + i));
    const y = lowerCode(b.charCodeAt(bStart + i));
    if (x !== y) return x < y ? -1 : 1;
  }
  if (aEnd - aStart === bEnd - bStart) return 0;
  return aEnd - aStart < bEnd - bStart ? -1 : 1;
}

/** Compares two software versions in Memfault's order: negative when a < b, 0 only when identical, positive when a > b. */
export function compareVersions(a: string, b: string): number {
  let i = 0;
  let j = 0;
  for (;;) {
    const aEnd = i < a.length ? tokenEnd(a, i) : i;
    const bEnd = j < b.length ? tokenEnd(b, j) : j;
    const aKind = kindOf(a, i, aEnd);
    const bKind = kindOf(b, j, bEnd);
    if (aKind !== bKind) return aKind < bKind ? -1 : 1;
    if (aKind === KIND_END) break;
    let order = 0;
    if (aKind === KIND_NUMBER) order = compareNumbers(a, i, aEnd, b, j, bEnd);
    else if (aKind === KIND_TEXT) order = compareTexts(a, i, aEnd, b, j, bEnd);
    if (order !== 0) return order;
    i = aEnd;
    j = bEnd;
  }
  if (a === b) return 0;
  return a < b ? -1 : 1;
}
