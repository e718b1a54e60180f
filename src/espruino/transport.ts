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

/** How a connection attempt settles; dropped once it has, so nothing the socket holds reaches the caller's promise. */
interface Opening {
  resolve: (connection: Connection) => void;
  reject: (error: OtaError) => void;
  timer: unknown;
}

/** One socket as a pull-based Connection, from the connection attempt to the end of the stream. */
class SocketConnection implements Connection {
  info: ConnectionInfo;
  socket: EspruinoSocket | null = null;
  /** Set while the socket is connecting. */
  opening: Opening | null = null;
  private queue: Uint8Array[] = [];
  private queued = 0;
  private ended = false;
  private failure: OtaError | null = null;
  private waiter: Waiter | null = null;

  constructor(private runtime: EspruinoRuntime, tls: boolean, private limit: number, private host: string, private port: number) {
    // No servername: Espruino sends no SNI, and saying otherwise would mislead whoever reads the logs.
    this.info = { protocol: tls ? 'espruino-tls' : 'tcp' };
  }

  /** Settles the connection attempt: with this connection when `failure` is null. False when it had settled already. */
  settle(failure: OtaError | null): boolean {
    const opening = this.opening;
    if (opening === null) return false;
    this.opening = null;
    this.runtime.clearTimeout(opening.timer);
    if (failure === null) {
      opening.resolve(this);
      return true;
    }
    this.ended = true;
    this.failure = failure;
    if (this.socket !== null) this.socket.end();
    this.socket = null;
    opening.reject(failure);
    return true;
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
      if (this.socket !== null) this.socket.end();
      this.socket = null;
      this.finish(otaError('receive-overflow', 'More than ' + this.limit + ' received bytes waited for the reader (Espruino sockets ' +
        'cannot pause the sender); the connection was closed to protect memory: resume from the bytes kept.', true, { limit: this.limit }));
      return;
    }
    this.queue.push(this.runtime.E.toUint8Array(data));
    this.queued += data.length;
  }

  /**
   * The socket's `error` (with its detail) or `close` (without): fails a connection attempt, else ends the stream,
   * with the error unless it is the normal close-notify.
   */
  onEnd(detail?: { code?: number; message?: string }): void {
    const failure = detail === undefined ? null
      : socketError(typeof detail.code === 'number' ? detail.code : 0, typeof detail.message === 'string' ? detail.message : '', this.host);
    if (detail === undefined) this.socket = null;
    if (!this.settle(failure !== null ? failure : otaError('connection-closed', 'Connection to ' + this.host + ':' + this.port +
      ' closed before it opened.', true))) this.finish(failure);
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
    (this.socket as EspruinoSocket).write(this.runtime.E.toString(data));
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

  /**
   * Opens the socket with listeners that reach nothing but this connection: Espruino closures keep every enclosing
   * scope whole, and a socket lives until its close event, so listeners made next to the caller's promise would keep
   * that promise's reactions (the request and everything its callers hold) alive as long. A method, so the minifier
   * cannot inline it into connect().
   */
  open(net: EspruinoNet): void {
    const socket = net.connect({ host: this.host, port: this.port }, () => {
      this.settle(null);
    });
    this.socket = socket;
    socket.on('data', (data) => {
      this.push(data as string);
    });
    socket.on('error', (error) => {
      this.onEnd((error || {}) as { code?: number; message?: string });
    });
    socket.on('close', () => {
      this.onEnd();
    });
  }

  /** Ends the socket; pending and later reads see the end of the stream. */
  close(): void {
    const socket = this.socket;
    this.socket = null;
    if (socket !== null && !this.ended) socket.end();
    this.finish(null);
  }
}

/** Connects over require("net") or require("tls"). Emits the unauthenticated-TLS warning when it is made. */
export class EspruinoTransport implements Transport {
  private runtime: EspruinoRuntime;
  private limit: number;

  constructor(options?: EspruinoTransportOptions) {
    const given = options || {};
    this.runtime = given.runtime || deviceRuntime();
    this.limit = given.maxQueuedBytes || DEFAULT_MAX_QUEUED_BYTES;
    if (given.onEvent) given.onEvent(TLS_UNAUTHENTICATED_WARNING);
  }

  /** Opens a socket; `ca` and `servername` cannot be honoured on Espruino (see TLS_UNAUTHENTICATED_WARNING). */
  connect(options: ConnectOptions): Promise<Connection> {
    const runtime = this.runtime;
    const host = options.host;
    const port = options.port;
    const net = runtime.require(options.tls ? 'tls' : 'net') as EspruinoNet | undefined;
    if (net === undefined || net === null || typeof net.connect !== 'function') {
      return Promise.reject(otaError('transport-unavailable', 'This Espruino build has no "' + (options.tls ? 'tls' : 'net') +
        '" module; use a board with ' + (options.tls ? 'TLS (Espruino WiFi, ESP32)' : 'networking') + ' or plain http.', false));
    }
    const connection = new SocketConnection(runtime, options.tls, this.limit, host, port);
    const opened = new Promise<Connection>(function (resolve, reject) {
      connection.opening = { resolve: resolve, reject: reject, timer: runtime.setTimeout(function () {
        connection.settle(otaError('connect-timeout', 'No connection to ' + host + ':' + port + ' within ' + options.timeoutMs +
          ' ms; check the network and the host.', true, { host: host, port: port }));
      }, options.timeoutMs) };
    });
    try {
      connection.open(net);
    } catch (error) {
      // Espruino throws at once when it cannot even create the socket (no network interface, refused on Linux).
      connection.settle(otaError('connect-failed', 'Could not open a socket to ' + host + ':' + port + ' (' + String(error) + '); ' +
        'check the network connection.', true, { host: host, port: port }));
    }
    return opened;
  }
}
