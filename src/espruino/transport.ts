import type { Connection, ConnectionInfo, ConnectOptions, Transport } from '../http/transport.js';
import { otaError } from '../util/errors.js';
import type { OtaError } from '../util/errors.js';
import type { EspruinoNet, EspruinoRuntime, EspruinoSocket } from './runtime.js';
import { deviceRuntime } from './runtime.js';
import { socketError } from './socket-error.js';
import { TLS_UNAUTHENTICATED_WARNING } from './tls-warning.js';
import type { EspruinoEvent } from './tls-warning.js';

// A Transport over Espruino sockets. Data arrives as short 8-bit strings (536 B on most ports, 268 B on ESP8266);
// each is copied into a Uint8Array at once (319 blocks per 4 KiB instead of 456 as a string) and handed out in order.

/** Options of the Espruino transport. */
export interface EspruinoTransportOptions {
  /** The firmware; defaults to the real globals. */
  runtime?: EspruinoRuntime;
  /** Receives the start-up warning about Espruino's unauthenticated TLS. */
  onEvent?: (event: EspruinoEvent) => void;
  /**
   * Most received bytes held while the reader is behind; default 8192. Espruino sockets have no back-pressure (the
   * firmware reads the network whether or not anyone consumes), so past this the connection fails with a retryable
   * `receive-overflow` instead of running the board out of memory; the download then resumes with a Range request.
   */
  maxQueuedBytes?: number;
}

/** Default limit of bytes queued per connection. */
export const DEFAULT_MAX_QUEUED_BYTES = 8192;

interface Waiter {
  resolve: (value: Uint8Array | null) => void;
  reject: (error: OtaError) => void;
}

/** One open socket as a pull-based Connection. */
class SocketConnection implements Connection {
  info: ConnectionInfo;
  private queue: Uint8Array[] = [];
  private queued = 0;
  /** Most bytes ever queued on this connection, for diagnostics. */
  peakQueued = 0;
  private ended = false;
  private failure: OtaError | null = null;
  private waiter: Waiter | null = null;

  constructor(private socket: EspruinoSocket, private runtime: EspruinoRuntime, tls: boolean, private limit: number) {
    // No servername: Espruino sends no SNI, and saying otherwise would mislead whoever reads the logs.
    this.info = { protocol: tls ? 'espruino-tls' : 'tcp' };
  }

  /** Called for each `data` string. */
  push(data: string): void {
    if (this.ended) return;
    const waiter = this.waiter;
    if (waiter !== null) {
      this.waiter = null;
      waiter.resolve(this.runtime.E.toUint8Array(data));
      return;
    }
    if (this.queued + data.length > this.limit) {
      this.queue = [];
      this.queued = 0;
      this.socket.end();
      this.finish(otaError('receive-overflow', 'More than ' + this.limit + ' received bytes waited for the reader (Espruino sockets ' +
        'cannot pause the sender); the connection was closed to protect memory: resume from the bytes kept.', true, { limit: this.limit }));
      return;
    }
    this.queue.push(this.runtime.E.toUint8Array(data));
    this.queued += data.length;
    if (this.queued > this.peakQueued) this.peakQueued = this.queued;
  }

  /** Called at `close`, or with an error; a later failure never replaces the first outcome. */
  finish(failure: OtaError | null): void {
    if (this.ended) return;
    this.ended = true;
    this.failure = failure;
    const waiter = this.waiter;
    if (waiter === null || this.queue.length > 0) return;
    this.waiter = null;
    if (failure === null) waiter.resolve(null);
    else waiter.reject(failure);
  }

  /** Sends bytes as one flat string. */
  write(data: Uint8Array): Promise<void> {
    if (this.ended) {
      return Promise.reject(this.failure !== null ? this.failure
        : otaError('connection-closed', 'Cannot write ' + data.length + ' bytes: the connection is already closed; open a new one.', true));
    }
    this.socket.write(this.runtime.E.toString(data));
    return Promise.resolve();
  }

  /** The next chunk, or null at the end of the stream. */
  read(): Promise<Uint8Array | null> {
    if (this.queue.length > 0) {
      const chunk = this.queue.shift() as Uint8Array;
      this.queued -= chunk.length;
      return Promise.resolve(chunk);
    }
    if (this.ended) return this.failure !== null ? Promise.reject(this.failure) : Promise.resolve(null);
    if (this.waiter !== null) {
      return Promise.reject(otaError('read-in-progress', 'A read is already pending on this connection; wait for it before reading again.', false));
    }
    return new Promise((resolve, reject) => {
      this.waiter = { resolve: resolve, reject: reject };
    });
  }

  /** Ends the socket; pending and later reads see the end of the stream. */
  close(): void {
    if (!this.ended) this.socket.end();
    this.finish(null);
  }
}

/** Connects over require("net") or require("tls"). Emits the unauthenticated-TLS warning when it is made. */
export class EspruinoTransport implements Transport {
  private runtime: EspruinoRuntime;
  private limit: number;

  constructor(options?: EspruinoTransportOptions) {
    const given = options === undefined ? undefined : options;
    this.runtime = given !== undefined && given.runtime !== undefined ? given.runtime : deviceRuntime();
    this.limit = given !== undefined && given.maxQueuedBytes !== undefined ? given.maxQueuedBytes : DEFAULT_MAX_QUEUED_BYTES;
    if (given !== undefined && given.onEvent !== undefined) given.onEvent(TLS_UNAUTHENTICATED_WARNING);
  }

  /** Opens a socket; `ca` and `servername` cannot be honoured on Espruino (see TLS_UNAUTHENTICATED_WARNING). */
  connect(options: ConnectOptions): Promise<Connection> {
    const runtime = this.runtime;
    const host = options.host;
    const limit = this.limit;
    return new Promise(function (resolve, reject) {
      const net = runtime.require(options.tls ? 'tls' : 'net') as EspruinoNet | undefined;
      if (net === undefined || net === null || typeof net.connect !== 'function') {
        reject(otaError('transport-unavailable', 'This Espruino build has no "' + (options.tls ? 'tls' : 'net') +
          '" module; use a board with ' + (options.tls ? 'TLS (Espruino WiFi, ESP32)' : 'networking') + ' or plain http.', false));
        return;
      }
      let connection: SocketConnection | null = null;
      let settled = false;
      let socket: EspruinoSocket | null = null;
      const timer = runtime.setTimeout(function () {
        if (settled) return;
        settled = true;
        if (socket !== null) socket.end();
        reject(otaError('connect-timeout', 'No connection to ' + host + ':' + options.port + ' within ' + options.timeoutMs +
          ' ms; check the network and the host.', true, { host: host, port: options.port }));
      }, options.timeoutMs);
      try {
        socket = net.connect({ host: host, port: options.port }, function () {
          if (settled) return;
          settled = true;
          runtime.clearTimeout(timer);
          resolve(connection as SocketConnection);
        });
      } catch (error) {
        // Espruino throws at once when it cannot even create the socket (no network interface, refused on Linux).
        settled = true;
        runtime.clearTimeout(timer);
        reject(otaError('connect-failed', 'Could not open a socket to ' + host + ':' + options.port + ' (' + String(error) + '); ' +
          'check the network connection.', true, { host: host, port: options.port }));
        return;
      }
      connection = new SocketConnection(socket, runtime, options.tls, limit);
      const opened = connection;
      socket.on('data', function (data) {
        opened.push(data as string);
      });
      socket.on('error', function (error) {
        const detail = error as { code?: number; message?: string } | undefined;
        const code = detail !== undefined && typeof detail.code === 'number' ? detail.code : 0;
        const failure = socketError(code, detail !== undefined && typeof detail.message === 'string' ? detail.message : '', host);
        if (!settled) {
          settled = true;
          runtime.clearTimeout(timer);
          reject(failure !== null ? failure : otaError('connection-closed', 'Connection to ' + host + ' closed during the handshake.', true));
          return;
        }
        opened.finish(failure);
      });
      socket.on('close', function () {
        if (!settled) {
          settled = true;
          runtime.clearTimeout(timer);
          reject(otaError('connection-closed', 'Connection to ' + host + ':' + options.port + ' closed before it opened.', true));
          return;
        }
        opened.finish(null);
      });
    });
  }
}
