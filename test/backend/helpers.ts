import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { readFileSync } from 'node:fs';
import type { Backend } from '../../src/backend/index.js';

/** A parsed HTTP/1.1 response read off a raw socket. */
export interface RawResponse {
  statusLine: string;
  status: number;
  headers: { [name: string]: string };
  /** Header names exactly as sent, in order. */
  rawHeaderNames: string[];
  body: Buffer;
  chunked: boolean;
}

/** Parses one response from `data`; null when incomplete. HEAD responses and 1xx/204/304 have no body. */
export function parseResponse(data: Buffer, head = false): RawResponse | null {
  const end = data.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const lines = data.subarray(0, end).toString('latin1').split('\r\n');
  const statusLine = lines[0];
  const status = Number(statusLine.split(' ')[1]);
  const headers: { [name: string]: string } = {};
  const rawHeaderNames: string[] = [];
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    rawHeaderNames.push(line.slice(0, colon));
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  const chunked = (headers['transfer-encoding'] ?? '').includes('chunked');
  const start = end + 4;
  if (head || status === 204 || status === 304 || (status >= 100 && status < 200)) return { statusLine, status, headers, rawHeaderNames, body: Buffer.alloc(0), chunked };
  if (headers['content-length'] === undefined) return null;
  const length = Number(headers['content-length']);
  if (data.length < start + length) return null;
  return { statusLine, status, headers, rawHeaderNames, body: data.subarray(start, start + length), chunked };
}

/** Sends `bytes` as-is over TCP (or TLS with `ca`/`servername`) and reads one response (or until the peer closes). */
export function rawRequest(baseUrl: string, bytes: string | Buffer, options: { ca?: string; servername?: string; head?: boolean } = {}): Promise<RawResponse & { closed: boolean; raw: Buffer }> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket: Socket = url.protocol === 'https:'
      ? tlsConnect({ host: url.hostname, port: Number(url.port), ca: options.ca, servername: options.servername })
      : netConnect({ host: url.hostname, port: Number(url.port) });
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (closed: boolean): void => {
      if (done) return;
      const raw = Buffer.concat(chunks);
      const parsed = parseResponse(raw, options.head);
      if (!parsed && !closed) return;
      done = true;
      socket.destroy();
      if (!parsed) { reject(new Error(`connection closed after ${raw.length} bytes without a complete response: ${raw.toString('latin1').slice(0, 200)}`)); return; }
      resolve({ ...parsed, closed, raw });
    };
    socket.setTimeout(10_000, () => { socket.destroy(); if (!done) { done = true; reject(new Error('raw request timed out')); } });
    socket.on('data', (chunk: Buffer) => { chunks.push(chunk); finish(false); });
    socket.on('end', () => finish(true));
    socket.on('close', () => finish(true));
    socket.on('error', (error) => { if (!done) { done = true; reject(error); } });
    socket.write(bytes);
  });
}

/** A response read with node:http(s). */
export interface Reply {
  status: number;
  headers: { [name: string]: string | string[] | undefined };
  body: Buffer;
}

/** One request with node:http or node:https (trusting `ca`); the body is a Buffer or a JSON value. */
export function httpCall(url: string, options: { method?: string; headers?: { [name: string]: string }; body?: Buffer | string; ca?: string } = {}): Promise<Reply> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = (target.protocol === 'https:' ? httpsRequest : httpRequest)(target, { method: options.method ?? 'GET', headers: options.headers, ca: options.ca, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** The CA text of a backend (undefined for plain HTTP). */
export function caOf(backend: Backend): string | undefined {
  return backend.caPath ? readFileSync(backend.caPath, 'utf8') : undefined;
}

/** The device API query path for a device. */
export function latestPath(query: { [name: string]: string | undefined }, json = false): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, v);
  return `/api/v0/releases/latest${json ? '' : '/url'}?${params}`;
}

/** GET on the device API with the project key. */
export function checkForUpdate(backend: Backend, query: { [name: string]: string | undefined }, json = false, key: string | null = backend.projectKey): Promise<Reply> {
  const headers: { [name: string]: string } = {};
  if (key !== null) headers['Memfault-Project-Key'] = key;
  return httpCall(backend.baseUrl + latestPath(query, json), { headers, ca: caOf(backend) });
}

/** Deterministic payload bytes of `size` (a byte pattern that differs at every offset modulo 251). */
export function payloadBytes(size: number, seed = 1): Buffer {
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i++) out[i] = (i * 7 + seed * 13 + (i >> 8)) % 251;
  return out;
}

/** Everything a raw request got until the peer closed: head, body bytes, and whether it ended with FIN or a reset. */
export interface RawCapture {
  head: string;
  status: number;
  headers: { [name: string]: string };
  body: Buffer;
  endedCleanly: boolean;
  reset: boolean;
  firstByteAfterMs: number;
}

/** Sends one request with `Connection: close` semantics (the caller adds the header) and captures until close. */
export function captureUntilClose(baseUrl: string, bytes: string): Promise<RawCapture> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: url.hostname, port: Number(url.port) });
    const chunks: Buffer[] = [];
    let endedCleanly = false;
    let reset = false;
    const started = Date.now();
    let firstByteAfterMs = -1;
    socket.setTimeout(15_000, () => { socket.destroy(); reject(new Error('capture timed out')); });
    socket.on('data', (chunk: Buffer) => { if (firstByteAfterMs < 0) firstByteAfterMs = Date.now() - started; chunks.push(chunk); });
    socket.on('end', () => { endedCleanly = true; });
    socket.on('error', (error: Error & { code?: string }) => { if (error.code === 'ECONNRESET') reset = true; else reject(error); });
    socket.on('close', () => {
      const raw = Buffer.concat(chunks);
      const split = raw.indexOf('\r\n\r\n');
      const head = split < 0 ? raw.toString('latin1') : raw.subarray(0, split).toString('latin1');
      const headers: { [name: string]: string } = {};
      for (const line of head.split('\r\n').slice(1)) {
        const colon = line.indexOf(':');
        if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({ head, status: Number(head.split(' ')[1] ?? 0), headers, body: split < 0 ? Buffer.alloc(0) : raw.subarray(split + 4), endedCleanly, reset, firstByteAfterMs });
    });
    socket.write(bytes);
  });
}

/**
 * The admin API as the org-token holder would call it: JSON requests, and the two-step payload upload (open, PUT the
 * bytes, then create the release; `withMd5` sends back the MD5 the PUT reported).
 */
export function adminCalls(backend: () => Backend) {
  const project = (): string => `/api/v0/organizations/${backend().org}/projects/${backend().project}`;
  const auth = (): { [name: string]: string } => ({ Authorization: 'Basic ' + Buffer.from(':' + backend().orgToken).toString('base64') });
  const json = (method: string, path: string, body?: unknown, headers = auth()) =>
    httpCall(backend().baseUrl + path, { method, headers: { ...headers, 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const upload = async (bytes: Buffer, fields: { [key: string]: unknown }, withMd5 = true) => {
    const slot = JSON.parse((await json('POST', `${project()}/upload`, {})).body.toString()).data;
    const put = await httpCall(slot.upload_url, { method: 'PUT', body: bytes });
    if (put.status !== 200) throw new Error(`upload PUT answered ${put.status}`);
    const md5 = withMd5 ? { md5: JSON.parse(put.body.toString()).data.md5 } : {};
    return json('POST', `${project()}/releases/ota_payload`, { file: { token: slot.token, ...md5, name: 'app.bin' }, ...fields });
  };
  return { auth, json, upload };
}
