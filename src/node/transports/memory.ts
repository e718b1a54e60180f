// In-memory connections for tests: a connected pair of Connections, and a Transport that hands the server side of
// each new pair to a handler. No sockets, no timers: deterministic, and fast enough for property tests.
import type { Connection, ConnectionInfo, ConnectOptions, Transport } from '../../http/transport.js';
import { otaError, type OtaError } from '../../util/errors.js';
import { TRANSPORT_ERRORS } from '../../http/transport-errors.js';
import { PendingRead } from './pending-read.js';

/** One end of an in-memory pipe. Writes are copied, so callers may reuse their buffers. */
export class MemoryConnection implements Connection {
  info?: ConnectionInfo;
  /** The other end; set by memoryPipe. */
  peer: MemoryConnection | null = null;
  /** Bytes this end has read so far (tests check bounds on traffic). */
  bytesRead = 0;
  private queue: Uint8Array[] = [];
  private ended = false;
  private failure: OtaError | null = null;
  private closed = false;
  private readonly pending = new PendingRead();

  constructor(info?: ConnectionInfo) {
    this.info = info;
  }

  /** Whether close() or destroy() was called on this end. */
  isClosed(): boolean {
    return this.closed;
  }

  /** Sends a copy of `data` to the peer. */
  write(data: Uint8Array): Promise<void> {
    if (this.closed) return Promise.reject(otaError('connection-closed', 'Write on a closed in-memory connection.', false));
    const peer = this.peer;
    if (peer && !peer.closed && data.length > 0) peer.deliver(new Uint8Array(data));
    return Promise.resolve();
  }

  private deliver(chunk: Uint8Array): void {
    if (this.pending.give(chunk)) this.bytesRead += chunk.length;
    else this.queue.push(chunk);
  }

  private settle(): void {
    this.pending.settle(this.queue.length, this.failure, this.ended || this.closed);
  }

  /** The next chunk the peer wrote, or null once the peer closed and everything was read. */
  read(): Promise<Uint8Array | null> {
    if (this.queue.length > 0) {
      const chunk = this.queue.shift() as Uint8Array;
      this.bytesRead += chunk.length;
      return Promise.resolve(chunk);
    }
    if (this.failure) return Promise.reject(this.failure);
    if (this.ended || this.closed) return Promise.resolve(null);
    return this.pending.wait();
  }

  /** Closes this end: the peer reads what is queued, then null. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    this.settle();
    const peer = this.peer;
    if (peer) {
      peer.ended = true;
      peer.settle();
    }
  }

  /** Simulates a connection reset: both ends fail their pending and next reads; queued data is lost. */
  destroy(): void {
    const error = otaError(TRANSPORT_ERRORS.connectionReset, 'The in-memory connection was reset by the peer; retry.', true);
    const ends = [this, this.peer];
    for (const end of ends) {
      if (!end) continue;
      end.queue = [];
      if (!end.closed) end.failure = error;
      end.closed = true;
      end.settle();
    }
  }
}

/** Two connected ends: what one writes, the other reads. */
export function memoryPipe(info?: ConnectionInfo): [MemoryConnection, MemoryConnection] {
  const client = new MemoryConnection(info);
  const server = new MemoryConnection(info);
  client.peer = server;
  server.peer = client;
  return [client, server];
}

/** Handles the server side of each new in-memory connection. */
export type MemoryServer = (server: MemoryConnection, options: ConnectOptions) => void;

/** A Transport whose connections end in `server`, in the same process. Records every client end it made. */
export class MemoryTransport implements Transport {
  /** Client ends of every connection, in order. */
  readonly connections: MemoryConnection[] = [];
  /** When set, connect() rejects with this error (to test connect failures). */
  failNextConnect: OtaError | null = null;

  constructor(private readonly server: MemoryServer, private readonly info: ConnectionInfo = { protocol: 'memory' }) {}

  /** Makes a pipe, gives its server end to the handler, resolves with the client end. */
  connect(options: ConnectOptions): Promise<Connection> {
    if (this.failNextConnect) {
      const error = this.failNextConnect;
      this.failNextConnect = null;
      return Promise.reject(error);
    }
    const info: ConnectionInfo = { ...this.info };
    if (options.tls) info.servername = options.servername ?? options.host;
    const pair = memoryPipe(info);
    this.connections.push(pair[0]);
    this.server(pair[1], options);
    return Promise.resolve(pair[0]);
  }
}
