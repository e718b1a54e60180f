// http and https URLs: parsing and resolving a Location against a base. Only what HTTP/1.1 requests need.
import { isDecimal } from '../util/text.js';
import { otaError } from '../util/errors.js';

/** A parsed absolute http(s) URL. */
export interface HttpUrl {
  scheme: 'http' | 'https';
  /** Host name or IP literal, lower-case, without brackets. */
  host: string;
  port: number;
  /** Path plus query, always starting with "/" (the request target). */
  target: string;
  /** Value for the Host header: host, with the port when it is not the scheme's default. */
  authority: string;
}

/** `url` fit for messages and logs: without user:password@ and without its query (a signed link's token). */
export function loggableUrl(url: string): string {
  const shown = url.split('#')[0].split('?')[0];
  const from = shown.indexOf('//') + 2;
  const slash = shown.indexOf('/', from);
  const at = shown.lastIndexOf('@', slash >= 0 ? slash : shown.length);
  return from > 1 && at >= from ? shown.substring(0, from) + shown.substring(at + 1) : shown;
}

function badUrl(url: string, why: string): never {
  throw otaError('http-bad-url', 'Cannot use URL "' + loggableUrl(url) + '": ' + why + '.', false);
}

/** Parses an absolute http:// or https:// URL; throws an OtaError `http-bad-url` otherwise. */
export function parseUrl(url: string): HttpUrl {
  const colon = url.indexOf('://');
  if (colon < 0) badUrl(url, 'expected an absolute URL starting with http:// or https://');
  const scheme = url.substring(0, colon).toLowerCase();
  if (scheme !== 'http' && scheme !== 'https') badUrl(url, 'only http and https are supported, found "' + scheme + '"');
  let rest = url.substring(colon + 3);
  const hash = rest.indexOf('#');
  if (hash >= 0) rest = rest.substring(0, hash);
  let slash = rest.length;
  for (let i = 0; i < rest.length; i++) {
    const c = rest.charAt(i);
    if (c === '/' || c === '?') {
      slash = i;
      break;
    }
  }
  let authority = rest.substring(0, slash);
  let target = rest.substring(slash);
  if (target === '') target = '/';
  else if (target.charAt(0) === '?') target = '/' + target;
  const at = authority.lastIndexOf('@');
  if (at >= 0) badUrl(url, 'credentials in URLs are not supported (they would be sent in clear in logs)');
  let host: string;
  let portText = '';
  if (authority.charAt(0) === '[') {
    const close = authority.indexOf(']');
    if (close < 0) badUrl(url, 'unterminated IPv6 literal');
    host = authority.substring(1, close);
    const after = authority.substring(close + 1);
    if (after !== '') {
      if (after.charAt(0) !== ':') badUrl(url, 'unexpected text after the IPv6 literal');
      portText = after.substring(1);
    }
  } else {
    const portColon = authority.lastIndexOf(':');
    host = portColon >= 0 ? authority.substring(0, portColon) : authority;
    portText = portColon >= 0 ? authority.substring(portColon + 1) : '';
  }
  host = host.toLowerCase();
  if (host === '') badUrl(url, 'no host');
  for (let i = 0; i < host.length; i++) {
    const code = host.charCodeAt(i);
    if (code <= 32 || code >= 127 || host.charAt(i) === '/' || host.charAt(i) === '\\') badUrl(url, 'invalid character in the host');
  }
  let port = scheme === 'https' ? 443 : 80;
  if (portText !== '') {
    if (!isDecimal(portText, 5) || Number(portText) < 1 || Number(portText) > 65535) badUrl(url, 'invalid port "' + portText + '"');
    port = Number(portText);
  }
  for (let i = 0; i < target.length; i++) {
    const code = target.charCodeAt(i);
    if (code <= 32 || code >= 127) badUrl(url, 'the path contains a space, control or non-ASCII character (percent-encode it)');
  }
  const bracketed = host.indexOf(':') >= 0 ? '[' + host + ']' : host;
  authority = (scheme === 'https' && port === 443) || (scheme === 'http' && port === 80) ? bracketed : bracketed + ':' + port;
  return { scheme: scheme as 'http' | 'https', host: host, port: port, target: target, authority: authority };
}

/** scheme://authority of a parsed URL: two URLs with the same origin may share a connection. */
export function originOf(url: HttpUrl): string {
  return url.scheme + '://' + url.authority;
}

function removeDotSegments(path: string): string {
  const input = path.split('/');
  const output: string[] = [];
  for (let i = 0; i < input.length; i++) {
    const segment = input[i];
    if (segment === '..') {
      if (output.length > 1) output.pop();
    } else if (segment !== '.') {
      output.push(segment);
    }
  }
  const last = input[input.length - 1];
  if (last === '.' || last === '..') output.push('');
  let joined = output.join('/');
  if (joined.charAt(0) !== '/') joined = '/' + joined;
  return joined;
}

/** Resolves `location` (absolute, scheme-relative, absolute-path or relative) against `base` (RFC 3986 §5.2). */
export function resolveUrl(base: HttpUrl, location: string): HttpUrl {
  const trimmed = location.trim();
  if (/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(trimmed)) return parseUrl(trimmed);
  const origin = originOf(base);
  if (trimmed.substring(0, 2) === '//') return parseUrl(base.scheme + ':' + trimmed);
  let ref = trimmed;
  const hash = ref.indexOf('#');
  if (hash >= 0) ref = ref.substring(0, hash);
  if (ref === '') return parseUrl(origin + base.target);
  if (ref.charAt(0) === '?') {
    const q = base.target.indexOf('?');
    return parseUrl(origin + (q >= 0 ? base.target.substring(0, q) : base.target) + ref);
  }
  const query = ref.indexOf('?');
  const refPath = query >= 0 ? ref.substring(0, query) : ref;
  const refQuery = query >= 0 ? ref.substring(query) : '';
  let path: string;
  if (refPath.charAt(0) === '/') {
    path = refPath;
  } else {
    const basePathEnd = base.target.indexOf('?');
    const basePath = basePathEnd >= 0 ? base.target.substring(0, basePathEnd) : base.target;
    path = basePath.substring(0, basePath.lastIndexOf('/') + 1) + refPath;
  }
  return parseUrl(origin + removeDotSegments(path) + refQuery);
}
