import { describe, expect, it } from 'vitest';
import { HttpClient } from '../../src/http/client.js';
import { VirtualClock } from '../../src/util/virtual-clock.js';
import { MemoryTransport } from '../../src/node/transports/memory.js';
import { fixed, memoryHttpServer, type Responder } from './memory-server.js';

function client(respond: Responder, options: Partial<ConstructorParameters<typeof HttpClient>[0]> = {}) {
  const server = memoryHttpServer(respond);
  const clock = new VirtualClock(0);
  const http = new HttpClient({ transport: server.transport, clock, userAgent: 'ota-agent-test', ...options });
  return { http, clock, ...server };
}

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString('latin1');

describe('HttpClient basics', () => {
  it('sends Host, Accept-Encoding: identity and User-Agent, and reads a Content-Length body', async () => {
    const { http, requests } = client((req, conn) => { void conn.write(fixed(200, 'hello')); });
    const result = await http.request({ url: 'http://example.test:8080/a/b?x=1' });
    expect(result.status).toBe(200);
    expect(text(result.body)).toBe('hello');
    expect(requests[0].target).toBe('/a/b?x=1');
    expect(requests[0].headers.host).toBe('example.test:8080');
    expect(requests[0].headers['accept-encoding']).toBe('identity');
    expect(requests[0].headers['user-agent']).toBe('ota-agent-test');
  });

  it('sends a body with Content-Length', async () => {
    const { http, requests } = client((req, conn) => { void conn.write(fixed(201, '')); });
    const result = await http.request({ method: 'POST', url: 'http://h/p', body: new Uint8Array([1, 2, 3]) });
    expect(result.status).toBe(201);
    expect(requests[0].headers['content-length']).toBe('3');
    expect([...requests[0].body]).toEqual([1, 2, 3]);
  });

  it('decodes chunked bodies with extensions and trailers', async () => {
    const { http } = client((req, conn) => {
      void conn.write(Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nX-Sum: 42\r\n\r\n'));
    });
    const response = await http.open({ url: 'http://h/' });
    const body = await response.readAll(1000);
    expect(text(body)).toBe('hello world');
    expect(response.trailers()).toEqual([{ name: 'X-Sum', value: '42' }]);
  });

  it('reads a close-delimited body to the end of the stream', async () => {
    const { http } = client((req, conn) => {
      void conn.write(Buffer.from('HTTP/1.1 200 OK\r\n\r\nuntil the end'));
      conn.close();
    });
    const result = await http.request({ url: 'http://h/' });
    expect(text(result.body)).toBe('until the end');
  });

  it('skips 100 Continue and returns no body for 204 and HEAD', async () => {
    const { http } = client((req, conn) => {
      if (req.method === 'HEAD') void conn.write(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n'));
      else void conn.write(Buffer.from('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\nmemfault-reason: latest\r\n\r\n'));
    });
    const a = await http.request({ url: 'http://h/' });
    expect(a.status).toBe(204);
    expect(a.body.length).toBe(0);
    const b = await http.request({ method: 'HEAD', url: 'http://h/' });
    expect(b.status).toBe(200);
    expect(b.body.length).toBe(0);
  });

  it('reuses a kept-alive connection and opens a new one after Connection: close', async () => {
    let n = 0;
    const { http, requests } = client((req, conn) => {
      n++;
      void conn.write(fixed(200, `r${n}`, n === 2 ? { Connection: 'close' } : {}));
      if (n === 2) conn.close();
    });
    for (let i = 0; i < 3; i++) await http.request({ url: 'http://h/' });
    expect(requests.map((r) => r.connection)).toEqual([0, 0, 1]);
  });

  it('retries an idempotent request once when the pooled connection turns out closed', async () => {
    let n = 0;
    const { http, requests } = client((req, conn) => {
      n++;
      void conn.write(fixed(200, 'ok'));
      // The server closes right after answering, without saying so: the pooled connection is stale.
      if (n === 1) setTimeout(() => conn.close(), 0);
    });
    await http.request({ url: 'http://h/' });
    await new Promise((r) => setTimeout(r, 5));
    const second = await http.request({ url: 'http://h/' });
    expect(text(second.body)).toBe('ok');
    expect(requests.map((r) => r.connection)).toEqual([0, 1]);
  });

  it('hands bodies to the sink in pieces no larger than the working buffer', async () => {
    const payload = Buffer.alloc(10_000, 7);
    const { http } = client((req, conn) => { void conn.write(fixed(200, payload)); }, { bufferSize: 1024 });
    const response = await http.open({ url: 'http://h/' });
    const sizes: number[] = [];
    const total = await response.pipe((chunk) => { sizes.push(chunk.length); });
    expect(total).toBe(10_000);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(1024);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(10_000);
  });

  it('waits for an asynchronous sink before reading on (back-pressure)', async () => {
    const { http, transport } = client((req, conn) => { void conn.write(fixed(200, Buffer.alloc(5000, 1))); }, { bufferSize: 1024 });
    const response = await http.open({ url: 'http://h/' });
    let inSink = 0;
    let maxConcurrent = 0;
    await response.pipe(async () => {
      inSink++;
      maxConcurrent = Math.max(maxConcurrent, inSink);
      await new Promise((r) => setTimeout(r, 1));
      inSink--;
    });
    expect(maxConcurrent).toBe(1);
    expect(transport.connections.length).toBe(1);
  });

  it('rejects bodies over the readAll limit and response heads over the limits', async () => {
    const { http } = client((req, conn) => {
      if (req.target === '/big') void conn.write(fixed(200, Buffer.alloc(2000)));
      else if (req.target === '/head') void conn.write(Buffer.from(`HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(17000)}\r\n\r\n`));
      else void conn.write(Buffer.from(`HTTP/1.1 200 OK\r\n${'X-A: 1\r\n'.repeat(101)}\r\n`));
    });
    await expect(http.request({ url: 'http://h/big' }, 1000)).rejects.toMatchObject({ code: 'http-body-too-large' });
    await expect(http.request({ url: 'http://h/head' })).rejects.toMatchObject({ code: 'http-head-too-large' });
    await expect(http.request({ url: 'http://h/many' })).rejects.toMatchObject({ code: 'http-too-many-headers' });
  });

  // The server ends a fresh connection before any response byte (a plain-HTTP request to a TLS port, a drop at byte
  // 0): the request must reject, never hang.
  it('rejects, retryably, when a new connection ends or resets before any response byte', async () => {
    const closing = client((req, conn) => { conn.close(); });
    await expect(closing.http.request({ url: 'http://h/' })).rejects.toMatchObject({ code: 'http-no-response', retryable: true });
    const resetting = client((req, conn) => { conn.destroy(); });
    await expect(resetting.http.request({ url: 'http://h/' })).rejects.toMatchObject({ code: 'connection-reset', retryable: true });
  });

  it('rejects when the retry of a stale pooled connection ends before any response byte too', async () => {
    let n = 0;
    const { http, requests } = client((req, conn) => {
      n++;
      if (n > 1) {
        conn.close();
        return;
      }
      void conn.write(fixed(200, 'ok'));
      setTimeout(() => conn.close(), 0);
    });
    await http.request({ url: 'http://h/' });
    await new Promise((r) => setTimeout(r, 5));
    await expect(http.request({ url: 'http://h/' })).rejects.toMatchObject({ code: 'http-no-response' });
    expect(requests.map((r) => r.connection)).toEqual([0, 1]);
  });

  it('rejects a truncated body with a retryable error', async () => {
    const { http } = client((req, conn) => {
      void conn.write(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this'));
      conn.close();
    });
    await expect(http.request({ url: 'http://h/' })).rejects.toMatchObject({ code: 'http-truncated-body', retryable: true });
  });

  it('refuses header injection in request headers', async () => {
    const { http } = client((req, conn) => { void conn.write(fixed(200, '')); });
    await expect(http.request({ url: 'http://h/', headers: [{ name: 'X-A', value: 'a\r\nEvil: 1' }] })).rejects.toMatchObject({ code: 'http-bad-header' });
    await expect(http.request({ url: 'ftp://h/' })).rejects.toMatchObject({ code: 'http-bad-url' });
  });

  it('never puts credentials or a signed query of a URL into its errors', async () => {
    const { http } = client((req, conn) => {
      if (req.target.startsWith('/loop')) void conn.write(fixed(302, '', { Location: '/loop?token=LOOPSECRET' }));
      else void conn.write(fixed(302, '', { Location: 'http://h/plain?token=DOWNSECRET' }));
    });
    const failures = await Promise.all([
      http.request({ url: 'http://user:PASSWORD@h/x?token=SECRET' }),
      http.request({ url: 'https://h/x?token=SECRET' }),
      http.request({ url: 'http://h/loop?token=SECRET' }),
    ].map((p) => p.then(() => null, (e: unknown) => e as { code: string; message: string; details?: unknown })));
    expect(failures.map((f) => f?.code)).toEqual(['http-bad-url', 'http-redirect-downgrade', 'http-too-many-redirects']);
    for (const failure of failures) expect(JSON.stringify(failure)).not.toMatch(/SECRET|PASSWORD/);
    expect(failures[0]?.message).toContain('"http://h/x"');
  });

  it('rejects a bufferSize below 1 KiB', () => {
    expect(() => new HttpClient({ transport: new MemoryTransport(() => undefined), clock: new VirtualClock(0), bufferSize: 512 })).toThrow();
  });
});

describe('redirects', () => {
  it('follows relative and absolute Locations, switching connections by origin', async () => {
    const { http, requests } = client((req, conn) => {
      if (req.target === '/start') void conn.write(fixed(301, '', { Location: '../moved/here?q=1' }));
      else if (req.target === '/moved/here?q=1') void conn.write(fixed(302, '', { Location: 'https://cdn.test/file' }));
      else void conn.write(fixed(200, 'final'));
    });
    const result = await http.request({ url: 'http://api.test/a/start'.replace('/a/start', '/start'), headers: [{ name: 'Memfault-Project-Key', value: 'secret' }] });
    expect(text(result.body)).toBe('final');
    expect(result.url).toBe('https://cdn.test/file');
    expect(requests.map((r) => r.headers.host)).toEqual(['api.test', 'api.test', 'cdn.test']);
    // The project key goes to the API host only, never to the CDN it redirects to.
    expect(requests[1].headers['memfault-project-key']).toBe('secret');
    expect(requests[2].headers['memfault-project-key']).toBeUndefined();
    expect(requests[2].options.tls).toBe(true);
  });

  it('turns POST into GET on 303 and keeps the method on 307/308', async () => {
    const { http, requests } = client((req, conn) => {
      if (req.target === '/a') void conn.write(fixed(303, '', { Location: '/b' }));
      else if (req.target === '/c') void conn.write(fixed(307, '', { Location: '/d' }));
      else void conn.write(fixed(200, req.method));
    });
    expect(text((await http.request({ method: 'POST', url: 'http://h/a', body: new Uint8Array([1]) })).body)).toBe('GET');
    expect(text((await http.request({ method: 'POST', url: 'http://h/c', body: new Uint8Array([1]) })).body)).toBe('POST');
    expect(requests[3].body.length).toBe(1);
  });

  it('stops after five redirects', async () => {
    const { http, requests } = client((req, conn) => { void conn.write(fixed(302, '', { Location: `/r${requests.length}` })); });
    await expect(http.request({ url: 'http://h/r0' })).rejects.toMatchObject({ code: 'http-too-many-redirects' });
    expect(requests.length).toBe(6);
  });

  it('never follows https to http', async () => {
    const { http } = client((req, conn) => { void conn.write(fixed(302, '', { Location: 'http://h/plain' })); });
    await expect(http.request({ url: 'https://h/' })).rejects.toMatchObject({ code: 'http-redirect-downgrade' });
  });

  it('returns the 3xx itself with maxRedirects 0', async () => {
    const { http } = client((req, conn) => { void conn.write(fixed(302, '', { Location: '/x' })); });
    expect((await http.request({ url: 'http://h/', maxRedirects: 0 })).status).toBe(302);
  });
});

describe('timeouts on a virtual clock', () => {
  async function settle() {
    for (let i = 0; i < 20; i++) await Promise.resolve();
  }

  it('times out a connect that never completes', async () => {
    const clock = new VirtualClock(0);
    const http = new HttpClient({ transport: { connect: () => new Promise(() => undefined) }, clock, connectTimeoutMs: 5000 });
    const outcome = http.request({ url: 'http://h/' }).then(() => 'ok', (e) => e.code);
    await settle();
    clock.advance(4999);
    await settle();
    clock.advance(1);
    expect(await outcome).toBe('connect-timeout');
  });

  it('times out a server that never answers (idle read) and closes the connection', async () => {
    const { http, clock, transport } = client(() => undefined, { idleTimeoutMs: 3000 });
    const outcome = http.request({ url: 'http://h/' }).then(() => 'ok', (e) => e.code);
    await settle();
    clock.advance(3000);
    expect(await outcome).toBe('read-timeout');
    expect(transport.connections[0].isClosed()).toBe(true);
  });

  it('times out a body that stalls half way, closing the connection', async () => {
    const { http, clock, transport } = client((req, c) => {
      void c.write(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhalf'));
    }, { idleTimeoutMs: 2000 });
    const response = await http.open({ url: 'http://h/' });
    const got: number[] = [];
    const outcome = response.pipe((chunk) => { got.push(chunk.length); }).then(() => 'ok', (e) => e.code);
    await settle();
    clock.advance(1999);
    await settle();
    clock.advance(1);
    expect(await outcome).toBe('read-timeout');
    expect(got).toEqual([4]);
    expect(transport.connections[0].isClosed()).toBe(true);
  });

  it('keeps an idle timer from firing while bytes keep arriving, and enforces the whole-request limit', async () => {
    let conn: import('../../src/node/transports/memory.js').MemoryConnection | null = null;
    const { http, clock } = client((req, c) => {
      conn = c;
      void c.write(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n'));
    }, { idleTimeoutMs: 1000, requestTimeoutMs: 10_000 });
    const response = await http.open({ url: 'http://h/' });
    const outcome = response.pipe(() => undefined).then(() => 'ok', (e) => e.code);
    const seen: string[] = [];
    void outcome.then((code) => seen.push(code));
    // 900 ms between bytes never trips the 1000 ms idle timeout; the 10 s request limit trips in the 12th step.
    for (let i = 0; i < 12; i++) {
      await settle();
      expect(seen).toEqual([]);
      clock.advance(900);
      void (conn as unknown as { write(b: Uint8Array): Promise<void> }).write(new Uint8Array(1));
    }
    await settle();
    expect(await outcome).toBe('request-timeout');
  });
});
