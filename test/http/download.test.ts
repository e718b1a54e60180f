import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { HttpClient } from '../../src/http/client.js';
import { downloadRange, downloadWithResume, parseContentRange, type DownloadSink } from '../../src/http/download.js';
import { VirtualClock } from '../../src/util/virtual-clock.js';
import { memoryHttpServer, type SeenRequest } from './memory-server.js';
import type { MemoryConnection } from '../../src/node/transports/memory.js';

const PAYLOAD = randomBytes(50_000);
const ETAG = '"v1"';
const LAST_MODIFIED = 'Mon, 23 Nov 2026 08:00:00 GMT';

type Mode = 'normal' | 'ignore-range' | 'bad-start' | 'bad-total' | 'no-content-range' | 'always-416' | '416-once' | 'changed' | 'no-etag' | 'weak-etag' | 'forbidden' | 'busy';

/** A CDN over memory: ranges, validators and the misbehaviours under test. */
function cdn(mode: Mode, payload: Buffer = PAYLOAD) {
  let answered416 = false;
  const respond = (req: SeenRequest, conn: MemoryConnection) => {
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const validators = mode === 'no-etag' ? `Last-Modified: ${LAST_MODIFIED}\r\n` : mode === 'weak-etag' ? `ETag: W/"weak"\r\nLast-Modified: ${LAST_MODIFIED}\r\n` : `ETag: ${mode === 'changed' ? '"v2"' : ETAG}\r\nLast-Modified: ${LAST_MODIFIED}\r\n`;
    const send = (head: string, body: Buffer) => { void conn.write(Buffer.concat([Buffer.from(head + validators + '\r\n'), body])); };
    if (mode === 'forbidden') return send('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n', Buffer.alloc(0));
    if (mode === 'busy') return send('HTTP/1.1 503 Busy\r\nRetry-After: 7\r\nContent-Length: 0\r\n', Buffer.alloc(0));
    const ifRange = req.headers['if-range'];
    const current = mode === 'changed' ? '"v2"' : ETAG;
    const rangeValid = range && (ifRange === undefined || ifRange === current || ifRange === LAST_MODIFIED);
    if (range && (mode === 'always-416' || (mode === '416-once' && !answered416))) {
      answered416 = true;
      return send(`HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */${payload.length + 1}\r\nContent-Length: 0\r\n`, Buffer.alloc(0));
    }
    if (!range || !rangeValid || mode === 'ignore-range' || mode === 'changed') {
      return send(`HTTP/1.1 200 OK\r\nContent-Length: ${payload.length}\r\n`, payload);
    }
    const start = Number(range[1]);
    if (start >= payload.length) return send(`HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */${payload.length}\r\nContent-Length: 0\r\n`, Buffer.alloc(0));
    const body = payload.subarray(start);
    const claimedStart = mode === 'bad-start' ? start + 1 : start;
    const total = mode === 'bad-total' ? payload.length + 10 : payload.length;
    const contentRange = mode === 'no-content-range' ? '' : `Content-Range: bytes ${claimedStart}-${claimedStart + body.length - 1}/${total}\r\n`;
    send(`HTTP/1.1 206 Partial Content\r\n${contentRange}Content-Length: ${body.length}\r\n`, body);
  };
  const server = memoryHttpServer(respond);
  const http = new HttpClient({ transport: server.transport, clock: new VirtualClock(0) });
  return { http, requests: server.requests };
}

/** Collects bytes at their offset, like an image writer. */
function memorySink(initial: Buffer = Buffer.alloc(0)) {
  let data = Buffer.from(initial);
  let restarts = 0;
  const sink: DownloadSink = {
    write: (chunk) => { data = Buffer.concat([data, Buffer.from(chunk)]); },
    restart: () => { data = Buffer.alloc(0); restarts++; },
  };
  return { sink, data: () => data, restarts: () => restarts };
}

const URL = 'https://cdn.test/payload.bin?token=t';

describe('downloadRange', () => {
  it('downloads from zero without a Range header', async () => {
    const { http, requests } = cdn('normal');
    const sink = memorySink();
    const result = await downloadRange(http, { url: URL, offset: 0, size: PAYLOAD.length }, sink.sink);
    expect(sink.data().equals(PAYLOAD)).toBe(true);
    expect(result).toMatchObject({ size: PAYLOAD.length, received: PAYLOAD.length, restarted: false, etag: ETAG, status: 200 });
    expect(requests[0].headers.range).toBeUndefined();
    expect(requests[0].headers['accept-encoding']).toBe('identity');
  });

  it('resumes with Range and If-Range: ETag, and reports where the body starts', async () => {
    const { http, requests } = cdn('normal');
    const sink = memorySink(PAYLOAD.subarray(0, 12_345));
    const starts: unknown[] = [];
    const result = await downloadRange(http, { url: URL, offset: 12_345, size: PAYLOAD.length, etag: ETAG, lastModified: LAST_MODIFIED, onStart: (i) => { starts.push(i); } }, sink.sink);
    expect(sink.data().equals(PAYLOAD)).toBe(true);
    expect(requests[0].headers.range).toBe('bytes=12345-');
    expect(requests[0].headers['if-range']).toBe(ETAG);
    expect(result).toMatchObject({ status: 206, received: PAYLOAD.length - 12_345, restarted: false });
    expect(starts).toEqual([{ status: 206, offset: 12_345, total: PAYLOAD.length, etag: ETAG, lastModified: LAST_MODIFIED }]);
  });

  it('uses Last-Modified for If-Range when there is no strong ETag', async () => {
    const { http, requests } = cdn('no-etag');
    await downloadRange(http, { url: URL, offset: 100, size: PAYLOAD.length, lastModified: LAST_MODIFIED }, memorySink(PAYLOAD.subarray(0, 100)).sink);
    expect(requests[0].headers['if-range']).toBe(LAST_MODIFIED);
    const weak = cdn('weak-etag');
    await downloadRange(weak.http, { url: URL, offset: 100, size: PAYLOAD.length, etag: 'W/"weak"', lastModified: LAST_MODIFIED }, memorySink(PAYLOAD.subarray(0, 100)).sink);
    expect(weak.requests[0].headers['if-range']).toBe(LAST_MODIFIED);
  });

  it('restarts from zero when a ranged request gets a 200', async () => {
    for (const mode of ['ignore-range', 'changed'] as const) {
      const { http } = cdn(mode);
      const sink = memorySink(Buffer.alloc(500, 9));
      const result = await downloadRange(http, { url: URL, offset: 500, size: PAYLOAD.length, etag: ETAG }, sink.sink);
      expect(sink.restarts()).toBe(1);
      expect(sink.data().equals(PAYLOAD)).toBe(true);
      expect(result).toMatchObject({ restarted: true, status: 200, received: PAYLOAD.length });
    }
  });

  it('rejects a 206 whose Content-Range does not start at the offset, has another total, or is missing', async () => {
    for (const mode of ['bad-start', 'bad-total', 'no-content-range'] as const) {
      const { http } = cdn(mode);
      const sink = memorySink(PAYLOAD.subarray(0, 1000));
      await expect(downloadRange(http, { url: URL, offset: 1000, size: PAYLOAD.length, etag: ETAG }, sink.sink))
        .rejects.toMatchObject({ code: 'download-bad-content-range' });
      expect(sink.data().length).toBe(1000);
    }
  });

  it('restarts once after a 416 and never loops', async () => {
    const once = cdn('416-once');
    const sink = memorySink(PAYLOAD.subarray(0, 2000));
    const result = await downloadRange(once.http, { url: URL, offset: 2000, size: PAYLOAD.length, etag: ETAG }, sink.sink);
    expect(result.restarted).toBe(true);
    expect(sink.data().equals(PAYLOAD)).toBe(true);
    expect(once.requests.map((r) => r.headers.range)).toEqual(['bytes=2000-', undefined]);

    const always = cdn('always-416');
    const stuck = memorySink(PAYLOAD.subarray(0, 2000));
    // A server answering 416 to every ranged request: the restarted request carries no Range and gets a 200.
    await downloadRange(always.http, { url: URL, offset: 2000, size: PAYLOAD.length, etag: ETAG }, stuck.sink);
    expect(always.requests.length).toBe(2);
  });

  it('gives up on a second 416 instead of looping', async () => {
    let calls = 0;
    const server = memoryHttpServer((req, conn) => {
      calls++;
      void conn.write(Buffer.from('HTTP/1.1 416 Range Not Satisfiable\r\nContent-Length: 0\r\n\r\n'));
    });
    const http = new HttpClient({ transport: server.transport, clock: new VirtualClock(0) });
    const sink = memorySink(Buffer.alloc(10));
    await expect(downloadRange(http, { url: URL, offset: 10, size: 100 }, sink.sink)).rejects.toMatchObject({ code: 'download-range-not-satisfiable' });
    expect(calls).toBe(2);
    expect(sink.restarts()).toBe(1);
  });

  it('treats "416 bytes */N" with N equal to the offset as complete', async () => {
    const server = memoryHttpServer((req, conn) => { void conn.write(Buffer.from('HTTP/1.1 416 No\r\nContent-Range: bytes */300\r\nContent-Length: 0\r\n\r\n')); });
    const http = new HttpClient({ transport: server.transport, clock: new VirtualClock(0) });
    const sink = memorySink(Buffer.alloc(300));
    const result = await downloadRange(http, { url: URL, offset: 300 }, sink.sink);
    expect(result).toMatchObject({ size: 300, received: 0, restarted: false });
    expect(sink.restarts()).toBe(0);
  });

  it('goes straight to verification when the offset equals the size', async () => {
    const { http, requests } = cdn('normal');
    const result = await downloadRange(http, { url: URL, offset: PAYLOAD.length, size: PAYLOAD.length, etag: ETAG }, memorySink(PAYLOAD).sink);
    expect(result).toMatchObject({ status: 0, received: 0, size: PAYLOAD.length });
    expect(requests.length).toBe(0);
  });

  it('maps expired links and busy servers to retryable errors with the status', async () => {
    await expect(downloadRange(cdn('forbidden').http, { url: URL, offset: 0 }, memorySink().sink)).rejects.toMatchObject({ code: 'download-url-rejected', retryable: true, details: { status: 403 } });
    await expect(downloadRange(cdn('busy').http, { url: URL, offset: 0 }, memorySink().sink)).rejects.toMatchObject({ code: 'download-server-busy', retryable: true, details: { status: 503, retryAfter: '7' } });
  });

  it('rejects a 200 whose length contradicts the expected size', async () => {
    await expect(downloadRange(cdn('normal').http, { url: URL, offset: 0, size: PAYLOAD.length + 1 }, memorySink().sink)).rejects.toMatchObject({ code: 'download-size-mismatch' });
  });

  it('parses Content-Range strictly', () => {
    expect(parseContentRange('bytes 0-9/10')).toEqual({ start: 0, end: 9, total: 10 });
    expect(parseContentRange('bytes */10')).toEqual({ start: -1, end: -1, total: 10 });
    expect(parseContentRange('bytes 5-4/10')).toBeNull();
    expect(parseContentRange('bytes 0-10/10')).toBeNull();
    expect(parseContentRange('items 0-1/2')).toBeNull();
  });
});

describe('downloadWithResume over a connection that drops', () => {
  it('resumes from the sink offset after each drop with the first answer\'s validator', async () => {
    const payload = randomBytes(40_000);
    const drops = [7_000, 19_000, 33_000];
    let request = 0;
    const server = memoryHttpServer((req, conn) => {
      const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
      const start = range ? Number(range[1]) : 0;
      const body = payload.subarray(start);
      const head = range
        ? `HTTP/1.1 206 Partial\r\nContent-Range: bytes ${start}-${payload.length - 1}/${payload.length}\r\nContent-Length: ${body.length}\r\nETag: "e"\r\n\r\n`
        : `HTTP/1.1 200 OK\r\nContent-Length: ${payload.length}\r\nETag: "e"\r\n\r\n`;
      const drop = drops[request++];
      if (drop !== undefined) {
        void conn.write(Buffer.concat([Buffer.from(head), body.subarray(0, drop - start)]));
        setTimeout(() => conn.destroy(), 1);
      } else {
        void conn.write(Buffer.concat([Buffer.from(head), body]));
      }
    });
    const clock = new VirtualClock(0);
    const http = new HttpClient({ transport: server.transport, clock });
    const sink = memorySink();
    const seen: number[] = [];
    const pending = downloadWithResume(http, { url: URL, offset: 0, size: payload.length }, sink.sink, {
      clock, retryDelayMs: 100, onDrop: (error, at) => { seen.push(at); setTimeout(() => clock.advance(10_000), 1); },
    });
    const result = await pending;
    expect(sink.data().equals(payload)).toBe(true);
    expect(result.drops).toBe(3);
    expect(seen).toEqual(drops);
    expect(result.totalReceived).toBe(payload.length);
    expect(server.requests.slice(1).map((r) => r.headers['if-range'])).toEqual(['"e"', '"e"', '"e"']);
  });
});
