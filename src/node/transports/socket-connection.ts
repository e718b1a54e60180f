// A Connection over a connected net.Socket or tls.TLSSocket: pull-based reads with bounded buffering.
import type { Socket } from 'node:net';
import type { Connection, ConnectionInfo } from '../../http/transport.js';
import { otaError, type OtaError } from '../../util/errors.js';
import { TRANSPORT_ERRORS } from '../../http/transport-errors.js';
import { PendingRead } from './pending-read.js';

/** Default bytes buffered ahead of the reader before the socket is paused. */
export const DEFAULT_READ_AHEAD = 256 * 1024;

/** Size of each recycled receive buffer: one TLS record's plaintext at most. */
export const READ_CHUNK = 16 * 1024;

/** Maps a socket error after connect to an OtaError. */
export function socketError(error: NodeJS.ErrnoException, host: string, port: number): OtaError {
  if (error.code === 'ECONNRESET' || error.code === 'EPIPE') {
    return otaError(TRANSPORT_ERRORS.connectionReset, `The connection to ${host}:${port} was reset by the peer (${error.code}); retry, resuming where the data stopped.`, true, { host, port, errno: error.code }, error);
  }
  return otaError('connection-failed', `The connection to ${host}:${port} failed: ${error.message}.`, true, { host, port, errno: error.code }, error);
}

interface Received {
  view: Buffer;
  owner: Buffer | null;
}

/**
 * Recycled receive buffers for the `onread` option of net.connect / tls.connect. Node reads straight into them, so
 * a download allocates no Buffer per read and peak memory stays flat whatever the payload size; without it Node makes
 * a new Buffer per read and V8 frees them lazily (tens of MiB of garbage over a large download).
 * Reading stops while fewer than two buffers are free and starts again when the reader hands one back.
 */
export class ReadPool {
  private free: Buffer[] = [];
  private target: ((view: Buffer, owner: Buffer) => boolean) | null = null;
  private early: Received[] = [];

  /** `count` buffers of `size` bytes; at least 3. */
  constructor(readonly size: number = READ_CHUNK, count: number = DEFAULT_READ_AHEAD / READ_CHUNK + 2) {
    for (let i = 0; i < Math.max(3, count); i++) this.free.push(Buffer.allocUnsafe(size));
  }

  /** The value for the `onread` connect option. */
  onread(): { buffer: () => Buffer; callback: (bytes: number, buffer: Buffer) => boolean } {
    return {
      // Called after every read for the buffer of the next one; a spare is made only if data arrived while paused.
      buffer: () => this.free.pop() ?? Buffer.allocUnsafe(this.size),
      callback: (bytes, buffer) => {
        const view = buffer.subarray(0, bytes);
        if (this.target) return this.target(view, buffer);
        this.early.push({ view, owner: buffer });
        return this.free.length >= 2;
      },
    };
  }

  /** Routes received data to `target`; returns what arrived before it was attached. */
  attach(target: (view: Buffer, owner: Buffer) => boolean): Received[] {
    this.target = target;
    const early = this.early;
    this.early = [];
    return early;
  }

  /** Gives a buffer back once its bytes were consumed. */
  release(buffer: Buffer): void {
    if (this.free.length < 64) this.free.push(buffer);
  }

  /** Whether reading may go on (two buffers free: one for the next read, one spare). */
  canRead(): boolean {
    return this.free.length >= 2;
  }

  /** Whether a paused socket may start reading again. */
  canResume(): boolean {
    return this.free.length >= 1;
  }
}

/**
 * Wraps `socket` (already connected or secured). Without a pool, data is queued as it arrives and the socket is
 * paused past `readAhead` bytes. With a pool (the socket was opened with `pool.onread()`), Node reads into recycled
 * buffers: a chunk returned by read() is valid only until the next read() or close(), which the HTTP client honours.
 * Either way a slow consumer slows the sender through TCP flow control.
 */
export class SocketConnection implements Connection {
  info?: ConnectionInfo;
  private queue: Received[] = [];
  private queued = 0;
  private ended = false;
  private failure: OtaError | null = null;
  private readonly pending = new PendingRead();
  private closed = false;
  private handedOut: Buffer | null = null;
  private stopped = false;

  /**
   * `mapError` turns a socket error after connect into the OtaError reads and writes reject with (default
   * socketError); the TLS transport passes one that classifies alerts the server sends after the handshake.
   */
  constructor(private readonly socket: Socket, private readonly host: string, private readonly port: number,
    private readonly readAhead: number = DEFAULT_READ_AHEAD, info?: ConnectionInfo, private readonly pool: ReadPool | null = null,
    private readonly mapError: (error: NodeJS.ErrnoException) => OtaError = (error) => socketError(error, host, port)) {
    this.info = info;
    if (pool) {
      const early = pool.attach((view, owner) => this.received(view, owner));
      for (const item of early) this.received(item.view, item.owner);
      if (!pool.canRead()) this.stopped = true;
    } else {
      socket.on('data', (chunk: Buffer) => {
        this.received(chunk, null);
        if (this.queued >= this.readAhead) socket.pause();
      });
    }
    socket.on('end', () => {
      this.ended = true;
      this.settle();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (!this.failure && !this.closed) this.failure = this.mapError(error);
      this.settle();
    });
    socket.on('close', () => {
      this.ended = true;
      this.settle();
    });
  }

  // Returns whether the socket may keep reading (pool mode).
  private received(view: Buffer, owner: Buffer | null): boolean {
    if (this.closed) {
      // Data after close() means a body was abandoned mid-way: stop receiving it rather than drain it.
      if (owner && this.pool) this.pool.release(owner);
      this.socket.destroy();
      return false;
    }
    if (this.pending.give(view)) {
      this.handedOut = owner;
    } else {
      this.queue.push({ view, owner });
      this.queued += view.length;
    }
    if (!this.pool) return true;
    const more = this.pool.canRead();
    if (!more) this.stopped = true;
    return more;
  }

  private settle(): void {
    this.pending.settle(this.queue.length, this.failure, this.ended || this.closed);
  }

  /** Writes all of `data`; resolves once the socket accepted it (waits for drain under back-pressure). */
  write(data: Uint8Array): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(otaError('connection-closed', `Write to ${this.host}:${this.port} after close.`, false));
    return new Promise<void>((resolve, reject) => {
      const ok = this.socket.write(data, (error) => {
        if (error) reject(this.failure ?? this.mapError(error as NodeJS.ErrnoException));
        else if (ok) resolve();
      });
      if (!ok) this.socket.once('drain', () => resolve());
    });
  }

  /** The next chunk received, or null at end of stream. With a pool, the previous chunk is recycled now. */
  read(): Promise<Uint8Array | null> {
    if (this.handedOut && this.pool) {
      this.pool.release(this.handedOut);
      this.handedOut = null;
    }
    if (this.queue.length > 0) {
      const item = this.queue.shift() as Received;
      this.queued -= item.view.length;
      this.handedOut = item.owner;
      this.resumeIfRoom();
      return Promise.resolve(item.view);
    }
    if (this.failure) return Promise.reject(this.failure);
    if (this.ended || this.closed) return Promise.resolve(null);
    this.resumeIfRoom();
    return this.pending.wait();
  }

  /** The next queued chunk without waiting, or undefined when none is queued (then read() waits or reports the end). */
  readNow(): Uint8Array | undefined {
    if (this.queue.length === 0) return undefined;
    if (this.handedOut && this.pool) {
      this.pool.release(this.handedOut);
      this.handedOut = null;
    }
    const item = this.queue.shift() as Received;
    this.queued -= item.view.length;
    this.handedOut = item.owner;
    this.resumeIfRoom();
    return item.view;
  }

  private resumeIfRoom(): void {
    if (this.closed) return;
    if (this.pool) {
      if (this.stopped && this.pool.canResume()) {
        this.stopped = false;
        // In onread mode, resume() restarts the handle's reading that the callback's `false` stopped.
        this.socket.resume();
      }
    } else if (this.queued < this.readAhead && this.socket.isPaused()) {
      this.socket.resume();
    }
  }

  /** Closes the connection (TLS close_notify, then FIN); a pending read resolves with null. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    this.queued = 0;
    this.handedOut = null;
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 1000).unref();
    this.settle();
  }
}
