// Incremental HTTP/1.1 response parser. Bytes go in as they arrive, split anywhere; out come the head, body ranges
// (views into the caller's chunk, never copies) and the end of the message. Memory is bounded by the head limit:
// the head and trailers are the only things ever buffered. Every malformed input ends in an OtaError.
import { isDecimal } from '../util/text.js';
import { bytesToAscii } from '../util/bytes.js';
import { otaError } from '../util/errors.js';
import type { OtaError } from '../util/errors.js';
import { headerHasToken, headerValues, isTokenChar } from './headers.js';
import type { Header } from './headers.js';

/** Limits on what the parser buffers. */
export interface ParserLimits {
  /** Bytes of status line plus headers (and, separately, of trailers). Default 16 KiB. */
  maxHeadBytes: number;
  /** Header fields in the head (and, separately, in trailers). Default 100. */
  maxHeaders: number;
}

/** Default limits: 16 KiB and 100 headers. */
export const DEFAULT_PARSER_LIMITS: ParserLimits = { maxHeadBytes: 16384, maxHeaders: 100 };

/** A parsed status line and headers. */
export interface ResponseHead {
  /** Minor version: 1 for HTTP/1.1, 0 for HTTP/1.0. */
  minor: number;
  status: number;
  reason: string;
  headers: Header[];
}

/** How the body is delimited. */
export type BodyFraming = 'none' | 'length' | 'chunked' | 'close';

/** Nothing complete yet: feed more bytes. */
export const EVENT_NEED_MORE = 0;
/** `head` is ready (1xx interim responses are skipped). */
export const EVENT_HEAD = 1;
/** Body bytes are at [bodyStart, bodyEnd) of the chunk just fed. */
export const EVENT_BODY = 2;
/** The message ended; trailers (if any) are in `trailers`. */
export const EVENT_DONE = 3;

const S_HEAD = 0;
const S_LENGTH = 1;
const S_CLOSE = 2;
const S_CHUNK_SIZE = 3;
const S_CHUNK_EXT = 4;
const S_CHUNK_SIZE_LF = 5;
const S_CHUNK_DATA = 6;
const S_CHUNK_DATA_CR = 7;
const S_CHUNK_DATA_LF = 8;
const S_TRAILERS = 9;
const S_DONE = 10;

const MAX_CHUNK_EXT = 1024;
const MAX_INTERIM = 8;

function parseError(code: string, message: string, details?: { [key: string]: unknown }): OtaError {
  return otaError(code, message, false, details);
}

/** Parses one response; `reset()` prepares for the next on a kept-alive connection. */
export class ResponseParser {
  /** The head, once EVENT_HEAD was returned. */
  head: ResponseHead | null = null;
  /** Trailer fields of a chunked body, once EVENT_DONE was returned. */
  trailers: Header[] = [];
  framing: BodyFraming = 'none';
  /** Body bytes of the last EVENT_BODY. */
  bodyStart = 0;
  bodyEnd = 0;
  /** Total body bytes delivered so far. */
  bodyBytes = 0;
  /** Content-Length of the message, or -1. */
  contentLength = -1;
  /** Whether the connection may carry another request after this message. */
  keepAlive = false;

  private state = S_HEAD;
  private buf: Uint8Array;
  private used = 0;
  private lineLength = 0;
  private lines = 0;
  private remaining = 0;
  private chunkDigits = 0;
  private chunkExt = 0;
  private interim = 0;
  private blankLines = 0;
  private readonly limits: ParserLimits;
  private noBody: boolean;

  /** `noBodyExpected` is true for HEAD requests, whose responses never carry a body. */
  constructor(limits: ParserLimits, noBodyExpected: boolean) {
    this.limits = limits;
    this.noBody = noBodyExpected;
    this.buf = new Uint8Array(limits.maxHeadBytes < 1024 ? limits.maxHeadBytes : 1024);
  }

  /** Prepares for the next response on the same connection. */
  reset(noBodyExpected: boolean): void {
    this.noBody = noBodyExpected;
    this.head = null;
    this.trailers = [];
    this.framing = 'none';
    this.bodyBytes = 0;
    this.contentLength = -1;
    this.keepAlive = false;
    this.state = S_HEAD;
    this.used = 0;
    this.lineLength = 0;
    this.lines = 0;
    this.interim = 0;
    this.blankLines = 0;
  }

  /** True once the whole message was parsed. */
  done(): boolean {
    return this.state === S_DONE;
  }

  /**
   * Consumes bytes of `data` from `start` (before `end`) up to the next event; returns the position after the bytes
   * consumed, and leaves the event in `event`. Throws an OtaError on malformed input.
   */
  execute(data: Uint8Array, start: number, end: number): number {
    let pos = start;
    this.event = EVENT_NEED_MORE;
    if (this.state === S_DONE) {
      this.event = EVENT_DONE;
      return pos;
    }
    while (pos < end) {
      const state = this.state;
      if (state === S_LENGTH || state === S_CHUNK_DATA) {
        const take = end - pos < this.remaining ? end - pos : this.remaining;
        this.bodyStart = pos;
        this.bodyEnd = pos + take;
        this.remaining -= take;
        this.bodyBytes += take;
        if (this.remaining === 0) this.state = state === S_LENGTH ? S_DONE : S_CHUNK_DATA_CR;
        this.event = EVENT_BODY;
        return pos + take;
      }
      if (state === S_CLOSE) {
        this.bodyStart = pos;
        this.bodyEnd = end;
        this.bodyBytes += end - pos;
        this.event = EVENT_BODY;
        return end;
      }
      if (state === S_HEAD || state === S_TRAILERS) {
        pos = this.scanHead(data, pos, end);
        if (this.event !== EVENT_NEED_MORE) return pos;
      } else {
        pos = this.chunkFraming(data[pos], pos);
      }
    }
    return pos;
  }

  /** The event of the last execute(). */
  event = EVENT_NEED_MORE;

  /** Call at end of stream: completes a close-delimited body, else throws because the message is cut short. */
  finish(): void {
    if (this.state === S_CLOSE) {
      this.state = S_DONE;
      this.event = EVENT_DONE;
      return;
    }
    if (this.state === S_DONE) return;
    if (this.state === S_HEAD && this.used === 0 && this.head === null) {
      throw otaError('http-no-response', 'The server closed the connection without sending a response; retry.', true);
    }
    if (this.state === S_HEAD) {
      throw otaError('http-truncated-head', 'The connection ended inside the response head after ' + this.used + ' bytes; retry.', true, { received: this.used });
    }
    throw otaError('http-truncated-body', 'The connection ended after ' + this.bodyBytes + ' body bytes' +
      (this.contentLength >= 0 ? ' of ' + this.contentLength : '') + ' (' + this.framing + ' framing); retry, resuming from the bytes kept.', true,
    { received: this.bodyBytes, expected: this.contentLength, framing: this.framing });
  }

  private grow(): boolean {
    const max = this.limits.maxHeadBytes;
    if (this.buf.length >= max) return false;
    const next = new Uint8Array(this.buf.length * 2 < max ? this.buf.length * 2 : max);
    next.set(this.buf.subarray(0, this.used));
    this.buf = next;
    return true;
  }

  // Copies head (or trailer) bytes until an empty line; counts lines to enforce the limits early.
  private scanHead(data: Uint8Array, start: number, end: number): number {
    let pos = start;
    const trailers = this.state === S_TRAILERS;
    while (pos < end) {
      const byte = data[pos++];
      if (this.used >= this.buf.length && !this.grow()) {
        throw parseError('http-head-too-large', (trailers ? 'Trailers' : 'The response head') + ' exceed ' + this.limits.maxHeadBytes +
          ' bytes; the server sent more than this client accepts (raise maxHeadBytes if the server is trusted).', { limit: this.limits.maxHeadBytes });
      }
      this.buf[this.used++] = byte;
      if (byte === 10) {
        const empty = this.lineLength === 0;
        this.lineLength = 0;
        if (empty && (this.lines > 0 || trailers)) {
          if (trailers) this.finishTrailers();
          else this.finishHead();
          return pos;
        }
        if (empty) {
          // Tolerate a few blank lines before the status line (RFC 9112 §2.2), but not forever.
          this.used = 0;
          this.blankLines++;
          if (this.blankLines > 4) throw parseError('http-bad-status-line', 'Expected a status line, found only empty lines.');
          continue;
        }
        this.lines++;
        if (this.lines > this.limits.maxHeaders + (trailers ? 0 : 1)) {
          throw parseError('http-too-many-headers', 'The response has more than ' + this.limits.maxHeaders + (trailers ? ' trailer fields' : ' header fields') +
            '; this client accepts at most that many (raise maxHeaders if the server is trusted).', { limit: this.limits.maxHeaders });
        }
      } else if (byte !== 13) {
        this.lineLength++;
      }
    }
    return pos;
  }

  private lineList(): string[] {
    const text = bytesToAscii(this.buf, 0, this.used);
    const raw = text.split('\n');
    const lines: string[] = [];
    for (let i = 0; i < raw.length; i++) {
      let line = raw[i];
      if (line.length > 0 && line.charAt(line.length - 1) === '\r') line = line.substring(0, line.length - 1);
      if (line.length > 0) lines.push(line);
    }
    return lines;
  }

  private parseFields(lines: string[], first: number): Header[] {
    const headers: Header[] = [];
    for (let i = first; i < lines.length; i++) {
      const line = lines[i];
      const first0 = line.charCodeAt(0);
      if (first0 === 32 || first0 === 9) {
        throw parseError('http-bad-header', 'Header line ' + i + ' is folded (starts with whitespace); obsolete line folding is not accepted.', { line: i });
      }
      const colon = line.indexOf(':');
      if (colon <= 0) throw parseError('http-bad-header', 'Header line ' + i + ' has no name or no colon.', { line: i });
      for (let k = 0; k < colon; k++) {
        if (!isTokenChar(line.charCodeAt(k))) throw parseError('http-bad-header', 'Header line ' + i + ' has an invalid character in its name.', { line: i });
      }
      const value = line.substring(colon + 1).trim();
      for (let k = 0; k < value.length; k++) {
        const code = value.charCodeAt(k);
        if ((code < 32 && code !== 9) || code === 127) throw parseError('http-bad-header', 'Header "' + line.substring(0, colon) + '" has a control character in its value.', { line: i });
      }
      headers.push({ name: line.substring(0, colon), value: value });
    }
    return headers;
  }

  private finishHead(): void {
    const lines = this.lineList();
    const status = lines[0];
    if (status.substring(0, 7) !== 'HTTP/1.' || status.length < 12 || status.charAt(8) !== ' ' ||
      (status.length > 12 && status.charAt(12) !== ' ')) {
      throw parseError('http-bad-status-line', 'Expected a status line like "HTTP/1.1 200 OK", found "' + status.substring(0, 40).replace(/[^\x20-\x7e]/g, '?') + '".');
    }
    const minorChar = status.charCodeAt(7);
    const statusText = status.substring(9, 12);
    if (!/^[1-9][0-9][0-9]$/.test(statusText) || minorChar < 48 || minorChar > 57) {
      throw parseError('http-bad-status-line', 'The status line "' + status.substring(0, 40).replace(/[^\x20-\x7e]/g, '?') + '" has no valid version or 3-digit status.');
    }
    const head: ResponseHead = {
      minor: minorChar - 48,
      status: Number(statusText),
      reason: status.length > 13 ? status.substring(13) : '',
      headers: this.parseFields(lines, 1),
    };
    this.used = 0;
    this.lines = 0;
    this.lineLength = 0;
    if (head.status >= 100 && head.status < 200) {
      if (head.status === 101) throw parseError('http-unexpected-upgrade', 'The server switched protocols (101) although none was requested.');
      this.interim++;
      if (this.interim > MAX_INTERIM) throw parseError('http-too-many-interim', 'The server sent more than ' + MAX_INTERIM + ' interim (1xx) responses.');
      return this.continueAfterInterim();
    }
    this.head = head;
    this.decideFraming(head);
    this.event = EVENT_HEAD;
  }

  private continueAfterInterim(): void {
    // An interim response has no body; parsing resumes with the next status line in the same state.
    this.event = EVENT_NEED_MORE;
  }

  private decideFraming(head: ResponseHead): void {
    const status = head.status;
    const te = headerValues(head.headers, 'transfer-encoding');
    const cl = headerValues(head.headers, 'content-length');
    const closeRequested = head.minor === 0 ? !headerHasToken(head.headers, 'connection', 'keep-alive') : headerHasToken(head.headers, 'connection', 'close');
    this.keepAlive = !closeRequested;
    if (cl !== undefined) {
      const parts = cl.split(',');
      let length = -1;
      for (let i = 0; i < parts.length; i++) {
        const text = parts[i].trim();
        if (!isDecimal(text, 15)) throw parseError('http-bad-content-length', 'Content-Length "' + cl.substring(0, 40) + '" is not a decimal byte count.');
        const value = Number(text);
        if (length >= 0 && value !== length) throw parseError('http-bad-content-length', 'Conflicting Content-Length values "' + cl.substring(0, 60) + '".');
        length = value;
      }
      this.contentLength = length;
    }
    if (this.noBody || status === 204 || status === 304) {
      this.framing = 'none';
      this.state = S_DONE;
      return;
    }
    if (te !== undefined) {
      const codings = te.toLowerCase().split(',');
      const last = codings[codings.length - 1].trim();
      for (let i = 0; i < codings.length; i++) {
        const coding = codings[i].trim();
        if (coding !== 'chunked' && coding !== 'identity') {
          throw parseError('http-unsupported-transfer-coding', 'Transfer-Encoding "' + te.substring(0, 40) + '" is not supported; this client decodes only chunked (it asks for identity content).');
        }
      }
      if (last !== 'chunked') throw parseError('http-bad-transfer-coding', 'Transfer-Encoding "' + te.substring(0, 40) + '" does not end in chunked, so the body has no defined end.');
      // Transfer-Encoding wins over Content-Length (RFC 9112 §6.3); the length is not trusted then.
      this.contentLength = -1;
      this.framing = 'chunked';
      this.state = S_CHUNK_SIZE;
      this.remaining = 0;
      this.chunkDigits = 0;
      return;
    }
    if (this.contentLength >= 0) {
      this.framing = 'length';
      this.remaining = this.contentLength;
      this.state = this.contentLength === 0 ? S_DONE : S_LENGTH;
      return;
    }
    this.framing = 'close';
    this.keepAlive = false;
    this.state = S_CLOSE;
  }

  // One byte of chunk framing (size line, extensions, CRLF after data).
  private chunkFraming(byte: number, pos: number): number {
    const state = this.state;
    if (state === S_CHUNK_SIZE) {
      let digit = -1;
      if (byte >= 48 && byte <= 57) digit = byte - 48;
      else if (byte >= 97 && byte <= 102) digit = byte - 87;
      else if (byte >= 65 && byte <= 70) digit = byte - 55;
      if (digit >= 0) {
        if (this.chunkDigits >= 12) throw parseError('http-bad-chunk', 'A chunk size has more than 12 hex digits; refusing a chunk that large.');
        this.remaining = this.remaining * 16 + digit;
        this.chunkDigits++;
        return pos + 1;
      }
      if (this.chunkDigits === 0) throw parseError('http-bad-chunk', 'Expected a hex chunk size, found byte ' + byte + '.');
      if (byte === 59 || byte === 32 || byte === 9) {
        this.state = S_CHUNK_EXT;
        this.chunkExt = 0;
        return pos + 1;
      }
      if (byte === 13) {
        this.state = S_CHUNK_SIZE_LF;
        return pos + 1;
      }
      if (byte === 10) return this.startChunk(pos + 1);
      throw parseError('http-bad-chunk', 'Unexpected byte ' + byte + ' after a chunk size.');
    }
    if (state === S_CHUNK_EXT) {
      if (byte === 10) return this.startChunk(pos + 1);
      if (byte === 13) {
        this.state = S_CHUNK_SIZE_LF;
        return pos + 1;
      }
      this.chunkExt++;
      if (this.chunkExt > MAX_CHUNK_EXT || byte === 0) throw parseError('http-bad-chunk', 'A chunk extension is longer than ' + MAX_CHUNK_EXT + ' bytes or holds NUL.');
      return pos + 1;
    }
    if (state === S_CHUNK_SIZE_LF) {
      if (byte !== 10) throw parseError('http-bad-chunk', 'Expected LF after CR in a chunk size line, found byte ' + byte + '.');
      return this.startChunk(pos + 1);
    }
    if (state === S_CHUNK_DATA_CR) {
      if (byte === 13) {
        this.state = S_CHUNK_DATA_LF;
        return pos + 1;
      }
      if (byte === 10) {
        this.beginSize();
        return pos + 1;
      }
      throw parseError('http-bad-chunk', 'Expected CRLF after chunk data, found byte ' + byte + '; the chunk size does not match its data.');
    }
    if (state === S_CHUNK_DATA_LF) {
      if (byte !== 10) throw parseError('http-bad-chunk', 'Expected LF after chunk data, found byte ' + byte + '.');
      this.beginSize();
      return pos + 1;
    }
    throw parseError('http-parser-state', 'Internal parser state ' + state + ' reached unexpectedly.');
  }

  private beginSize(): void {
    this.state = S_CHUNK_SIZE;
    this.remaining = 0;
    this.chunkDigits = 0;
  }

  private startChunk(pos: number): number {
    if (this.remaining === 0) {
      this.state = S_TRAILERS;
      this.used = 0;
      this.lines = 0;
      this.lineLength = 0;
      return pos;
    }
    this.state = S_CHUNK_DATA;
    return pos;
  }

  private finishTrailers(): void {
    this.trailers = this.parseFields(this.lineList(), 0);
    this.used = 0;
    this.state = S_DONE;
    this.event = EVENT_DONE;
  }
}
