import { createReadStream } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { FaultRule } from './faults.js';
import { reasonPhrase, sendError, sleep } from './http-util.js';

/**
 * The body of a response: bytes in memory, UTF-8 text (sent in one write together with the head: the device API's
 * hot path), or a byte range [start, end] (inclusive) of a file.
 */
export type Body = { bytes: Buffer } | { text: string } | { path: string; start: number; end: number };

/** The first taken fault of `kind`, if any. */
export function faultOf(faults: FaultRule[], kind: FaultRule['kind']): FaultRule | undefined {
  for (const fault of faults) if (fault.kind === kind) return fault;
  return undefined;
}

/**
 * Answers with a `status` fault when one was taken: the JSON error body for errors, an empty body otherwise,
 * with `Retry-After`, `memfault-reason` and `Location` as the rule says. Returns true when it answered.
 */
export function answerStatusFault(res: ServerResponse, faults: FaultRule[]): boolean {
  const fault = faultOf(faults, 'status');
  if (!fault || fault.status === undefined) return false;
  const headers: { [name: string]: string } = {};
  if (fault.retryAfter !== undefined) headers['Retry-After'] = fault.retryAfter;
  if (fault.reason !== undefined) headers['memfault-reason'] = fault.reason;
  if (fault.location !== undefined) headers['Location'] = fault.location;
  if (fault.status >= 400) {
    sendError(res, fault.status, fault.status === 503 ? 'The server is shedding load; retry after the Retry-After delay' : `injected fault: status ${fault.status}`, headers);
  } else {
    // RFC 9110 §8.6: no Content-Length on a 204 (nor on a 304, whose length would be the 200's), as on the
    // un-faulted 204 of the device API; every other status says its empty body's length.
    res.writeHead(fault.status, reasonPhrase(fault.status), fault.status === 204 || fault.status === 304 ? headers : { ...headers, 'Content-Length': '0' });
    res.end();
  }
  return true;
}

/**
 * Ends the connection abruptly. A TLS socket's handle cannot be reset (resetAndDestroy throws
 * ERR_INVALID_HANDLE_TYPE, which would take the whole server down), and resetting the TCP socket under it confuses
 * the HTTP server's connection tracking, so a TLS socket is destroyed: the TCP connection closes without a TLS
 * close_notify, which a client sees as an abrupt end. Never throws.
 */
function reset(socket: Socket | null): void {
  if (!socket) return;
  if (socket instanceof TLSSocket) {
    socket.destroy();
    return;
  }
  try {
    if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
    else socket.destroy();
  } catch {
    socket.destroy();
  }
}

function writeAndWait(res: ServerResponse, chunk: Buffer): Promise<void> {
  return new Promise((resolve) => {
    if (res.write(chunk)) {
      resolve();
      return;
    }
    // A client that goes away never drains: settle on close too, so the file stream is released.
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

async function* chunksOf(body: Body): AsyncGenerator<Buffer> {
  if ('text' in body) {
    yield Buffer.from(body.text, 'utf8');
    return;
  }
  if ('bytes' in body) {
    yield body.bytes;
    return;
  }
  if (body.end < body.start) return;
  const stream = createReadStream(body.path, { start: body.start, end: body.end, highWaterMark: 64 * 1024 });
  try {
    for await (const chunk of stream) yield chunk as Buffer;
  } finally {
    stream.destroy();
  }
}

/**
 * Sends status, headers and body, applying the taken faults: stall, drop, truncate, throttle, corrupt.
 * `payloadOffset` is where the body starts within the payload (the range start), so `corrupt` hits an absolute
 * offset whatever range is served. Without faults the body streams straight from disk.
 */
export async function sendWithFaults(res: ServerResponse, status: number, headers: { [name: string]: string }, body: Body | null, faults: FaultRule[], payloadOffset: number, head: boolean): Promise<void> {
  try {
    await send(res, status, headers, body, faults, payloadOffset, head);
  } catch {
    // A file that vanished or a socket that broke mid-answer: nothing sensible is left to say on this connection.
    reset(res.socket);
  }
}

async function send(res: ServerResponse, status: number, headers: { [name: string]: string }, body: Body | null, faults: FaultRule[], payloadOffset: number, head: boolean): Promise<void> {
  if (faults.length === 0) {
    res.writeHead(status, headers);
    if (!body || head) { res.end(); return; }
    if ('text' in body) { res.end(body.text, 'utf8'); return; }
    if ('bytes' in body) { res.end(body.bytes); return; }
    if (body.end < body.start) { res.end(); return; }
    const stream = createReadStream(body.path, { start: body.start, end: body.end, highWaterMark: 64 * 1024 });
    stream.on('error', () => reset(res.socket));
    res.on('close', () => stream.destroy());
    stream.pipe(res);
    return;
  }
  const stall = faultOf(faults, 'stall');
  const drop = faultOf(faults, 'drop');
  const truncate = faultOf(faults, 'truncate');
  const throttle = faultOf(faults, 'throttle');
  const corrupt = faultOf(faults, 'corrupt');
  if (stall && stall.afterBytes === undefined) await sleep(stall.ms ?? 0);
  if (res.destroyed) return;
  if (drop && drop.afterBytes === 0) { reset(res.socket); return; }
  res.writeHead(status, headers);
  if (!body || head) {
    if (drop || truncate) reset(res.socket);
    else res.end();
    return;
  }
  const length = 'text' in body ? Buffer.byteLength(body.text) : 'bytes' in body ? body.bytes.length : body.end - body.start + 1;
  let cutAt = Infinity;
  if (drop && drop.afterBytes !== undefined) cutAt = drop.afterBytes;
  if (truncate) cutAt = Math.min(cutAt, truncate.afterBytes ?? Math.floor(length / 2));
  const stallAt = stall && stall.afterBytes !== undefined ? stall.afterBytes : -1;
  const rate = throttle ? throttle.bytesPerSecond ?? 0 : 0;
  const piece = rate > 0 ? Math.max(1, Math.min(16 * 1024, Math.floor(rate / 20))) : 64 * 1024;
  const started = Date.now();
  let sent = 0;
  let stalled = false;
  for await (let chunk of chunksOf(body)) {
    if (corrupt && corrupt.offset !== undefined) {
      const at = corrupt.offset - payloadOffset - sent;
      if (at >= 0 && at < chunk.length) {
        chunk = Buffer.from(chunk);
        chunk[at] ^= 0xff;
      }
    }
    let at = 0;
    while (at < chunk.length) {
      if (res.destroyed) return;
      let size = Math.min(piece, chunk.length - at);
      if (sent + size > cutAt) size = cutAt - sent;
      if (!stalled && stallAt >= sent && stallAt < sent + size) size = stallAt - sent;
      if (size > 0) {
        await writeAndWait(res, chunk.subarray(at, at + size));
        at += size;
        sent += size;
      }
      if (!stalled && sent === stallAt) {
        stalled = true;
        await sleep(stall?.ms ?? 0);
      }
      if (sent >= cutAt) {
        const socket = res.socket;
        if (drop && cutAt === drop.afterBytes) {
          // Reset only once the bytes have left: an immediate reset after the write callback still closes with FIN
          // on Linux loopback, so give the kernel a moment.
          await sleep(10);
          reset(socket);
        }
        else socket?.end();
        return;
      }
      if (rate > 0) {
        const due = started + (sent / rate) * 1000;
        const wait = due - Date.now();
        if (wait > 0) await sleep(wait);
      }
    }
  }
  res.end();
}
