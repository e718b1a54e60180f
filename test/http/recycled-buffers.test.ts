// The transport contract (src/http/transport.ts): a chunk from read() is valid only until the next read() or close().
// A strict wrapper over the pooled TCP transport makes every breach visible: it hands out each chunk as a view in the
// middle of its own 16 KiB buffer and fills that buffer with 0xEE at the next read(), readNow() or close(). Through
// drops and resumes, with sinks that hold their write promise open, the HTTP client must deliver exact bytes.
import { describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { HttpClient } from '../../src/http/client.js';
import { downloadRange, downloadWithResume, type DownloadSink } from '../../src/http/download.js';
import type { Connection, ConnectOptions, Transport } from '../../src/http/transport.js';
import { TcpTransport } from '../../src/node/transports/tcp.js';
import { systemClock } from '../../src/node/clock.js';
import { VirtualClock } from '../../src/util/virtual-clock.js';
import { isOtaError } from '../../src/util/errors.js';

const POISON = 0xee;
const SLOT = 16 * 1024;
const PAYLOAD = randomBytes(200_000);
const ETAG = '"r1"';

/** Chunks live in a buffer of their own that is poisoned as soon as the contract lets the transport reuse it. */
class StrictConnection implements Connection {
  info = { protocol: 'strict' };
  private out: Uint8Array | null = null;

  constructor(private readonly inner: Connection, private readonly log: string[]) {}

  private poison(): void {
    if (this.out !== null) this.out.fill(POISON);
    this.out = null;
  }

  private hand(chunk: Uint8Array): Uint8Array {
    // Offset into a larger poisoned buffer, so a consumer that uses `.buffer` without byteOffset/length sees poison too.
    const backing = new Uint8Array(Math.max(SLOT, chunk.length + 64)).fill(POISON);
    backing.set(chunk, 32);
    this.out = backing;
    return backing.subarray(32, 32 + chunk.length);
  }

  write(data: Uint8Array): Promise<void> {
    return this.inner.write(data);
  }

  read(): Promise<Uint8Array | null> {
    this.poison();
    return this.inner.read().then((chunk) => chunk === null ? null : this.hand(chunk));
  }

  readNow(): Uint8Array | undefined {
    this.poison();
    const chunk = this.inner.readNow !== undefined ? this.inner.readNow() : undefined;
    return chunk === undefined ? undefined : this.hand(chunk);
  }

  close(): void {
    this.log.push('close');
    this.poison();
    this.inner.close();
  }
}

class StrictTransport implements Transport {
  /** What happened, in order: 'close' per connection closed (tests add their own entries). */
  readonly log: string[] = [];

  constructor(private readonly inner: Transport) {}

  connect(options: ConnectOptions): Promise<Connection> {
    return this.inner.connect(options).then((connection) => new StrictConnection(connection, this.log));
  }
}

/** Serves PAYLOAD with Range + If-Range; request i is cut (TCP destroyed mid-body) after `drops[i]` payload bytes. */
async function startCdn(drops: number[]): Promise<{ url: string; ranges: string[]; close: () => Promise<void> }> {
  const ranges: string[] = [];
  let request = 0;
  const server: Server = createServer((req, res) => {
    const range = /^bytes=(\d+)-$/.exec(String(req.headers.range ?? ''));
    ranges.push(String(req.headers.range ?? ''));
    const start = range && req.headers['if-range'] === ETAG ? Number(range[1]) : 0;
    res.setHeader('ETag', ETAG);
    if (start > 0) {
      res.statusCode = 206;
      res.setHeader('Content-Range', `bytes ${start}-${PAYLOAD.length - 1}/${PAYLOAD.length}`);
    }
    res.setHeader('Content-Length', String(PAYLOAD.length - start));
    const drop = drops[request++];
    if (drop !== undefined && drop > start) res.write(PAYLOAD.subarray(start, drop), () => res.socket?.destroy());
    else res.end(PAYLOAD.subarray(start));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/payload.bin`,
    ranges,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** A sink that answers each write later (a flash program in flight) and reads the chunk only when it finishes. */
function deferredSink(): { sink: DownloadSink; data: () => Buffer } {
  const target = Buffer.alloc(PAYLOAD.length);
  let written = 0;
  const sink: DownloadSink = {
    write: (chunk) => new Promise<void>((resolve) => {
      setImmediate(() => {
        // Still valid: the client may not read on (nor close) while this promise is pending.
        target.set(chunk, written);
        written += chunk.length;
        resolve();
      });
    }),
    restart: () => { written = 0; },
    resumeOffset: () => written,
  };
  return { sink, data: () => target.subarray(0, written) };
}

function client(bufferSize: number): HttpClient {
  // The inner transport recycles its receive buffers (the default), so real reuse happens underneath as well.
  return new HttpClient({ transport: new StrictTransport(new TcpTransport()), clock: systemClock, bufferSize, idleTimeoutMs: 10_000 });
}

describe('HTTP client over a transport that recycles its receive buffers', () => {
  it('resumes through two drops into a sink that holds each write open, byte-identical', async () => {
    const cdn = await startCdn([70_001, 150_003]);
    const http = client(4096);
    try {
      const { sink, data } = deferredSink();
      const result = await downloadWithResume(http, { url: cdn.url, offset: 0, size: PAYLOAD.length }, sink, { clock: systemClock, retryDelayMs: 1 });
      expect(result.drops).toBe(2);
      expect(result.restarted).toBe(false);
      expect(cdn.ranges[0]).toBe('');
      expect(cdn.ranges.slice(1).every((r) => /^bytes=[1-9]\d*-$/.test(r))).toBe(true);
      expect(data().length).toBe(PAYLOAD.length);
      expect(data().equals(PAYLOAD)).toBe(true);
    } finally {
      http.close();
      await cdn.close();
    }
  });

  it('delivers exact bytes when pieces are smaller than the chunks they come from (bufferSize 1 KiB)', async () => {
    const cdn = await startCdn([]);
    const http = client(1024);
    try {
      const { sink, data } = deferredSink();
      const result = await downloadRange(http, { url: cdn.url, offset: 0 }, sink);
      expect(result.size).toBe(PAYLOAD.length);
      expect(data().equals(PAYLOAD)).toBe(true);
    } finally {
      http.close();
      await cdn.close();
    }
  });

  it('exposes a sink that keeps views past its write (the guard above can fail)', async () => {
    const cdn = await startCdn([]);
    const http = client(4096);
    try {
      const kept: Uint8Array[] = [];
      const sink: DownloadSink = { write: (chunk) => { kept.push(chunk); }, restart: () => { kept.length = 0; } };
      await downloadRange(http, { url: cdn.url, offset: 0 }, sink);
      const joined = Buffer.concat(kept.map((view) => Buffer.from(view)));
      expect(joined.length).toBe(PAYLOAD.length);
      expect(joined.equals(PAYLOAD)).toBe(false);
    } finally {
      http.close();
      await cdn.close();
    }
  });

  it('on a request timeout while a sink write is in flight, closes and rejects only after that write settled', async () => {
    const cdn = await startCdn([]);
    const clock = new VirtualClock(0);
    const transport = new StrictTransport(new TcpTransport());
    const http = new HttpClient({ transport, clock, bufferSize: 4096, requestTimeoutMs: 1000 });
    try {
      const target = Buffer.alloc(PAYLOAD.length);
      let written = 0;
      let writes = 0;
      const sink: DownloadSink = {
        write: (chunk) => {
          writes++;
          // The flash write is slow: the request deadline passes while it runs.
          clock.advance(5000);
          return new Promise<void>((resolve) => {
            setImmediate(() => {
              target.set(chunk, written);
              written += chunk.length;
              transport.log.push('copied');
              resolve();
            });
          });
        },
        restart: () => { written = 0; },
      };
      const error = await downloadRange(http, { url: cdn.url, offset: 0 }, sink).then(() => null, (e: unknown) => e);
      expect(isOtaError(error) ? error.code : error).toBe('request-timeout');
      expect(writes).toBe(1);
      expect(written).toBeGreaterThan(0);
      expect(target.subarray(0, written).equals(PAYLOAD.subarray(0, written))).toBe(true);
      expect(transport.log.indexOf('copied')).toBeGreaterThanOrEqual(0);
      expect(transport.log.indexOf('copied')).toBeLessThan(transport.log.indexOf('close'));
    } finally {
      http.close();
      await cdn.close();
    }
  });
});
