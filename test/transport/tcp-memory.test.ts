import { describe, expect, it } from 'vitest';
import { createServer } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { TcpTransport } from '../../src/node/transports/tcp.js';
import { MemoryTransport, memoryPipe } from '../../src/node/transports/memory.js';
import { SystemClock } from '../../src/node/clock.js';
import { HttpClient } from '../../src/http/client.js';
import { TRANSPORT_ERRORS } from '../../src/http/transport-errors.js';

describe('TcpTransport', () => {
  it('carries plain HTTP for http:// URLs and keeps the connection alive between requests', async () => {
    const remotePorts: number[] = [];
    const server = createServer((req, res) => {
      remotePorts.push(req.socket.remotePort ?? -1);
      res.setHeader('Content-Length', '2');
      res.end('ok');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      const http = new HttpClient({ transport: new MemoryTransport(() => undefined), plainTransport: new TcpTransport(), clock: new SystemClock() });
      for (let i = 0; i < 2; i++) expect(Buffer.from((await http.request({ url: `http://127.0.0.1:${port}/` })).body).toString()).toBe('ok');
      expect(new Set(remotePorts).size).toBe(1);
      http.close();
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it('refuses TLS, reports refused connections and connect timeouts', async () => {
    const transport = new TcpTransport();
    await expect(transport.connect({ host: '127.0.0.1', port: 1, tls: true, timeoutMs: 100 })).rejects.toMatchObject({ code: 'transport-no-tls' });
    const probe = createNetServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    await expect(transport.connect({ host: '127.0.0.1', port, tls: false, timeoutMs: 2000 })).rejects.toMatchObject({ code: TRANSPORT_ERRORS.connectionRefused, retryable: true });
  });

  it('reports a reset by the peer while reading', async () => {
    const server = createNetServer((socket) => { socket.once('data', () => socket.resetAndDestroy()); });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const connection = await new TcpTransport().connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, tls: false, timeoutMs: 2000 });
      await connection.write(Buffer.from('x'));
      await expect(connection.read()).rejects.toMatchObject({ code: TRANSPORT_ERRORS.connectionReset, retryable: true });
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});

describe('in-memory transport', () => {
  it('delivers copies in order, then null after the peer closes', async () => {
    const [a, b] = memoryPipe();
    const data = new Uint8Array([1, 2, 3]);
    await a.write(data);
    data[0] = 9;
    await a.write(new Uint8Array([4]));
    a.close();
    expect([...(await b.read() as Uint8Array)]).toEqual([1, 2, 3]);
    expect([...(await b.read() as Uint8Array)]).toEqual([4]);
    expect(await b.read()).toBeNull();
    expect(b.bytesRead).toBe(4);
  });

  it('fails pending and later reads on both ends after destroy()', async () => {
    const [a, b] = memoryPipe();
    const pending = b.read();
    a.destroy();
    await expect(pending).rejects.toMatchObject({ code: TRANSPORT_ERRORS.connectionReset });
    await expect(a.read()).rejects.toMatchObject({ code: TRANSPORT_ERRORS.connectionReset });
    await expect(a.write(new Uint8Array(1))).rejects.toMatchObject({ code: 'connection-closed' });
  });

  it('hands each new connection to the server handler and can fail a connect on demand', async () => {
    const seen: string[] = [];
    const transport = new MemoryTransport((server, options) => { seen.push(`${options.host}:${options.port}`); void server.write(new Uint8Array([7])); });
    const c = await transport.connect({ host: 'h', port: 1, tls: true, timeoutMs: 1 });
    expect([...(await c.read() as Uint8Array)]).toEqual([7]);
    expect(c.info?.servername).toBe('h');
    transport.failNextConnect = { code: TRANSPORT_ERRORS.connectionRefused, message: 'no', retryable: true };
    await expect(transport.connect({ host: 'h', port: 1, tls: false, timeoutMs: 1 })).rejects.toMatchObject({ code: TRANSPORT_ERRORS.connectionRefused });
    expect(seen).toEqual(['h:1']);
  });
});

describe('SystemClock', () => {
  it('fires timers, and a cancelled timer never fires', async () => {
    const clock = new SystemClock();
    const fired: string[] = [];
    const cancel = clock.timer(5, () => fired.push('cancelled'));
    clock.timer(5, () => fired.push('kept'));
    cancel();
    const before = clock.now();
    await clock.sleep(20);
    expect(clock.now()).toBeGreaterThanOrEqual(before + 15);
    expect(fired).toEqual(['kept']);
  });
});
