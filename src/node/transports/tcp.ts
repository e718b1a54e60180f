// Plain TCP transport for http:// endpoints (the mock backend in CI, a local proxy). Refuses tls: true.
import { connect as netConnect } from 'node:net';
import type { Connection, ConnectOptions, Transport } from '../../http/transport.js';
import { otaError } from '../../util/errors.js';
import { connectError, connectTimeoutError } from './connect-errors.js';
import { DEFAULT_READ_AHEAD, READ_CHUNK, ReadPool, SocketConnection } from './socket-connection.js';

/** Options of the TCP transport. */
export interface TcpTransportOptions {
  /** Bytes buffered ahead of the reader before the socket pauses (default 256 KiB). */
  readAhead?: number;
  /** Read into recycled buffers (default true); chunks are then valid until the next read() or close(). */
  recycleBuffers?: boolean;
}

/** Connections over node:net. */
export class TcpTransport implements Transport {
  constructor(private readonly options: TcpTransportOptions = {}) {}

  /** Opens a TCP connection; rejects `tls: true` because this transport has no TLS. */
  connect(options: ConnectOptions): Promise<Connection> {
    if (options.tls) {
      return Promise.reject(otaError('transport-no-tls', `TcpTransport cannot open a TLS connection to ${options.host}:${options.port}; use the node:tls transport for https URLs.`, false));
    }
    const readAhead = this.options.readAhead ?? DEFAULT_READ_AHEAD;
    const pool = this.options.recycleBuffers === false ? null : new ReadPool(READ_CHUNK, Math.ceil(readAhead / READ_CHUNK) + 2);
    return new Promise<Connection>((resolve, reject) => {
      const socket = netConnect({ host: options.host, port: options.port, noDelay: true, onread: pool ? pool.onread() : undefined });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(connectTimeoutError(options.host, options.port, options.timeoutMs, 'TCP connect'));
      }, options.timeoutMs);
      socket.once('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(connectError(error, options.host, options.port));
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new SocketConnection(socket, options.host, options.port, readAhead, { protocol: 'tcp' }, pool));
      });
    });
  }
}
