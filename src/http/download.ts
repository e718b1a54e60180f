// Resumable ranged download: `Range: bytes=N-` with If-Range, strict checks of 206 answers, a restart from zero when
// the server sends the whole file (200) or refuses the range (416) — once, never in a loop — and a resume loop over
// dropped connections that asks the sink where to continue.
import { isDecimal } from '../util/text.js';
import type { Clock } from '../util/clock.js';
import { isOtaError, otaError } from '../util/errors.js';
import type { OtaError } from '../util/errors.js';
import type { HttpClient, HttpResponse } from './client.js';
import type { Header } from './headers.js';

/** Where downloaded bytes go. Chunks are only valid during the `write` call (or until its promise settles). */
export interface DownloadSink {
  /** Appends the next bytes of the payload. */
  write(chunk: Uint8Array): Promise<void> | void;
  /** Drops everything written so far: the server is sending the payload again from byte 0. */
  restart(): Promise<void> | void;
  /**
   * Where to resume after a dropped connection: bytes held durably (e.g. flushed to flash). The sink drops anything
   * written after that point, because the next write continues there. Without it, the resume loop continues after
   * the last byte written.
   */
  resumeOffset?(): number;
}

/** One ranged GET. */
export interface RangeRequest {
  url: string;
  /** Bytes already held (0 for a fresh download). */
  offset: number;
  /** Expected total size when known (from the device API), else -1 or absent. */
  size?: number;
  /** Validator of the bytes held: ETag (preferred) or Last-Modified from an earlier answer; sent as If-Range. */
  etag?: string;
  lastModified?: string;
  /** Extra request headers (never Range/If-Range: the downloader owns them). */
  headers?: Header[];
  /** Called once the answer was checked, before its body: where the body starts and the validators to keep. */
  onStart?(info: RangeStart): Promise<void> | void;
}

/** The checked head of a download answer. */
export interface RangeStart {
  /** 200 or 206. */
  status: number;
  /** Payload offset of the first body byte (0 after a restart). */
  offset: number;
  /** Total payload size, or -1 when the server did not say. */
  total: number;
  etag?: string;
  lastModified?: string;
}

/** What a finished download learned; keep the validators with the bytes for the next resume. */
export interface DownloadResult {
  /** Total payload size. */
  size: number;
  /** Body bytes received by this call (0 when the offset already equalled the size). */
  received: number;
  /** True when the server sent the payload from byte 0 again (a 200 to a ranged request, or after a 416). */
  restarted: boolean;
  /** Validators of the response, for If-Range next time. */
  etag?: string;
  lastModified?: string;
  /** The final URL (after redirects). */
  url: string;
  /** HTTP status of the answer whose body was read (200 or 206), or 0 when nothing was requested. */
  status: number;
}

interface ContentRange {
  start: number;
  end: number;
  total: number;
}

/** Why a 206 answer to "Range: bytes=offset-" cannot be placed, in words (downloadRange has found that it cannot). */
function rangeProblem(offset: number, header: string | undefined, range: ContentRange | null, knownSize: number, contentLength: number): string {
  if (range === null) {
    return offset === 0 && header === undefined ? 'a 206 without Content-Range'
      : 'Content-Range "' + (header !== undefined ? header.substring(0, 60) : '') + '" is missing or malformed';
  }
  if (range.start !== offset) return 'it starts at byte ' + range.start + ' instead of ' + offset;
  if (range.total < 0) return 'it does not state the total size';
  if (knownSize >= 0 && range.total !== knownSize) return 'its total ' + range.total + ' differs from the expected size ' + knownSize;
  if (range.end !== range.total - 1) return 'it ends at byte ' + range.end + ' instead of the last byte ' + (range.total - 1);
  return 'its Content-Length ' + contentLength + ' does not match the range';
}

/** Parses "bytes a-b/total" or the unsatisfied form with an asterisk (start -1 then); null when malformed. */
export function parseContentRange(value: string): ContentRange | null {
  const text = value.trim();
  if (text.substring(0, 6).toLowerCase() !== 'bytes ') return null;
  const rest = text.substring(6).replace(/^\s+/, '');
  const slash = rest.indexOf('/');
  if (slash < 0) return null;
  const range = rest.substring(0, slash);
  const totalText = rest.substring(slash + 1);
  if (totalText !== '*' && !isDecimal(totalText, 15)) return null;
  const total = totalText === '*' ? -1 : Number(totalText);
  if (range === '*') return { start: -1, end: -1, total: total };
  const dash = range.indexOf('-');
  if (dash < 0 || !isDecimal(range.substring(0, dash), 15) || !isDecimal(range.substring(dash + 1), 15)) return null;
  const start = Number(range.substring(0, dash));
  const end = Number(range.substring(dash + 1));
  if (end < start || (total >= 0 && end >= total)) return null;
  return { start: start, end: end, total: total };
}

function strongEtag(etag: string | undefined): string | undefined {
  // If-Range needs a strong validator (RFC 9110 §13.1.5); a weak ETag would let mixed versions through.
  if (etag === undefined || etag.substring(0, 2) === 'W/') return undefined;
  return etag;
}

function statusError(response: HttpResponse, url: string): OtaError {
  const status = response.status;
  const retryAfter = response.header('retry-after');
  // Scheme, host and path only: the query of a signed CDN link is a credential valid for hours, and details reach
  // events and logs.
  const details: { [key: string]: unknown } = { status: status, url: url.split('?')[0].split('#')[0] };
  if (retryAfter !== undefined) details.retryAfter = retryAfter;
  if (status === 403 || status === 404 || status === 410 || status === 401) {
    return otaError('download-url-rejected', 'The payload server answered ' + status + ' for the download URL; the link has probably expired or been revoked. Ask the device API for a fresh URL.', true, details);
  }
  if (status === 408 || status === 429 || status >= 500) {
    return otaError('download-server-busy', 'The payload server answered ' + status + (retryAfter !== undefined ? ' (Retry-After: ' + retryAfter + ')' : '') + '; retry later, resuming where the data stopped.', true, details);
  }
  return otaError('download-bad-status', 'The payload server answered ' + status + ' ' + response.reason + ' to a download request; expected 200 or 206.', false, details);
}

function callSink(result: Promise<void> | void): Promise<void> {
  return result !== undefined && result !== null && typeof (result as Promise<void>).then === 'function' ? result as Promise<void> : Promise.resolve();
}

/**
 * Downloads `request.url` from `request.offset` into `sink`. A 206 must start at the offset and agree on the size;
 * a 200 restarts from zero (the sink is told); a 416 restarts from zero once, or completes when it says the payload
 * is exactly `offset` long; an offset equal to a known size returns at once with nothing requested.
 */
export function downloadRange(client: HttpClient, request: RangeRequest, sink: DownloadSink): Promise<DownloadResult> {
  const knownSize = request.size !== undefined && request.size >= 0 ? request.size : -1;
  if (knownSize >= 0 && request.offset === knownSize) {
    return Promise.resolve({ size: knownSize, received: 0, restarted: false, etag: request.etag, lastModified: request.lastModified, url: request.url, status: 0 });
  }
  const started = function (offset: number, total: number, etag: string | undefined, lastModified: string | undefined, status: number): Promise<void> {
    if (typeof request.onStart !== 'function') return Promise.resolve();
    return callSink(request.onStart({ status: status, offset: offset, total: total, etag: etag, lastModified: lastModified }));
  };
  const attempt = function (offset: number, restarted: boolean): Promise<DownloadResult> {
    const headers: Header[] = [];
    const extra = request.headers !== undefined ? request.headers : [];
    for (let i = 0; i < extra.length; i++) {
      const lower = extra[i].name.toLowerCase();
      if (lower !== 'range' && lower !== 'if-range') headers.push(extra[i]);
    }
    if (offset > 0) {
      headers.push({ name: 'Range', value: 'bytes=' + offset + '-' });
      const validator = strongEtag(request.etag) !== undefined ? request.etag : request.lastModified;
      if (validator !== undefined) headers.push({ name: 'If-Range', value: validator as string });
    }
    return client.open({ method: 'GET', url: request.url, headers: headers }).then((response) => {
      const etag = response.header('etag');
      const lastModified = response.header('last-modified');
      const result = function (size: number, received: number, didRestart: boolean): DownloadResult {
        return { size: size, received: received, restarted: didRestart, etag: etag, lastModified: lastModified, url: response.url, status: response.status };
      };
      if (response.status === 416) {
        const range = parseContentRange(response.header('content-range') || '');
        response.discard();
        if (offset > 0 && range !== null && range.start < 0 && range.total === offset && (knownSize < 0 || knownSize === offset)) {
          // The server says the payload is exactly as long as what is held: nothing is missing.
          return result(offset, 0, restarted);
        }
        if (offset === 0 || restarted) {
          throw otaError('download-range-not-satisfiable', 'The payload server answered 416 to ' + (offset === 0 ? 'a request from byte 0' : 'the range request even after restarting from byte 0') +
            '; it cannot serve this payload. Ask the device API for the release again.', false, { status: 416, offset: offset });
        }
        return callSink(sink.restart()).then(() => attempt(0, true));
      }
      if (response.status === 200) {
        const total = response.contentLength;
        if (knownSize >= 0 && total >= 0 && total !== knownSize) {
          response.discard();
          throw otaError('download-size-mismatch', 'The payload server sends ' + total + ' bytes but the release says ' + knownSize + '; the URL points at another file. Ask the device API again.', false, { expected: knownSize, found: total });
        }
        const fresh = offset > 0 ? callSink(sink.restart()) : Promise.resolve();
        return fresh.then(() => started(0, total, etag, lastModified, 200)).then(() => response.pipe((chunk) => sink.write(chunk))).then((received) => {
          const size = total >= 0 ? total : received;
          if (knownSize >= 0 && received !== knownSize) {
            throw otaError('download-size-mismatch', 'The payload server sent ' + received + ' bytes but the release says ' + knownSize + '.', false, { expected: knownSize, found: received });
          }
          return result(size, received, restarted || offset > 0);
        });
      }
      if (response.status === 206) {
        const header = response.header('content-range');
        const range = header !== undefined ? parseContentRange(header) : null;
        // The test and the words are kept apart so that the Espruino build, which keeps only error codes, drops the words.
        if (range === null || range.start !== offset || range.total < 0 || (knownSize >= 0 && range.total !== knownSize) ||
          range.end !== range.total - 1 || (response.contentLength >= 0 && response.contentLength !== range.end - range.start + 1)) {
          response.discard();
          throw otaError('download-bad-content-range', 'The payload server answered 206 to "Range: bytes=' + offset + '-" but ' +
            rangeProblem(offset, header, range, knownSize, response.contentLength) +
            '. The bytes cannot be placed safely; restart the download from 0 or fix the server.', false, { status: 206, offset: offset, contentRange: header });
        }
        const r = range as ContentRange;
        return started(offset, r.total, etag, lastModified, 206).then(() => response.pipe((chunk) => sink.write(chunk)).then((received) => {
          if (received !== r.end - r.start + 1) {
            throw otaError('http-truncated-body', 'The range ended after ' + received + ' of ' + (r.end - r.start + 1) + ' bytes; retry, resuming from the bytes kept.', true, { received: received });
          }
          return result(r.total, received, restarted);
        }));
      }
      const error = statusError(response, request.url);
      response.discard();
      throw error;
    });
  };
  const start = knownSize >= 0 && request.offset > knownSize ? 0 : request.offset;
  if (start !== request.offset) {
    return callSink(sink.restart()).then(() => attempt(0, true));
  }
  return attempt(start, false);
}

/** Options of the resume loop. */
export interface ResumeOptions {
  /** Dropped connections tolerated before giving up (default 5). */
  maxDrops?: number;
  /** Pause between attempts, doubled each time (default 500 ms). */
  retryDelayMs?: number;
  /** Clock for the pauses. */
  clock: Clock;
  /** Told about each drop before the retry (for logs). */
  onDrop?(error: OtaError, resumeAt: number): void;
}

/** Totals of a resumed download. */
export interface ResumedDownload extends DownloadResult {
  /** Connections that dropped and were resumed. */
  drops: number;
  /** Body bytes received over all attempts. */
  totalReceived: number;
}

/**
 * downloadRange, resumed after each retryable failure (drop, reset, timeout, 5xx) from the sink's resume offset,
 * up to `maxDrops` times, with the validators the first answer gave, so a changed file restarts instead of mixing.
 */
export function downloadWithResume(client: HttpClient, request: RangeRequest, sink: DownloadSink, options: ResumeOptions): Promise<ResumedDownload> {
  const maxDrops = options.maxDrops !== undefined ? options.maxDrops : 5;
  const baseDelay = options.retryDelayMs !== undefined ? options.retryDelayMs : 500;
  let drops = 0;
  let totalReceived = 0;
  let written = request.offset;
  let etag = request.etag;
  let lastModified = request.lastModified;
  let size = request.size !== undefined ? request.size : -1;
  let restartedAny = false;
  const counting: DownloadSink = {
    write: (chunk: Uint8Array) => {
      written += chunk.length;
      totalReceived += chunk.length;
      return sink.write(chunk);
    },
    restart: () => {
      written = 0;
      restartedAny = true;
      return sink.restart();
    },
  };
  const onStart = (info: RangeStart): Promise<void> | void => {
    // The first answer's validators pin the file for every resume after it: a changed file restarts, never mixes.
    if (info.etag !== undefined) etag = info.etag;
    if (info.lastModified !== undefined) lastModified = info.lastModified;
    if (info.total >= 0) size = info.total;
    return typeof request.onStart === 'function' ? request.onStart(info) : undefined;
  };
  return new Promise<ResumedDownload>((resolve, reject) => {
    let go: (offset: number) => void = () => undefined;
    const failed = (error: unknown): void => {
      if (!isOtaError(error) || !error.retryable || drops >= maxDrops) {
        reject(error);
        return;
      }
      drops++;
      const resumeAt = typeof sink.resumeOffset === 'function' ? sink.resumeOffset() : written;
      written = resumeAt;
      if (options.onDrop) options.onDrop(error, resumeAt);
      options.clock.sleep(baseDelay * Math.pow(2, drops - 1)).then(() => go(resumeAt));
    };
    go = (offset: number): void => {
      downloadRange(client, { url: request.url, offset: offset, size: size, etag: etag, lastModified: lastModified, headers: request.headers, onStart: onStart }, counting)
        .then((result) => {
          resolve({
            size: result.size, received: result.received, restarted: restartedAny, etag: result.etag, lastModified: result.lastModified,
            url: result.url, status: result.status, drops: drops, totalReceived: totalReceived,
          });
        }, failed);
    };
    go(request.offset);
  });
}
