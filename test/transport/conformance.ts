// The transport conformance suite: what every TLS Transport must do against real servers on 127.0.0.1, whichever
// TLS stack is inside. Run it from a .test.ts file with `describeTransportConformance(name, makeTransport, caps)`.
// Assertions use the shared error codes of src/http/transport-errors.ts, never a stack's own message text.
import { beforeAll, describe, expect, it } from 'vitest';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket, type TlsOptions, type Server as TlsServer } from 'node:tls';
import { createHash, randomBytes } from 'node:crypto';
import type { Connection, Transport } from '../../src/http/transport.js';
import { TRANSPORT_ERRORS } from '../../src/http/transport-errors.js';
import { testPki, type CertKey, type KeyKind, type TestPki } from '../../src/tools/pki.js';

/** What a test asks of the transport under test. */
export interface MakeTransportOptions {
  /** Trusted roots, DER. */
  ca: Uint8Array[];
  /** Send no SNI (test-only; only asked when `capabilities.omitSni`). */
  omitSni?: boolean;
  /** Current time for certificate validity, ms since the epoch (only asked when `capabilities.injectedClock`). */
  nowMs?: number;
}

/** What the transport under test can do; the suite skips nothing silently: absent capabilities run their own checks. */
export interface TransportCapabilities {
  /** Supports RSA / ECDSA server certificates (default both). */
  rsa?: boolean;
  ecdsa?: boolean;
  /** Negotiates TLS 1.2 / 1.3 (default both). */
  tls12?: boolean;
  tls13?: boolean;
  /** Has a test-only way to omit SNI (to reproduce devices built without it). */
  omitSni?: boolean;
  /** Checks certificate dates against an injected clock (mbedTLS); node:tls uses the system clock. */
  injectedClock?: boolean;
}

/** Makes the transport under test for one case. */
export type MakeTransport = (options: MakeTransportOptions) => Transport | Promise<Transport>;

interface RunningServer {
  port: number;
  /** SNI of each accepted connection (false when none was sent). */
  sni: (string | false)[];
  /** Resolves with the bytes a connection received and whether it ended cleanly. */
  ended: Promise<void>[];
  close(): Promise<void>;
}

function listen(server: NetServer | TlsServer): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

function closeServer(server: NetServer | TlsServer, sockets: Socket[]): Promise<void> {
  for (const socket of sockets) socket.destroy();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** A TLS echo server recording SNI; `serve` may replace the echo (`raw` is the TCP socket under the TLS one). */
async function tlsServer(options: TlsOptions, serve?: (socket: TLSSocket, raw: Socket) => void): Promise<RunningServer> {
  const sni: (string | false)[] = [];
  const ended: Promise<void>[] = [];
  const sockets: Socket[] = [];
  const server = createTlsServer(options, (socket) => {
    sni.push((socket as TLSSocket & { servername?: string | false }).servername ?? false);
    ended.push(new Promise((resolve) => socket.once('end', () => resolve())));
    const raw = sockets.find((candidate) => candidate.remotePort === socket.remotePort) as Socket;
    if (serve) serve(socket, raw);
    else {
      socket.on('data', (data) => socket.write(data));
      socket.on('end', () => socket.end());
    }
    socket.on('error', () => undefined);
  });
  server.on('connection', (socket: Socket) => { sockets.push(socket); });
  server.on('tlsClientError', () => undefined);
  const port = await listen(server);
  return { port, sni, ended, close: () => closeServer(server, sockets) };
}

/** A plain TCP server with custom behaviour (stalls, closes mid-handshake). */
async function tcpServer(onSocket: (socket: Socket) => void): Promise<RunningServer> {
  const sockets: Socket[] = [];
  const server = createNetServer((socket) => {
    sockets.push(socket);
    socket.on('error', () => undefined);
    onSocket(socket);
  });
  const port = await listen(server);
  return { port, sni: [], ended: [], close: () => closeServer(server, sockets) };
}

/** Waits (bounded) until the server has accepted `count` TLS connections: it may finish after the client does. */
async function accepted(server: RunningServer, count: number): Promise<void> {
  for (let i = 0; i < 500 && server.sni.length < count; i++) await new Promise((r) => setTimeout(r, 5));
}

function serverOptions(cert: CertKey, extra: TlsOptions = {}): TlsOptions {
  return { cert: cert.chainPem, key: cert.keyPem, ...extra };
}

async function readAll(connection: Connection, limit: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let total = 0;
  for (let i = 0; i < 1_000_000; i++) {
    const chunk = await connection.read();
    if (chunk === null) break;
    parts.push(Buffer.from(chunk));
    total += chunk.length;
    if (total >= limit) break;
  }
  return Buffer.concat(parts);
}

async function failure(promise: Promise<unknown>): Promise<{ code: string; message: string; retryable: boolean }> {
  try {
    const value = await promise;
    if (value && typeof (value as Connection).close === 'function') (value as Connection).close();
  } catch (error) {
    return error as { code: string; message: string; retryable: boolean };
  }
  throw new Error('expected the connection to fail, but it succeeded');
}

const VERIFY_CODES: string[] = [TRANSPORT_ERRORS.unknownCa, TRANSPORT_ERRORS.invalidChain];

/**
 * Registers the conformance tests for one transport. `makeTransport` is called per case with the roots to trust.
 */
export function describeTransportConformance(name: string, makeTransport: MakeTransport, capabilities: TransportCapabilities = {}): void {
  const kinds: KeyKind[] = [];
  if (capabilities.rsa !== false) kinds.push('rsa');
  if (capabilities.ecdsa !== false) kinds.push('ecdsa');

  describe(`transport conformance: ${name}`, () => {
    const pkis: { [kind: string]: TestPki } = {};
    beforeAll(() => {
      for (const kind of kinds) pkis[kind] = testPki(kind);
    });

    for (const kind of kinds) {
      describe(`${kind.toUpperCase()} server certificates`, () => {
        const open = async (server: RunningServer, host: string, extra: Partial<MakeTransportOptions> = {}, servername?: string) => {
          const transport = await makeTransport({ ca: [pkis[kind].root.certDer], ...extra });
          return transport.connect({ host, port: server.port, tls: true, servername, timeoutMs: 5000 });
        };

        it('connects, sends SNI naming the host, verifies the chain, and carries bytes both ways', async () => {
          const server = await tlsServer(serverOptions(pkis[kind].leaf));
          try {
            const connection = await open(server, 'localhost');
            await accepted(server, 1);
            expect(server.sni).toEqual(['localhost']);
            expect(connection.info?.servername).toBe('localhost');
            const message = randomBytes(3000);
            await connection.write(message);
            const echoed = await readAll(connection, message.length);
            expect(echoed.equals(message)).toBe(true);
            connection.close();
            await server.ended[0];
          } finally {
            await server.close();
          }
        });

        it('sends the given servername when connecting to an IP address', async () => {
          const server = await tlsServer(serverOptions(pkis[kind].leaf));
          try {
            const connection = await open(server, '127.0.0.1', {}, 'localhost');
            await accepted(server, 1);
            expect(server.sni).toEqual(['localhost']);
            connection.close();
          } finally {
            await server.close();
          }
        });

        it('sends no SNI for an IP literal but still verifies the address against the certificate', async () => {
          const server = await tlsServer(serverOptions(pkis[kind].leaf));
          try {
            const connection = await open(server, '127.0.0.1');
            await accepted(server, 1);
            expect(server.sni).toEqual([false]);
            connection.close();
            const wrong = await tlsServer(serverOptions(pkis[kind].wrongHostLeaf));
            try {
              const error = await failure(open(wrong, '127.0.0.1'));
              expect(error.code).toBe(TRANSPORT_ERRORS.nameMismatch);
            } finally {
              await wrong.close();
            }
          } finally {
            await server.close();
          }
        });

        it('refuses a certificate from a root the device does not trust, naming the issuer', async () => {
          const server = await tlsServer(serverOptions(pkis[kind].untrustedLeaf));
          try {
            const error = await failure(open(server, 'localhost'));
            expect(error.code).toBe(TRANSPORT_ERRORS.unknownCa);
            expect(error.message).toContain(pkis[kind].otherRoot.commonName);
            expect(error.retryable).toBe(false);
          } finally {
            await server.close();
          }
        });

        it('refuses a certificate for another host, naming both names', async () => {
          const server = await tlsServer(serverOptions(pkis[kind].wrongHostLeaf));
          try {
            const error = await failure(open(server, 'localhost'));
            expect(error.code).toBe(TRANSPORT_ERRORS.nameMismatch);
            expect(error.message).toContain('wrong.example.test');
            expect(error.message).toContain('localhost');
          } finally {
            await server.close();
          }
        });

        it('refuses expired and not-yet-valid certificates', async () => {
          const expired = await tlsServer(serverOptions(pkis[kind].expiredLeaf));
          const future = await tlsServer(serverOptions(pkis[kind].notYetValidLeaf));
          try {
            expect((await failure(open(expired, 'localhost'))).code).toBe(TRANSPORT_ERRORS.expired);
            expect((await failure(open(future, 'localhost'))).code).toBe(TRANSPORT_ERRORS.notYetValid);
          } finally {
            await expired.close();
            await future.close();
          }
        });

        it('refuses a chain in which a non-CA leaf signed the server certificate', async () => {
          const server = await tlsServer(serverOptions(pkis[kind].leafSignedLeaf));
          try {
            const error = await failure(open(server, 'localhost'));
            expect(VERIFY_CODES).toContain(error.code);
          } finally {
            await server.close();
          }
        });

        if (capabilities.injectedClock) {
          it('checks validity against the injected clock (1970 -> not yet valid, 2100 -> expired)', async () => {
            const server = await tlsServer(serverOptions(pkis[kind].leaf));
            try {
              expect((await failure(open(server, 'localhost', { nowMs: 0 }))).code).toBe(TRANSPORT_ERRORS.notYetValid);
              expect((await failure(open(server, 'localhost', { nowMs: Date.parse('2100-01-01') }))).code).toBe(TRANSPORT_ERRORS.expired);
            } finally {
              await server.close();
            }
          });
        }
      });
    }

    const anyKind = (): TestPki => pkis[kinds[0]];

    const versions: ['TLSv1.2' | 'TLSv1.3', boolean][] = [['TLSv1.2', capabilities.tls12 !== false], ['TLSv1.3', capabilities.tls13 !== false]];
    for (const [version, supported] of versions) {
      it(supported ? `negotiates ${version} with a ${version}-only server` : `fails cleanly against a ${version}-only server`, async () => {
        const server = await tlsServer(serverOptions(anyKind().leaf, { minVersion: version, maxVersion: version }));
        try {
          const transport = await makeTransport({ ca: [anyKind().root.certDer] });
          if (supported) {
            const connection = await transport.connect({ host: 'localhost', port: server.port, tls: true, timeoutMs: 5000 });
            expect(connection.info?.protocol).toBe(version);
            connection.close();
          } else {
            const error = await failure(transport.connect({ host: 'localhost', port: server.port, tls: true, timeoutMs: 5000 }));
            expect(error.code).toMatch(/^tls-/);
          }
        } finally {
          await server.close();
        }
      });
    }

    if (capabilities.omitSni) {
      it('without SNI, is refused by a server that requires it, and names SNI as the likely cause', async () => {
        // No default certificate: the server can only answer a ClientHello that names a host (alert 40 otherwise).
        const pki = anyKind();
        const server = await tlsServer({
          SNICallback: (servername, callback) => {
            callback(null, undefined as never);
            void servername;
          },
        });
        try {
          const transport = await makeTransport({ ca: [pki.root.certDer], omitSni: true });
          const error = await failure(transport.connect({ host: 'localhost', port: server.port, tls: true, timeoutMs: 5000 }));
          expect([TRANSPORT_ERRORS.sniRejected, TRANSPORT_ERRORS.handshakeRefused, TRANSPORT_ERRORS.peerClosedHandshake]).toContain(error.code);
          expect(error.message).toMatch(/SNI/);
          expect(error.message).toMatch(/no SNI was sent/);
          expect(server.sni).toEqual([]);
        } finally {
          await server.close();
        }
      });
    }

    it('reports a server that closes during the handshake, pointing at SNI only when none was sent', async () => {
      const server = await tcpServer((socket) => { socket.once('data', () => socket.destroy()); });
      try {
        const transport = await makeTransport({ ca: [anyKind().root.certDer] });
        const error = await failure(transport.connect({ host: 'localhost', port: server.port, tls: true, timeoutMs: 5000 }));
        expect(error.code).toBe(TRANSPORT_ERRORS.peerClosedHandshake);
        expect(error.message).toContain('SNI "localhost" was sent');
      } finally {
        await server.close();
      }
    });

    it('times out a server that accepts TCP but never answers the ClientHello', async () => {
      const server = await tcpServer(() => undefined);
      try {
        const transport = await makeTransport({ ca: [anyKind().root.certDer] });
        const error = await failure(transport.connect({ host: 'localhost', port: server.port, tls: true, timeoutMs: 300 }));
        expect(error.code).toBe(TRANSPORT_ERRORS.connectTimeout);
        expect(error.retryable).toBe(true);
      } finally {
        await server.close();
      }
    });

    it('reports a refused connection', async () => {
      const probe = await tcpServer(() => undefined);
      const port = probe.port;
      await probe.close();
      const transport = await makeTransport({ ca: [anyKind().root.certDer] });
      const error = await failure(transport.connect({ host: '127.0.0.1', port, tls: true, servername: 'localhost', timeoutMs: 5000 }));
      expect(error.code).toBe(TRANSPORT_ERRORS.connectionRefused);
    });

    it('reports a reset after the handshake as a retryable connection-reset', async () => {
      const server = await tlsServer(serverOptions(anyKind().leaf), (socket, raw) => {
        socket.once('data', () => {
          socket.write(Buffer.alloc(1000, 1), () => setTimeout(() => raw.resetAndDestroy(), 20));
        });
      });
      try {
        const transport = await makeTransport({ ca: [anyKind().root.certDer] });
        const connection = await transport.connect({ host: 'localhost', port: server.port, tls: true, timeoutMs: 5000 });
        await connection.write(Buffer.from('go'));
        let error: { code: string; retryable: boolean } | null = null;
        try {
          for (let i = 0; i < 10_000; i++) if ((await connection.read()) === null) break;
        } catch (e) {
          error = e as { code: string; retryable: boolean };
        }
        expect(error).not.toBeNull();
        expect(error?.code).toBe(TRANSPORT_ERRORS.connectionReset);
        expect(error?.retryable).toBe(true);
        connection.close();
      } finally {
        await server.close();
      }
    });

    it('moves 8 MiB from the server intact while the reader is slow (back-pressure, no loss)', async () => {
      const payload = randomBytes(8 * 1024 * 1024);
      const server = await tlsServer(serverOptions(anyKind().leaf), (socket) => {
        socket.once('data', () => socket.end(payload));
      });
      try {
        const transport = await makeTransport({ ca: [anyKind().root.certDer] });
        const connection = await transport.connect({ host: 'localhost', port: server.port, tls: true, timeoutMs: 5000 });
        await connection.write(Buffer.from('go'));
        const hash = createHash('sha256');
        let total = 0;
        for (let i = 0; i < 1_000_000; i++) {
          const chunk = await connection.read();
          if (chunk === null) break;
          hash.update(chunk);
          total += chunk.length;
          if (i % 64 === 0) await new Promise((r) => setTimeout(r, 1));
        }
        expect(total).toBe(payload.length);
        expect(hash.digest('hex')).toBe(createHash('sha256').update(payload).digest('hex'));
        connection.close();
      } finally {
        await server.close();
      }
    });
  });

}
