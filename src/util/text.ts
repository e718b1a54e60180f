// Character-class checks written without regex quantifiers: Espruino 2v29's regex engine has no `{n,m}`, `?` or
// `(?:`, so the portable core tests digits by hand.

/** True when `text` is 1 to `maxLength` ASCII decimal digits. */
export function isDecimal(text: string, maxLength: number): boolean {
  if (text.length < 1 || text.length > maxLength) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** True when `text` is exactly `length` hexadecimal digits (either case). */
export function isHex(text: string, length: number): boolean {
  if (text.length !== length) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i) | 0x20;
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}
