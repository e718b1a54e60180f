// The mbedTLS-in-wasm clients of `npm run bench:download`, and the node:tls reference forced onto ChaCha20-Poly1305
// so each mbedTLS figure has a node:tls figure on the same cipher suite beside it. The server keeps its own order
// (AES-256-GCM first under TLS 1.3); offering a single suite from the client forces the other one.
import { connect, type ConnectionOptions } from 'node:tls';
import { crc32 as nativeCrc32 } from 'node:zlib';
import type { Connection, ConnectOptions, Transport } from '../../src/http/transport.js';
import { MbedTlsTransport } from '../../src/node/transports/mbedtls.js';
import { DEFAULT_READ_AHEAD, READ_CHUNK, ReadPool, SocketConnection } from '../../src/node/transports/socket-connection.js';
import type { Job, Runner } from './download-runners.js';

/** The suite both ChaCha20 clients are limited to. */
export const CHACHA = 'TLS_CHACHA20_POLY1305_SHA256';

/**
 * node:tls offering only `suite`, reading through recycled buffers as NodeTlsTransport does (a benchmark reference,
 * not a product transport: it has no error mapping).
 */
function nodeTlsWithSuite(caPem: string, suite: string): Transport {
  return {
    connect: (options: ConnectOptions) => new Promise<Connection>((resolve, reject) => {
      const pool = new ReadPool(READ_CHUNK, Math.ceil(DEFAULT_READ_AHEAD / READ_CHUNK) + 2);
      const connectOptions: ConnectionOptions & { onread?: ReturnType<ReadPool['onread']> } = {
        host: options.host, port: options.port, servername: options.servername ?? options.host, ca: caPem, ciphers: suite,
        ALPNProtocols: ['http/1.1'], onread: pool.onread(),
      };
      const socket = connect(connectOptions, () => {
        socket.off('error', reject);
        resolve(new SocketConnection(socket, options.host, options.port, DEFAULT_READ_AHEAD,
          { protocol: socket.getProtocol() ?? undefined, cipher: socket.getCipher().name }, pool));
      });
      socket.once('error', reject);
    }),
  };
}

type OursWith = (makeTransport: (job: Job) => Transport, crcOf: ((crc: number, chunk: Uint8Array) => number) | null) => Runner;

/** Runners to merge into RUNNERS; takes download-runners' `oursWith` so every client shares the same HTTP path and sink. */
export function mbedtlsRunners(oursWith: OursWith): { [name: string]: Runner } {
  const crc = (value: number, chunk: Uint8Array): number => nativeCrc32(chunk, value);
  return {
    mbedtls: oursWith(() => new MbedTlsTransport(), crc),
    'mbedtls-chacha': oursWith(() => new MbedTlsTransport({ ciphersuites: [CHACHA] }), crc),
    'ours-chacha': oursWith((job) => nodeTlsWithSuite(job.caPem, CHACHA), crc),
  };
}
