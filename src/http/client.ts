// HTTP/1.1 client over a Transport: keep-alive reuse, redirects, timeouts on an injected Clock, and bodies pumped
// into a caller's sink one read at a time (the next read starts only when the sink is done: back-pressure).
import type { Clock } from '../util/clock.js';
import { concatBytes } from '../util/bytes.js';
import { isOtaError, otaError, toOtaError } from '../util/errors.js';
import type { OtaError } from '../util/errors.js';
import { headerValue, withoutHeaders } from './headers.js';
import type { Header } from './headers.js';
import { writeRequestHead } from './request-writer.js';
import {
  DEFAULT_PARSER_LIMITS, EVENT_BODY, EVENT_DONE, EVENT_HEAD, ResponseParser,
} from './response-parser.js';
import type { ResponseHead } from './response-parser.js';
import type { Connection, ConnectionInfo, Transport } from './transport.js';
import { loggableUrl, originOf, parseUrl, resolveUrl } from './url.js';
import type { HttpUrl } from './url.js';
import { Watchdog } from './watchdog.js';
import type { Timeouts } from './watchdog.js';

/** Options of an HttpClient. Every number has a default; none is required but the transport and clock. */
export interface HttpClientOptions {
  /** Opens https:// connections (and http:// ones too unless `plainTransport` is given). */
  transport: Transport;
  /** Opens http:// connections, e.g. a TCP transport beside a TLS one. */
  plainTransport?: Transport;
  /** Time for all timeouts; tests pass a VirtualClock. */
  clock: Clock;
  /** Trusted roots (DER) passed to the transport for https; the transport's own default when absent. */
  ca?: Uint8Array[];
  /** Default 10 000 ms. */
  connectTimeoutMs?: number;
  /** Longest wait for the next bytes while reading; default 30 000 ms. */
  idleTimeoutMs?: number;
  /** Whole request, redirects and body included; default 0 (none): downloads are bounded by the idle timeout. */
  requestTimeoutMs?: number;
  /** Largest piece handed to a sink at once (the working buffer); 1 KiB to 1 MiB, default 16 KiB. */
  bufferSize?: number;
  /** Limit on the response head and on trailers; default 16 KiB. */
  maxHeadBytes?: number;
  /** Limit on header fields; default 100. */
  maxHeaders?: number;
  /** Redirects followed by default; default 5 (per request: `maxRedirects`). */
  maxRedirects?: number;
  /** Sent as User-Agent unless the request sets one. */
  userAgent?: string;
  /** Reuse connections (default true). */
  keepAlive?: boolean;
}

/** One request. */
export interface HttpRequest {
  /** Default GET. */
  method?: string;
  url: string;
  headers?: Header[];
  body?: Uint8Array;
  /** Redirects to follow; 0 returns the 3xx response itthis. Defaults to the client's. */
  maxRedirects?: number;
  /** Override the client's timeouts for this request. */
  connectTimeoutMs?: number;
  idleTimeoutMs?: number;
  requestTimeoutMs?: number;
}

/** Receives body bytes. `chunk` is only valid until the returned promise settles (or the call returns): copy to keep. */
export type BodySink = (chunk: Uint8Array) => Promise<void> | void;

/** A complete, bounded response from `request()`. */
export interface HttpResult {
  status: number;
  reason: string;
  headers: Header[];
  /** The final URL after redirects. */
  url: string;
  body: Uint8Array;
}

const REDIRECTS = [301, 302, 303, 307, 308];
const SENSITIVE = ['authorization', 'proxy-authorization', 'cookie', 'memfault-project-key'];
const DRAIN_LIMIT = 16384;

interface Pooled {
  key: string;
  connection: Connection;
}

function isIdempotent(method: string): boolean {
  return method === 'GET' || method === 'HEAD' || method === 'PUT' || method === 'DELETE' || method === 'OPTIONS';
}

/** A response whose head has arrived; the body is read with `pipe`, `readAll`, or dropped with `discard`. */
export class HttpResponse {
  status: number;
  reason: string;
  headers: Header[];
  /** The URL that produced this response (after redirects). */
  url: string;
  /** Redirects followed to get here. */
  redirects: number;
  /** Facts about the connection (TLS version, cipher, SNI). */
  connectionInfo: ConnectionInfo | undefined;
  /** Body framing: 'length', 'chunked', 'close' or 'none'. */
  framing: string;
  /** Content-Length, or -1. */
  contentLength: number;
  private readonly client: HttpClient;
  private readonly connection: Connection;
  private readonly parser: ResponseParser;
  private readonly watchdog: Watchdog;
  private readonly poolKey: string;
  private readonly bufferSize: number;
  private chunk: Uint8Array | null;
  private pos: number;
  private finished = false;
  private busy = false;

  /** Made by HttpClient.open; not for direct use. */
  constructor(client: HttpClient, connection: Connection, parser: ResponseParser, watchdog: Watchdog, url: HttpUrl, redirects: number,
    chunk: Uint8Array | null, pos: number, bufferSize: number) {
    const head = parser.head as ResponseHead;
    this.status = head.status;
    this.reason = head.reason;
    this.headers = head.headers;
    this.url = url.scheme + '://' + url.authority + url.target;
    this.redirects = redirects;
    this.connectionInfo = connection.info;
    this.framing = parser.framing;
    this.contentLength = parser.contentLength;
    this.client = client;
    this.connection = connection;
    this.parser = parser;
    this.watchdog = watchdog;
    this.poolKey = originOf(url);
    this.chunk = chunk;
    this.pos = pos;
    this.bufferSize = bufferSize;
    if (parser.done()) this.complete();
  }

  /** The first header called `name` (any case), or undefined. */
  header(name: string): string | undefined {
    return headerValue(this.headers, name);
  }

  /** Trailer fields of a chunked body (after the body was read). */
  trailers(): Header[] {
    return this.parser.trailers;
  }

  /** Body bytes delivered so far. */
  bodyBytes(): number {
    return this.parser.bodyBytes;
  }

  private complete(): void {
    if (this.finished) return;
    this.finished = true;
    this.watchdog.stop();
    const leftover = this.chunk !== null && this.pos < this.chunk.length;
    if (this.parser.keepAlive && !leftover) this.client.release(this.poolKey, this.connection);
    else this.connection.close();
  }

  /** Closes the connection without reading the rest of the body. */
  discard(): void {
    if (this.finished) return;
    this.finished = true;
    this.watchdog.stop();
    this.connection.close();
  }

  /**
   * Pumps the body into `sink` in pieces of at most the client's buffer size; resolves with the body length once
   * the message ended. One read is in flight at a time, and the next starts only after the sink finished.
   */
  pipe(sink: BodySink): Promise<number> {
    if (this.busy) return Promise.reject(otaError('http-body-busy', 'The body is already being read.', false));
    if (this.finished) {
      return this.parser.done() ? Promise.resolve(this.parser.bodyBytes)
        : Promise.reject(otaError('http-body-discarded', 'The body was discarded; it cannot be read any more.', false));
    }
    if (this.watchdog.tripped !== null) {
      // Timed out between open() and pipe(): the connection is already closed, so the head's bytes are stale.
      const tripped = this.watchdog.tripped;
      this.discard();
      return Promise.reject(tripped);
    }
    this.busy = true;
    const parser = this.parser;
    const watchdog = this.watchdog;
    const connection = this.connection;
    const limit = this.bufferSize;
    const hasReadNow = typeof connection.readNow === 'function';
    return new Promise<number>((resolve, reject) => {
      let pieceStart = 0;
      let pieceEnd = 0;
      let failed = false;
      let failure: unknown = null;
      // A sink write in flight may hold a view into the current chunk, which close() lets the transport recycle: a
      // timeout meanwhile closes the connection and rejects only once that write settled (also so the caller never
      // starts another write into the same sink while this one runs).
      let sinkBusy = false;
      const finishFailure = (): void => {
        this.busy = false;
        const tripped = watchdog.tripped;
        this.discard();
        reject(tripped !== null ? tripped : toOtaError(failure, 'http-body-failed', true));
      };
      const fail = (error: unknown): void => {
        if (failed) return;
        failed = true;
        failure = error;
        if (!sinkBusy) finishFailure();
      };
      let onChunk: (data: Uint8Array | null) => void = () => undefined;
      let sinkDone: () => void = () => undefined;
      const sinkFailed = (error: unknown): void => {
        sinkBusy = false;
        if (failed) finishFailure();
        else fail(error);
      };
      // Hands out pending body pieces and parses buffered bytes until a read or the sink has to be waited for.
      const step = (): void => {
        if (failed) return;
        for (;;) {
          if (pieceStart < pieceEnd) {
            const end = pieceEnd - pieceStart > limit ? pieceStart + limit : pieceEnd;
            const piece = (this.chunk as Uint8Array).subarray(pieceStart, end);
            pieceStart = end;
            let result: Promise<void> | void;
            // Busy before the call: a clock may fire the request timeout synchronously inside the sink.
            sinkBusy = true;
            try {
              result = sink(piece);
            } catch (error) {
              sinkBusy = false;
              fail(error);
              return;
            }
            if (result !== undefined && result !== null && typeof (result as Promise<void>).then === 'function') {
              (result as Promise<void>).then(sinkDone, sinkFailed);
              return;
            }
            sinkBusy = false;
            if (failed) {
              finishFailure();
              return;
            }
            continue;
          }
          const chunk = this.chunk;
          if (chunk !== null && this.pos < chunk.length) {
            try {
              this.pos = parser.execute(chunk, this.pos, chunk.length);
            } catch (error) {
              fail(error);
              return;
            }
            if (parser.event === EVENT_BODY) {
              pieceStart = parser.bodyStart;
              pieceEnd = parser.bodyEnd;
              continue;
            }
            if (parser.event === EVENT_DONE) break;
            continue;
          }
          if (parser.done()) break;
          if (hasReadNow) {
            // Bytes the transport already holds are taken without a promise hop; the loop stays bounded because a
            // transport holds at most its read-ahead.
            const ready = (connection.readNow as () => Uint8Array | undefined)();
            if (ready !== undefined) {
              this.chunk = ready;
              this.pos = 0;
              continue;
            }
          }
          watchdog.reading(true);
          // Not wrapped in watchdog.guard: on a timeout the watchdog calls `fail` itself (setAbort below), which
          // keeps the hot path at one promise per read.
          connection.read().then(onChunk, fail);
          return;
        }
        this.busy = false;
        this.complete();
        resolve(parser.bodyBytes);
      };
      sinkDone = (): void => {
        sinkBusy = false;
        if (failed) finishFailure();
        else step();
      };
      onChunk = (data: Uint8Array | null): void => {
        if (failed) return;
        watchdog.reading(false);
        if (data === null) {
          try {
            parser.finish();
          } catch (error) {
            fail(error);
            return;
          }
          this.chunk = null;
          this.pos = 0;
          this.busy = false;
          this.complete();
          resolve(parser.bodyBytes);
          return;
        }
        this.chunk = data;
        this.pos = 0;
        step();
      };
      // The abort closes the connection through fail(), after any sink write in flight; not the trip hook at once.
      watchdog.setOnTrip(null);
      watchdog.setAbort(fail);
      // A message may already be complete (no body, or the whole body came with the head).
      if (this.chunk !== null && this.pos >= this.chunk.length) this.chunk = null;
      step();
    });
  }

  /** Reads the whole body into memory; rejects with `http-body-too-large` past `maxBytes` (the connection closes). */
  readAll(maxBytes: number): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    let total = 0;
    return this.pipe((chunk) => {
      total += chunk.length;
      if (total > maxBytes) {
        throw otaError('http-body-too-large', 'The response body from ' + loggableUrl(this.url) + ' is larger than ' + maxBytes + ' bytes, the most this call accepts.', false, { limit: maxBytes });
      }
      parts.push(new Uint8Array(chunk));
    }).then(() => {
      return concatBytes(parts);
    });
  }
}

/** An HTTP/1.1 client. Portable: runs wherever a Transport and a Clock exist. */
export class HttpClient {
  private readonly options: HttpClientOptions;
  private readonly clock: Clock;
  private idle: Pooled[] = [];
  private readonly bufferSize: number;

  /** Checks the options; throws `http-bad-option` without a transport or clock, or for a buffer size outside 1 KiB..1 MiB. */
  constructor(options: HttpClientOptions) {
    this.options = options;
    this.clock = options.clock;
    const size = options.bufferSize !== undefined ? options.bufferSize : 16384;
    // One check for all three keeps the Espruino build (messages stripped to codes) a few bytes smaller. Without it a
    // JavaScript caller that forgot the clock met "cannot read property 'now' of undefined" at the first request.
    if (!(size >= 1024 && size <= 1048576) || !options.transport || !options.clock) {
      throw otaError('http-bad-option', 'HttpClient needs options.transport (a Transport), options.clock (a Clock) and a bufferSize ' +
        'from 1024 to 1048576 bytes; found ' + (options.transport ? '' : 'no transport, ') + (options.clock ? '' : 'no clock, ') +
        'bufferSize ' + size + '.', false);
    }
    this.bufferSize = size;
  }

  /** Gives a finished keep-alive connection back for the next request to the same origin. */
  release(key: string, connection: Connection): void {
    if (this.options.keepAlive === false) {
      connection.close();
      return;
    }
    for (let i = 0; i < this.idle.length; i++) {
      if (this.idle[i].key === key) {
        this.idle[i].connection.close();
        this.idle[i].connection = connection;
        return;
      }
    }
    this.idle.push({ key: key, connection: connection });
    if (this.idle.length > 4) {
      const oldest = this.idle.shift() as Pooled;
      oldest.connection.close();
    }
  }

  /** Closes every idle connection. */
  close(): void {
    const idle = this.idle;
    this.idle = [];
    for (let i = 0; i < idle.length; i++) idle[i].connection.close();
  }

  private take(key: string): Connection | null {
    for (let i = 0; i < this.idle.length; i++) {
      if (this.idle[i].key === key) {
        const connection = this.idle[i].connection;
        this.idle.splice(i, 1);
        return connection;
      }
    }
    return null;
  }

  private timeouts(request: HttpRequest): Timeouts {
    const o = this.options;
    return {
      connectMs: request.connectTimeoutMs !== undefined ? request.connectTimeoutMs : (o.connectTimeoutMs !== undefined ? o.connectTimeoutMs : 10000),
      idleMs: request.idleTimeoutMs !== undefined ? request.idleTimeoutMs : (o.idleTimeoutMs !== undefined ? o.idleTimeoutMs : 30000),
      requestMs: request.requestTimeoutMs !== undefined ? request.requestTimeoutMs : (o.requestTimeoutMs !== undefined ? o.requestTimeoutMs : 0),
    };
  }

  /**
   * Sends `request` and resolves once the response head arrived, after following redirects (301, 302, 303, 307,
   * 308; at most `maxRedirects`; never from https to http). Read or discard the body of what it resolves with.
   */
  open(request: HttpRequest): Promise<HttpResponse> {
    let url: HttpUrl;
    try {
      url = parseUrl(request.url);
    } catch (error) {
      return Promise.reject(error);
    }
    const method = request.method !== undefined ? request.method.toUpperCase() : 'GET';
    const timeouts = this.timeouts(request);
    const watchdog = new Watchdog(this.clock, timeouts, method + ' ' + url.scheme + '://' + url.authority + url.target);
    const connectMs = timeouts.connectMs;
    const maxRedirects = request.maxRedirects !== undefined ? request.maxRedirects : (this.options.maxRedirects !== undefined ? this.options.maxRedirects : 5);
    const follow = (target: HttpUrl, verb: string, headers: Header[], body: Uint8Array | undefined, count: number): Promise<HttpResponse> => {
      return this.exchange(target, verb, headers, body, watchdog, connectMs, count, true).then((response) => {
        if (REDIRECTS.indexOf(response.status) < 0 || maxRedirects <= 0) return response;
        const location = response.header('location');
        if (location === undefined) return response;
        if (count >= maxRedirects) {
          response.discard();
          throw otaError('http-too-many-redirects', verb + ' ' + loggableUrl(request.url) + ' was redirected more than ' + maxRedirects + ' times; the last Location was "' + loggableUrl(location.substring(0, 200)) + '".', false, { limit: maxRedirects });
        }
        let next: HttpUrl;
        try {
          next = resolveUrl(target, location);
        } catch (error) {
          response.discard();
          throw error;
        }
        if (target.scheme === 'https' && next.scheme === 'http') {
          response.discard();
          throw otaError('http-redirect-downgrade', 'Refusing the redirect from ' + loggableUrl(response.url) + ' to plain-text ' + loggableUrl(next.scheme + '://' + next.authority + next.target) + ': https is never downgraded to http.', false, { status: response.status });
        }
        let nextVerb = verb;
        let nextBody = body;
        if (response.status === 303 || ((response.status === 301 || response.status === 302) && verb === 'POST')) {
          if (verb !== 'HEAD') nextVerb = 'GET';
          nextBody = undefined;
        }
        const nextHeaders = originOf(next) === originOf(target) ? headers : withoutHeaders(headers, SENSITIVE);
        const drained = response.contentLength >= 0 && response.contentLength <= DRAIN_LIMIT
          ? response.pipe(() => { /* dropped: a redirect's body says nothing we need */ }).then(() => { return 0; }, () => { return 0; })
          : Promise.resolve(0).then(() => { response.discard(); return 0; });
        return drained.then(() => { return follow(next, nextVerb, nextHeaders, nextBody, count + 1); });
      });
    };
    return follow(url, method, request.headers !== undefined ? request.headers : [], request.body, 0).then(undefined, (error) => {
      watchdog.stop();
      throw isOtaError(error) ? error : toOtaError(error, 'http-failed', true);
    });
  }

  /** Sends `request` and reads the whole body (at most `maxBodyBytes`, default 64 KiB) into memory. */
  request(request: HttpRequest, maxBodyBytes?: number): Promise<HttpResult> {
    const limit = maxBodyBytes !== undefined ? maxBodyBytes : 65536;
    return this.open(request).then((response) => {
      return response.readAll(limit).then((body) => {
        return { status: response.status, reason: response.reason, headers: response.headers, url: response.url, body: body };
      });
    });
  }

  private connect(url: HttpUrl, watchdog: Watchdog, connectMs: number): Promise<Connection> {
    const transport = url.scheme === 'http' && this.options.plainTransport !== undefined ? this.options.plainTransport : this.options.transport;
    watchdog.connecting(true);
    let started: Promise<Connection>;
    try {
      started = transport.connect({
        host: url.host,
        port: url.port,
        tls: url.scheme === 'https',
        ca: url.scheme === 'https' ? this.options.ca : undefined,
        timeoutMs: connectMs > 0 ? connectMs : 600000,
      });
    } catch (error) {
      // A transport that throws (a native socket binding that cannot make a socket) fails the request like one that
      // rejects: open() still returns a promise, and the watchdog's connect timer is stopped with it.
      started = Promise.reject(error);
    }
    const opening = started.then((connection) => {
      // A connection that arrives after the timeout fired has no owner: close it.
      if (watchdog.tripped !== null) connection.close();
      return connection;
    });
    return watchdog.guard(opening).then((connection) => {
      watchdog.connecting(false);
      return connection;
    }, (error) => {
      watchdog.connecting(false);
      throw error;
    });
  }

  // One request/response on one connection; retries once on a fresh connection when a reused one turns out stale.
  private exchange(url: HttpUrl, method: string, headers: Header[], body: Uint8Array | undefined, watchdog: Watchdog, connectMs: number, redirects: number,
    mayRetry: boolean): Promise<HttpResponse> {
    let head: Uint8Array;
    try {
      head = writeRequestHead(method, url, headers, body !== undefined ? body.length : 0, { userAgent: this.options.userAgent, keepAlive: this.options.keepAlive !== false });
    } catch (error) {
      return Promise.reject(error);
    }
    const key = originOf(url);
    const pooled = this.take(key);
    const connecting = pooled !== null ? Promise.resolve(pooled) : this.connect(url, watchdog, connectMs);
    return connecting.then((connection) => {
      const reused = pooled !== null;
      watchdog.setOnTrip(() => { connection.close(); });
      const parser = new ResponseParser({
        maxHeadBytes: this.options.maxHeadBytes !== undefined ? this.options.maxHeadBytes : DEFAULT_PARSER_LIMITS.maxHeadBytes,
        maxHeaders: this.options.maxHeaders !== undefined ? this.options.maxHeaders : DEFAULT_PARSER_LIMITS.maxHeaders,
      }, method === 'HEAD');
      let received = 0;
      const stale = (error: unknown): Promise<HttpResponse> => {
        // A kept-alive connection the server already closed fails before the first response byte; try once afresh.
        connection.close();
        if (reused && mayRetry && received === 0 && watchdog.tripped === null && isIdempotent(method)) {
          return this.exchange(url, method, headers, body, watchdog, connectMs, redirects, false);
        }
        // Rejected, never thrown: stale() also runs inside read callbacks, where a throw would settle nothing.
        const tripped = watchdog.tripped;
        return Promise.reject(tripped !== null ? tripped : error);
      };
      const sent = watchdog.guard(connection.write(head)).then(() => {
        return body !== undefined && body.length > 0 ? watchdog.guard(connection.write(body)) : undefined;
      });
      return sent.then(() => {
        return new Promise<HttpResponse>((resolve, reject) => {
          let readNext: () => void = () => undefined;
          const onChunk = (data: Uint8Array | null): void => {
            watchdog.reading(false);
            if (data === null) {
              try {
                parser.finish();
              } catch (error) {
                if (received === 0) stale(error).then(resolve, reject);
                else {
                  connection.close();
                  reject(error);
                }
                return;
              }
            } else {
              received += data.length;
            }
            const chunk = data !== null ? data : new Uint8Array(0);
            let pos: number;
            try {
              // A bridge that hands over an ArrayBuffer (as QuickJS's newArrayBuffer makes) or a string would otherwise
              // parse as no bytes at all and end, 30 s later, in a read-timeout that blames the network.
              if (!(chunk instanceof Uint8Array)) {
                throw otaError('transport-bad-chunk', 'The transport\'s Connection.read() resolved with ' + typeof chunk + ' ' + String(chunk).substring(0, 40) +
                  ', not a Uint8Array or null: wrap what the host hands over (new Uint8Array(arrayBuffer)); see Connection in src/http/transport.ts.', false);
              }
              pos = parser.execute(chunk, 0, chunk.length);
            } catch (error) {
              connection.close();
              reject(error);
              return;
            }
            if (parser.event === EVENT_HEAD) {
              resolve(new HttpResponse(this, connection, parser, watchdog, url, redirects, chunk, pos, this.bufferSize));
              return;
            }
            if (data === null) {
              connection.close();
              reject(otaError('http-no-response', 'The connection ended before a response head.', true));
              return;
            }
            readNext();
          };
          const onError = (error: unknown): void => {
            watchdog.reading(false);
            if (received === 0 && !watchdog.tripped) stale(error).then(resolve, reject);
            else {
              connection.close();
              reject(watchdog.tripped !== null ? watchdog.tripped : error);
            }
          };
          readNext = (): void => {
            watchdog.reading(true);
            watchdog.guard(connection.read()).then(onChunk, onError);
          };
          readNext();
        });
      }, stale);
    });
  }
}

/** True when `error` is an OtaError a retry may fix (timeouts, resets, 5xx mapped by callers). */
export function isRetryable(error: unknown): boolean {
  return isOtaError(error) && (error as OtaError).retryable;
}
