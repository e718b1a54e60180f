// Download clients of `npm run bench:download` that run inside a child process (one download per process, so peak
// RSS belongs to that client alone). Add a client by adding a runner here and an entry to CLIENTS in
// bench/lib/download-clients.ts.
import { connect, type ConnectionOptions } from 'node:tls';
import { crc32 as nativeCrc32 } from 'node:zlib';
import { HttpClient } from '../../src/http/client.js';
import { NodeTlsTransport } from '../../src/node/transports/tls.js';
import { systemClock } from '../../src/node/clock.js';
import { crc32Update } from '../../src/integrity/crc32.js';
import { pemToDer } from '../../src/tools/certs.js';
import type { Transport } from '../../src/http/transport.js';

/** One download job. */
export interface Job {
  host: string;
  port: number;
  path: string;
  caPem: string;
  bufferSize: number;
}

/** What a runner measured: bytes of body, wall time from connect to last byte, TLS handshake time. */
export interface RunResult {
  bytes: number;
  ms: number;
  handshakeMs: number;
  crc: number | null;
  cipher: string;
  protocol: string;
}

/** A download client under test. */
export type Runner = (job: Job) => Promise<RunResult>;

/**
 * The reference: node:tls, one GET, body bytes counted and discarded (what curl -o /dev/null does). With `recycle`,
 * Node reads into one reused buffer (the `onread` option), the receive path NodeTlsTransport uses.
 */
function rawReader(recycle: boolean): Runner {
  return (job) => new Promise((resolve, reject) => {
    const t0 = performance.now();
    let handshakeMs = 0;
    let headDone = false;
    let expected = -1;
    let body = 0;
    let head = '';
    const onData = (chunk: Buffer): void => {
      if (!headDone) {
        head += chunk.toString('latin1');
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        headDone = true;
        expected = Number(/content-length:\s*(\d+)/i.exec(head.slice(0, end))?.[1] ?? -1);
        body = head.length - end - 4;
      } else {
        body += chunk.length;
      }
      if (body >= expected) {
        const ms = performance.now() - t0;
        const cipher = socket.getCipher()?.name ?? '';
        const protocol = socket.getProtocol() ?? '';
        socket.destroy();
        resolve({ bytes: body, ms, handshakeMs, crc: null, cipher, protocol });
      }
    };
    const buffer = Buffer.allocUnsafe(16384);
    const options: ConnectionOptions & { onread?: object } = { host: job.host, port: job.port, servername: job.host, ca: job.caPem, ALPNProtocols: ['http/1.1'] };
    if (recycle) options.onread = { buffer, callback: (n: number, b: Buffer) => { onData(b.subarray(0, n)); } };
    const socket = connect(options, () => {
      handshakeMs = performance.now() - t0;
      socket.write(`GET ${job.path} HTTP/1.1\r\nHost: ${job.host}:${job.port}\r\nConnection: close\r\n\r\n`);
    });
    if (!recycle) socket.on('data', onData);
    socket.on('error', reject);
  });
}

/** Our portable HTTP client over the given transport, piping into `sink`. */
export function oursWith(makeTransport: (job: Job) => Transport, crcOf: ((crc: number, chunk: Uint8Array) => number) | null): Runner {
  return async (job) => {
    const inner = makeTransport(job);
    let handshakeMs = -1;
    // Times connect (TCP + TLS handshake) the same way the raw reader does.
    const transport: Transport = {
      connect: (options) => {
        const started = performance.now();
        return inner.connect(options).then((connection) => {
          handshakeMs = performance.now() - started;
          return connection;
        });
      },
    };
    const http = new HttpClient({ transport, ca: pemToDer(job.caPem), clock: systemClock, bufferSize: job.bufferSize });
    const t0 = performance.now();
    const response = await http.open({ url: `https://${job.host}:${job.port}${job.path}` });
    let crc = 0;
    const bytes = crcOf
      ? await response.pipe((chunk) => { crc = crcOf(crc, chunk); })
      : await response.pipe(() => undefined);
    const ms = performance.now() - t0;
    const info = response.connectionInfo ?? {};
    http.close();
    return { bytes, ms, handshakeMs, crc: crcOf ? crc : null, cipher: info.cipher ?? '', protocol: info.protocol ?? '' };
  };
}

const nodeTls = () => new NodeTlsTransport();

/** Runners by name. */
export const RUNNERS: { [name: string]: Runner } = {
  raw: rawReader(false),
  'raw-onread': rawReader(true),
  // A device computes the CRC with E.CRC32 or a hardware unit; on Node the native zlib CRC plays that part.
  ours: oursWith(nodeTls, (crc, chunk) => nativeCrc32(chunk, crc)),
  'ours-js-crc': oursWith(nodeTls, (crc, chunk) => crc32Update(crc, chunk, 0, chunk.length)),
  'ours-no-sink': oursWith(nodeTls, null),
};
