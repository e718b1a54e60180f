// Shared pieces of the mbedTLS transport tests: building the wasm module on demand and local TLS servers.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import type { AddressInfo, Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createServer, type TLSSocket, type TlsOptions } from 'node:tls';
import type { Connection } from '../../src/http/transport.js';

/** Builds mbedtls/build/ota-mbedtls.wasm if it is missing or stale; throws build.sh's message (toolchain) otherwise. */
export function ensureMbedTlsBuilt(): void {
  try {
    execFileSync(process.execPath, [fileURLToPath(new URL('../../scripts/ensure-mbedtls.mjs', import.meta.url))], { stdio: 'pipe', timeout: 600_000 });
  } catch (error) {
    const e = error as { stderr?: Buffer; stdout?: Buffer; status?: number };
    throw new Error(`Building the mbedTLS wasm module failed (exit ${String(e.status)}):\n${String(e.stdout ?? '')}${String(e.stderr ?? '')}`);
  }
}

/** A TLS server on 127.0.0.1 that records what each client sent as SNI. */
export interface TestServer {
  port: number;
  /** SNI of each accepted connection, in order (false = none sent). */
  servernames: (string | false)[];
  close(): Promise<void>;
}

/** What the server does with a secured connection. */
export type ServerBehaviour = (socket: TLSSocket) => void;

/** Echoes everything back. */
export const echo: ServerBehaviour = (socket) => { socket.pipe(socket); };

/** Sends `bytes` of a deterministic pattern in writes of `chunk`, then ends. */
export function sendPattern(bytes: number, chunk: number = 65536): ServerBehaviour {
  return (socket) => {
    let sent = 0;
    const pump = (): void => {
      while (sent < bytes) {
        const n = Math.min(chunk, bytes - sent);
        const ok = socket.write(pattern(sent, n));
        sent += n;
        if (!ok) {
          socket.once('drain', pump);
          return;
        }
      }
      socket.end();
    };
    pump();
  };
}

/** `length` bytes of the test pattern starting at stream offset `offset`. */
export function pattern(offset: number, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = ((offset + i) * 31 + ((offset + i) >>> 8)) & 0xff;
  return out;
}

/** Starts a TLS server with `options` on 127.0.0.1, port 0. */
export function startServer(options: TlsOptions, behaviour: ServerBehaviour = echo): Promise<TestServer> {
  const servernames: (string | false)[] = [];
  const sockets = new Set<Socket>();
  const server = createServer(options, (socket) => {
    servernames.push((socket as TLSSocket & { servername?: string | false }).servername ?? false);
    socket.on('error', () => { /* the client side asserts */ });
    behaviour(socket);
  });
  // Raw TCP sockets, so close() also ends connections still in their handshake.
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('tlsClientError', () => { /* expected in failure tests */ });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({
        port: (server.address() as AddressInfo).port,
        servernames,
        close: () => new Promise<void>((done) => {
          for (const socket of sockets) socket.destroy();
          server.close(() => done());
        }),
      });
    });
  });
}

/** Reads until end of stream; returns the byte count and the SHA-256 of everything read. */
export async function drain(connection: Connection): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for (let i = 0; i < 1_000_000; i++) {
    const chunk = await connection.read();
    if (chunk === null) break;
    hash.update(chunk);
    bytes += chunk.length;
  }
  return { bytes, sha256: hash.digest('hex') };
}

/** SHA-256 of the pattern's first `bytes` bytes. */
export function patternSha256(bytes: number): string {
  const hash = createHash('sha256');
  for (let at = 0; at < bytes; at += 65536) hash.update(pattern(at, Math.min(65536, bytes - at)));
  return hash.digest('hex');
}

/** The rejection of `promise` (fails the test if it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<{ code: string; message: string; retryable: boolean; details?: { [key: string]: unknown } }> {
  try {
    const value = await promise;
    if (value && typeof (value as Connection).close === 'function') (value as Connection).close();
  } catch (error) {
    return error as { code: string; message: string; retryable: boolean; details?: { [key: string]: unknown } };
  }
  throw new Error('expected a rejection, but the promise resolved');
}
