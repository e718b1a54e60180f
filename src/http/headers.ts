// Header lists: ordered name/value pairs, as received or to be sent. Names compare case-insensitively.
import { otaError } from '../util/errors.js';

/** One header field. */
export interface Header {
  name: string;
  value: string;
}

/** The value of the first header called `name` (any case), or undefined. */
export function headerValue(headers: Header[], name: string): string | undefined {
  const lower = name.toLowerCase();
  for (let i = 0; i < headers.length; i++) if (headers[i].name.toLowerCase() === lower) return headers[i].value;
  return undefined;
}

/** Every value of headers called `name`, joined by ", " as RFC 9110 §5.3 allows, or undefined. */
export function headerValues(headers: Header[], name: string): string | undefined {
  const lower = name.toLowerCase();
  let joined: string | undefined;
  for (let i = 0; i < headers.length; i++) {
    if (headers[i].name.toLowerCase() === lower) joined = joined === undefined ? headers[i].value : joined + ', ' + headers[i].value;
  }
  return joined;
}

/** True when the comma-separated header `name` contains `token` (case-insensitive), e.g. Connection: close. */
export function headerHasToken(headers: Header[], name: string, token: string): boolean {
  const value = headerValues(headers, name);
  if (value === undefined) return false;
  const parts = value.split(',');
  for (let i = 0; i < parts.length; i++) if (parts[i].trim().toLowerCase() === token) return true;
  return false;
}

/** A copy of `headers` without the ones called any of `names` (lower-case). */
export function withoutHeaders(headers: Header[], names: string[]): Header[] {
  const out: Header[] = [];
  for (let i = 0; i < headers.length; i++) if (names.indexOf(headers[i].name.toLowerCase()) < 0) out.push(headers[i]);
  return out;
}

/** Headers from a plain object, in key order. */
export function headersFromObject(object: { [name: string]: string }): Header[] {
  const out: Header[] = [];
  const keys = Object.keys(object);
  for (let i = 0; i < keys.length; i++) out.push({ name: keys[i], value: object[keys[i]] });
  return out;
}

/** A plain object of the headers with lower-case names; repeated names are joined with ", ". */
export function headersToObject(headers: Header[]): { [lowerName: string]: string } {
  const out: { [lowerName: string]: string } = {};
  for (let i = 0; i < headers.length; i++) {
    const lower = headers[i].name.toLowerCase();
    out[lower] = out[lower] === undefined ? headers[i].value : out[lower] + ', ' + headers[i].value;
  }
  return out;
}

/** True for RFC 9110 token characters (header names, methods). */
export function isTokenChar(code: number): boolean {
  if (code >= 48 && code <= 57) return true;
  if ((code >= 65 && code <= 90) || (code >= 97 && code <= 122)) return true;
  return "!#$%&'*+-.^_`|~".indexOf(String.fromCharCode(code)) >= 0 && code < 127;
}

/** Throws `http-bad-header` unless `name` is a token and `value` has no CR, LF or NUL. */
export function checkHeader(name: string, value: string): void {
  let ok = name.length > 0;
  for (let i = 0; ok && i < name.length; i++) ok = isTokenChar(name.charCodeAt(i));
  if (!ok) throw otaError('http-bad-header', 'Header name "' + name + '" is not a valid token; use letters, digits and -.', false, { name: name });
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code === 13 || code === 10 || code === 0 || code > 255) {
      throw otaError('http-bad-header', 'Header "' + name + '" has a CR, LF, NUL or non-Latin-1 character in its value; such a value would split the request.', false, { name: name });
    }
  }
}
