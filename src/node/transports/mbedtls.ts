// TLS transport running mbedTLS 3.6 compiled to WebAssembly: the firmware's own TLS stack, with its failure modes,
// in the simulator. Same contract and error codes as the node:tls transport; the device-parity knobs (SNI off, record
// buffer, max_fragment_length, suites, curves, clock) are constructor options, so the core never learns which
// transport it holds.
import { connect as tcpConnect, type Socket } from 'node:net';
import type { Connection, ConnectOptions, Transport } from '../../http/transport.js';
import { TRANSPORT_ERRORS } from '../../http/transport-errors.js';
import { isOtaError, otaError, toOtaError } from '../../util/errors.js';
import { MbedTlsConnection, type ConnectionTarget } from '../mbedtls/connection.js';
import { resolveOptions, type MbedTlsTransportOptions, type ResolvedOptions } from '../mbedtls/options.js';
import { MbedTlsSession } from '../mbedtls/session.js';
import { MbedTlsEngine, loadMbedTlsModule, mbedTlsWasmPath } from '../mbedtls/wasm.js';
import { connectError, connectTimeoutError } from './connect-errors.js';
import { serverName } from './server-name.js';
import { trustedRootsProblem } from './trusted-roots.js';

export type { MbedTlsTransportOptions } from '../mbedtls/options.js';

/** Memory figures of the transport's wasm instance. */
export interface MbedTlsMemoryStats {
  /** Bytes of wasm linear memory (grows, never shrinks). */
  memoryBytes: number;
  /** Bytes and blocks mbedTLS holds right now (0 sessions open = the idle baseline). */
  heapBytes: number;
  heapBlocks: number;
}

/** Opens TLS connections through mbedTLS-in-wasm; one wasm instance per transport, one session per connection. */
export class MbedTlsTransport implements Transport {
  private readonly resolved: ResolvedOptions;
  private engine: Promise<MbedTlsEngine> | null = null;

  /** Validates the options now (throws `mbedtls-bad-option`); the wasm module loads on the first connect. */
  constructor(private readonly options: MbedTlsTransportOptions = {}) {
    this.resolved = resolveOptions(options);
  }

  private instance(): Promise<MbedTlsEngine> {
    const current = this.engine;
    if (current !== null) {
      return current.then((engine) => {
        if (!engine.broken) return engine;
        this.engine = null;
        return this.instance();
      });
    }
    const clock = this.resolved.clock;
    const made = loadMbedTlsModule(this.options.wasmPath ?? mbedTlsWasmPath()).then((module) => MbedTlsEngine.create(module, { now: () => clock.now() }));
    this.engine = made;
    made.catch(() => { if (this.engine === made) this.engine = null; });
    return made;
  }

  /** Memory of the wasm instance (loads it if needed): for leak tests and diagnostics. */
  memoryStats(): Promise<MbedTlsMemoryStats> {
    return this.instance().then((engine) => {
      const heap = engine.heap();
      return { memoryBytes: engine.memoryBytes(), heapBytes: heap.bytes, heapBlocks: heap.blocks };
    });
  }

  /** Opens a verified TLS connection, or rejects with the same error codes as the node:tls transport. */
  connect(options: ConnectOptions): Promise<Connection> {
    const host = options.host;
    const port = options.port;
    if (!options.tls) {
      return Promise.reject(otaError('transport-tls-only', `MbedTlsTransport only opens TLS connections; use the TCP transport for http://${host}:${port}.`, false));
    }
    const ca = options.ca ?? this.options.ca;
    if (!ca || ca.length === 0) {
      return Promise.reject(otaError(TRANSPORT_ERRORS.noRoots, `No trusted roots given for ${host}:${port}; pass the device bundle as ca (mbedTLS trusts nothing else).`, false));
    }
    const rootsProblem = trustedRootsProblem(ca);
    if (rootsProblem !== null) return Promise.reject(rootsProblem);
    // mbedtls_ssl_set_hostname is always called, with the name serverName() picks; an IP literal is verified against
    // the certificate's IP SANs but, as with node:tls, never sent as SNI.
    const name = serverName(options);
    if (isOtaError(name)) return Promise.reject(name);
    const expectedName = name.expectedName;
    const sendSni = this.resolved.sni && name.sni !== null;
    const sessionOptions: ResolvedOptions = sendSni === this.resolved.sni ? this.resolved : Object.assign({}, this.resolved, { sni: false });
    const target: ConnectionTarget = { host, port, expectedName, sni: sendSni ? expectedName : null, options: sessionOptions };
    return this.instance().then((engine) => new Promise<Connection>((resolve, reject) => {
      let session: MbedTlsSession;
      try {
        session = new MbedTlsSession(engine, { ca, hostname: expectedName, options: sessionOptions });
      } catch (error) {
        reject(error);
        return;
      }
      let settled = false;
      let tcpConnected = false;
      let connection: MbedTlsConnection | null = null;
      let socket: Socket;
      try {
        socket = tcpConnect({ host, port, noDelay: true });
      } catch (error) {
        session.free();
        reject(toOtaError(error, 'connect-failed', false));
        return;
      }
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        if (connection) connection.destroy();
        else {
          session.free();
          socket.destroy();
        }
        reject(connectTimeoutError(host, port, options.timeoutMs, tcpConnected ? 'TLS handshake' : 'TCP connect'));
      }, options.timeoutMs);
      const onConnectError = (error: NodeJS.ErrnoException): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        session.free();
        socket.destroy();
        reject(connectError(error, host, port));
      };
      socket.once('error', onConnectError);
      socket.once('connect', () => {
        tcpConnected = true;
        socket.off('error', onConnectError);
        connection = new MbedTlsConnection(socket, session, engine, target);
        connection.handshake().then(() => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve(connection as MbedTlsConnection);
        }, (error) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          reject(error);
        });
      });
    }));
  }
}
