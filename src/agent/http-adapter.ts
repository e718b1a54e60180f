import type { ApiHttp, ApiResponse } from '../api/http-port.js';
import type { HttpClient } from '../http/client.js';
import { downloadRange, parseContentRange } from '../http/download.js';
import type { RangeStart } from '../http/download.js';
import { headersFromObject, headersToObject } from '../http/headers.js';
import type { Header } from '../http/headers.js';
import { otaError } from '../util/errors.js';
import type { AgentNetwork } from './agent.js';
import type { FetchRequest, PayloadFetcher } from './fetch-port.js';

// The agent's network ports over the project's HTTP client (src/http): the device API as a bounded GET without
// redirects, the payload through the ranged downloader (Range + If-Range, 206 checks, 200/416 restarts). A
// bounded range (a bundle header replayed after a reboot) is a plain GET with `Range: bytes=a-b`.

interface Cancelled {
  cancelledByAgent: true;
}

function isCancelled(value: unknown): boolean {
  return value !== null && typeof value === 'object' && (value as Cancelled).cancelledByAgent === true;
}

/** The payload's validator for If-Range: its ETag, else its Last-Modified date, else none. */
function validatorOf(etag: string | undefined, lastModified: string | undefined): string | null {
  return etag !== undefined ? etag : lastModified !== undefined ? lastModified : null;
}

function validatorHeaders(validator: string | null): Header[] {
  if (validator === null) return [];
  // If-Range needs a strong validator: a strong ETag or a date, never a weak ETag.
  return validator.substring(0, 2) === 'W/' ? [] : [{ name: 'If-Range', value: validator }];
}

/** The device API over `client`: one GET, at most `maxBody` bytes, redirects returned as they are. */
export function apiOverHttp(client: HttpClient): ApiHttp {
  return {
    get: function (url: string, headers: { [name: string]: string }, maxBody: number, timeoutMs: number): Promise<ApiResponse> {
      return client.request({ method: 'GET', url: url, headers: headersFromObject(headers), maxRedirects: 0, requestTimeoutMs: timeoutMs },
        maxBody).then(function (result) {
        return { status: result.status, headers: headersToObject(result.headers), body: result.body };
      });
    },
  };
}

function boundedFetch(client: HttpClient, request: FetchRequest): Promise<void> {
  const headers: Header[] = [{ name: 'Range', value: 'bytes=' + request.offset + '-' + (request.end - 1) }];
  const extra = validatorHeaders(request.validator);
  for (let i = 0; i < extra.length; i++) headers.push(extra[i]);
  return client.open({ method: 'GET', url: request.url, headers: headers }).then(function (response) {
    const validator = validatorOf(response.header('etag'), response.header('last-modified'));
    if (response.status !== 200 && response.status !== 206) {
      const status = response.status;
      const retryAfter = response.header('retry-after');
      response.discard();
      throw otaError('download-bad-status', 'The payload server answered ' + status + ' to a header range request.', status >= 500 || status === 429,
        { status: status, retryAfter: retryAfter !== undefined ? retryAfter : null });
    }
    const range = response.status === 206 ? parseContentRange(response.header('content-range') || '') : null;
    const partial = response.status === 206 && range !== null && range.start === request.offset;
    return request.start({ offset: partial ? request.offset : 0, partial: partial, total: range !== null ? range.total : response.contentLength,
      validator: validator }).then(function () {
      return response.pipe(function (chunk: Uint8Array): Promise<void> {
        if (request.cancelled()) throw { cancelledByAgent: true } as Cancelled;
        return request.data(chunk);
      });
    }).then(function () { return undefined; }, function (error: unknown) {
      response.discard();
      if (isCancelled(error) || request.cancelled()) return undefined;
      throw error;
    });
  });
}

/** The payload downloader over `client` (src/http/download.ts). */
export function fetcherOverHttp(client: HttpClient): PayloadFetcher {
  return {
    fetch: function (request: FetchRequest): Promise<void> {
      if (request.end >= 0) return boundedFetch(client, request);
      const strong = request.validator !== null && request.validator.charAt(0) === '"';
      return downloadRange(client, {
        url: request.url,
        offset: request.offset,
        etag: strong ? request.validator as string : undefined,
        lastModified: !strong && request.validator !== null && request.validator.substring(0, 2) !== 'W/' ? request.validator : undefined,
        onStart: function (info: RangeStart): Promise<void> {
          return request.start({ offset: info.offset, partial: info.status === 206, total: info.total, validator: validatorOf(info.etag, info.lastModified) });
        },
      }, {
        write: function (chunk: Uint8Array): Promise<void> {
          if (request.cancelled()) throw { cancelledByAgent: true } as Cancelled;
          return request.data(chunk);
        },
        restart: function (): void {
          // The agent sees the restart in onStart (offset 0) and resets its sink and journal there.
        },
      }).then(function () { return undefined; }, function (error: unknown) {
        // A cancel thrown from the sink comes back wrapped by the body pump; stop() is what counts.
        if (isCancelled(error) || request.cancelled()) return undefined;
        throw error;
      });
    },
  };
}

/** Both ports over one client, for `createAgent({ transport: networkOverHttp(client) })`. */
export function networkOverHttp(client: HttpClient): AgentNetwork {
  return { http: apiOverHttp(client), fetcher: fetcherOverHttp(client) };
}
