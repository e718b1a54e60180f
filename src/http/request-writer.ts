// Serialises an HTTP/1.1 request head. Bodies are written separately, so a large body is never copied into the head.
import { asciiToBytes } from '../util/bytes.js';
import { otaError } from '../util/errors.js';
import { checkHeader, isTokenChar } from './headers.js';
import type { Header } from './headers.js';
import type { HttpUrl } from './url.js';

/** What the writer adds unless the caller set it. */
export interface RequestDefaults {
  userAgent?: string;
  /** False sends `Connection: close`. */
  keepAlive: boolean;
}

function has(headers: Header[], lower: string): boolean {
  for (let i = 0; i < headers.length; i++) if (headers[i].name.toLowerCase() === lower) return true;
  return false;
}

/**
 * The head of `method url`, with Host, `Accept-Encoding: identity` (offsets must be byte offsets of the payload),
 * Content-Length when a body is sent, and the caller's headers. Throws `http-bad-header` / `http-bad-method`.
 */
export function writeRequestHead(method: string, url: HttpUrl, headers: Header[], bodyLength: number, defaults: RequestDefaults): Uint8Array {
  let ok = method.length > 0;
  for (let i = 0; ok && i < method.length; i++) ok = isTokenChar(method.charCodeAt(i));
  if (!ok) throw otaError('http-bad-method', 'HTTP method "' + method + '" is not a token.', false);
  for (let i = 0; i < headers.length; i++) {
    const lower = headers[i].name.toLowerCase();
    if (lower === 'host' || lower === 'content-length' || lower === 'transfer-encoding') {
      throw otaError('http-bad-header', 'Header "' + headers[i].name + '" is set by the client itself; leave it out.', false, { name: headers[i].name });
    }
    checkHeader(headers[i].name, headers[i].value);
  }
  let head = method + ' ' + url.target + ' HTTP/1.1\r\nHost: ' + url.authority + '\r\n';
  if (defaults.userAgent !== undefined && !has(headers, 'user-agent')) head += 'User-Agent: ' + defaults.userAgent + '\r\n';
  if (!has(headers, 'accept-encoding')) head += 'Accept-Encoding: identity\r\n';
  if (!defaults.keepAlive && !has(headers, 'connection')) head += 'Connection: close\r\n';
  if (bodyLength > 0 || method === 'POST' || method === 'PUT' || method === 'PATCH') head += 'Content-Length: ' + bodyLength + '\r\n';
  for (let i = 0; i < headers.length; i++) head += headers[i].name + ': ' + headers[i].value + '\r\n';
  return asciiToBytes(head + '\r\n');
}
