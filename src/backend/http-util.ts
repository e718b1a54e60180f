import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import { otaError } from '../util/errors.js';

/** Memfault's error body type names, by status. Only `InvalidUsageError` (code 1000) is documented; the rest are ours. */
const ERROR_TYPES: { [status: number]: [number, string] } = {
  400: [1000, 'InvalidUsageError'],
  401: [1001, 'AuthenticationError'],
  403: [1003, 'AuthenticationError'],
  404: [1004, 'NotFoundError'],
  405: [1005, 'MethodNotAllowedError'],
  409: [1009, 'ConflictError'],
  413: [1013, 'PayloadTooLargeError'],
  416: [1016, 'RangeNotSatisfiableError'],
  429: [1029, 'TooManyRequestsError'],
  503: [1503, 'ServiceUnavailableError'],
};

/** The JSON error body `{"error":{"code","http_code","message","type"}}` of Memfault's API. */
export function errorBody(status: number, message: string): string {
  const known = ERROR_TYPES[status] ?? [status >= 500 ? 1500 : 1000, status >= 500 ? 'ServerError' : 'InvalidUsageError'];
  return JSON.stringify({ error: { code: known[0], http_code: status, message, type: known[1] } });
}

/**
 * The reason phrase of a status line. Node knows the registered codes and says "unknown" for the rest; fault rules
 * may answer any code from 200 to 599, e.g. 529, which Memfault's retry table names.
 */
export function reasonPhrase(status: number): string {
  return STATUS_CODES[status] ?? (status === 529 ? 'Site Is Overloaded' : status >= 500 ? 'Server Error' : status >= 400 ? 'Client Error' : 'Status');
}

/** Answers with a JSON error body (and extra headers such as Retry-After). */
export function sendError(res: ServerResponse, status: number, message: string, headers: { [name: string]: string } = {}): void {
  const body = Buffer.from(errorBody(status, message));
  res.writeHead(status, reasonPhrase(status), { ...headers, 'Content-Type': 'application/json', 'Content-Length': String(body.length) });
  res.end(body);
}

/** Answers 200 (or `status`) with a JSON body. */
export function sendJson(res: ServerResponse, value: unknown, status = 200): void {
  const body = Buffer.from(JSON.stringify(value));
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': String(body.length) });
  res.end(body);
}

/** Reads a JSON request body of at most `limit` bytes. Rejects with status 413 or 400 details. */
export function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? '0');
    if (declared > limit) {
      req.resume();
      reject(otaError('body-too-large', `request body of ${declared} bytes exceeds the limit of ${limit}`, false, { status: 413 }));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limit) {
        failed = true;
        reject(otaError('body-too-large', `request body exceeds the limit of ${limit} bytes`, false, { status: 413 }));
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', (error) => { if (!failed) { failed = true; reject(error); } });
    req.on('end', () => {
      if (failed) return;
      const text = Buffer.concat(chunks).toString('utf8');
      if (text.trim() === '') { resolve({}); return; }
      try {
        resolve(JSON.parse(text));
      } catch {
        reject(otaError('body-not-json', 'request body is not valid JSON', false, { status: 400 }));
      }
    });
  });
}

/** Resolves after `ms` milliseconds (unref'd: never keeps the process alive). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => { setTimeout(resolve, ms).unref(); });
}
