// A Connection over a connected net.Socket or tls.TLSSocket: pull-based reads with bounded buffering.
import type { Socket } from 'node:net';
import type { Connection, ConnectionInfo } from '../../http/transport.js';
import { otaError, type OtaError } from '../../util/errors.js';
import { TRANSPORT_ERRORS } from '../../http/transport-errors.js';

/** Default bytes buffered ahead of the reader before the socket is paused. */
export const DEFAULT_READ_AHEAD = 256 * 1024;

/** Maps a socket error after connect to an OtaError. */
export function socketError(error: NodeJS.ErrnoException, host: string, port: number): OtaError {
  if (error.code === 'ECONNRESET' || error.code === 'EPIPE') {
    return otaError(TRANSPORT_ERRORS.connectionReset, `The connection to ${host}:${port} was reset by the peer (${error.code}); retry, resuming where the data stopped.`, true, { host, port, errno: error.code }, error);
  }
  return otaError('connection-failed', `The connection to ${host}:${port} failed: ${error.message}.`, true, { host, port, errno: error.code }, error);
}

/**
 * Wraps `socket` (already connected or secured). Data is queued as it arrives; past `readAhead` bytes the socket
 * is paused until the reader catches up, so a slow consumer slows the sender through TCP flow control.
 */
export class SocketConnection implements Connection {
  info?: ConnectionInfo;
  private queue: Buffer[] = [];
  private queued = 0;
  private ended = false;
  private failure: OtaError | null = null;
  private waiter: { resolve: (value: Uint8Array | null) => void; reject: (error: OtaError) => void } | null = null;
  private closed = false;

  constructor(private readonly socket: Socket, private readonly host: string, private readonly port: number,
    private readonly readAhead: number = DEFAULT_READ_AHEAD, info?: ConnectionInfo) {
    this.info = info;
    socket.on('data', (chunk: Buffer) => {
      const waiter = this.waiter;
      if (waiter) {
        this.waiter = null;
        waiter.resolve(chunk);
        return;
      }
      this.queue.push(chunk);
      this.queued += chunk.length;
      if (this.queued >= this.readAhead) socket.pause();
    });
    socket.on('end', () => {
      this.ended = true;
      this.settle();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (!this.failure && !this.closed) this.failure = socketError(error, host, port);
      this.settle();
    });
    socket.on('close', () => {
      this.ended = true;
      this.settle();
    });
  }

  private settle(): void {
    const waiter = this.waiter;
    if (!waiter || this.queue.length > 0) return;
    this.waiter = null;
    if (this.failure) waiter.reject(this.failure);
    else if (this.ended || this.closed) waiter.resolve(null);
  }

  /** Writes all of `data`; resolves once the socket accepted it (waits for drain under back-pressure). */
  write(data: Uint8Array): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(otaError('connection-closed', `Write to ${this.host}:${this.port} after close.`, false));
    return new Promise<void>((resolve, reject) => {
      const ok = this.socket.write(data, (error) => {
        if (error) reject(this.failure ?? socketError(error as NodeJS.ErrnoException, this.host, this.port));
        else if (ok) resolve();
      });
      if (!ok) this.socket.once('drain', () => resolve());
    });
  }

  /** The next chunk received, or null at end of stream. */
  read(): Promise<Uint8Array | null> {
    if (this.queue.length > 0) {
      const chunk = this.queue.shift() as Buffer;
      this.queued -= chunk.length;
      if (this.queued < this.readAhead && this.socket.isPaused() && !this.closed) this.socket.resume();
      return Promise.resolve(chunk);
    }
    if (this.failure) return Promise.reject(this.failure);
    if (this.ended || this.closed) return Promise.resolve(null);
    if (this.waiter) return Promise.reject(otaError('connection-busy', 'Only one read may be pending on a connection.', false));
    if (this.socket.isPaused()) this.socket.resume();
    return new Promise<Uint8Array | null>((resolve, reject) => { this.waiter = { resolve, reject }; });
  }

  /** Closes the connection (TLS close_notify, then FIN); a pending read resolves with null. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    this.queued = 0;
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 1000).unref();
    this.settle();
  }
}
