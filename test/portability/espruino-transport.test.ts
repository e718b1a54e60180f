// The Espruino transport against fake sockets that behave like 2v29's: short string chunks, close-notify as an
// error then close, negative error codes.
import { describe, expect, it } from 'vitest';
import { EspruinoTransport } from '../../src/espruino/transport.js';
import type { Connection } from '../../src/http/transport.js';
import { FakeNet, fakeRuntime, stringToBytes } from './fakes/espruino-fakes.js';
import type { FakePeer } from './fakes/espruino-fakes.js';

function payload(size: number): Uint8Array {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (i * 7 + 3) & 0xff;
  return data;
}

async function readAll(connection: Connection): Promise<{ data: Uint8Array; chunks: number }> {
  const parts: Uint8Array[] = [];
  for (let i = 0; i < 10000; i++) {
    const chunk = await connection.read();
    if (chunk === null) break;
    parts.push(chunk);
  }
  return { data: Uint8Array.from(Buffer.concat(parts)), chunks: parts.length };
}

function setup(onPeer: (peer: FakePeer) => void) {
  const tls = new FakeNet('tls', onPeer);
  const net = new FakeNet('net', onPeer);
  const events: { code: string }[] = [];
  const transport = new EspruinoTransport({ runtime: fakeRuntime({ tls, net }), onEvent: (e) => events.push(e) });
  return { tls, net, events, transport };
}

describe('EspruinoTransport', () => {
  it('warns at start-up that Espruino TLS neither verifies certificates nor sends SNI', () => {
    const { events } = setup(() => {});
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'warning', code: 'espruino-tls-unauthenticated' });
    expect((events[0] as unknown as { message: string }).message).toMatch(/checks no certificate and sends no SNI.*signed/);
  });

  it('reads 5,000 bytes sent as 536-byte strings in order, and treats -30848 then close as the end of stream', async () => {
    const body = payload(5000);
    const { transport, tls } = setup((peer) => {
      peer.accept();
      setTimeout(() => {
        peer.send(body);
        peer.closeNotify();
      }, 5);
    });
    const connection = await transport.connect({ host: 'example.test', port: 443, tls: true, timeoutMs: 1000 });
    await connection.write(stringToBytes('GET / HTTP/1.1\r\n\r\n'));
    const result = await readAll(connection);
    expect(result.chunks).toBe(10);
    expect(Buffer.from(result.data).equals(Buffer.from(body))).toBe(true);
    expect(await connection.read()).toBeNull();
    expect(tls.peers[0].received).toBe('GET / HTTP/1.1\r\n\r\n');
    expect(tls.peers[0].options).toEqual({ host: 'example.test', port: 443 });
    expect(connection.info).toEqual({ protocol: 'espruino-tls' });
  });

  it('uses require("net") for plain connections and ends the socket on close()', async () => {
    const { transport, net, tls } = setup((peer) => peer.accept());
    const connection = await transport.connect({ host: '10.0.0.2', port: 80, tls: false, timeoutMs: 1000 });
    expect(net.peers).toHaveLength(1);
    expect(tls.peers).toHaveLength(0);
    connection.close();
    expect(net.peers[0].ended).toBe(true);
    expect(await connection.read()).toBeNull();
    await expect(connection.write(new Uint8Array(1))).rejects.toMatchObject({ code: 'connection-closed' });
  });

  it('rejects a TLS handshake failure (-13) as retryable', async () => {
    const { transport } = setup((peer) => {
      peer.fail(-13);
      peer.close(true);
    });
    await expect(transport.connect({ host: 'h', port: 443, tls: true, timeoutMs: 1000 }))
      .rejects.toMatchObject({ code: 'tls-handshake-failed', retryable: true, details: { socketCode: -13 } });
  });

  it('delivers the data that arrived before invalid TLS data (-14), then a retryable error', async () => {
    const { transport } = setup((peer) => {
      peer.accept();
      setTimeout(() => {
        peer.send(payload(600));
        peer.fail(-14);
        peer.close(true);
      }, 1);
    });
    const connection = await transport.connect({ host: 'h', port: 443, tls: true, timeoutMs: 1000 });
    expect((await connection.read())?.length).toBe(536);
    expect((await connection.read())?.length).toBe(64);
    await expect(connection.read()).rejects.toMatchObject({ code: 'tls-invalid-data', retryable: true });
  });

  it('maps a reset (-9) and unknown mbedTLS codes to retryable errors', async () => {
    const { transport } = setup((peer) => {
      peer.accept();
      setTimeout(() => peer.fail(peer.options.port === 1 ? -9 : -29312), 1);
    });
    const reset = await transport.connect({ host: 'h', port: 1, tls: true, timeoutMs: 1000 });
    await expect(reset.read()).rejects.toMatchObject({ code: 'connection-reset', retryable: true });
    const other = await transport.connect({ host: 'h', port: 2, tls: true, timeoutMs: 1000 });
    await expect(other.read()).rejects.toMatchObject({ code: 'socket-error', retryable: true, details: { socketCode: -29312 } });
  });

  it('times out a connection that never opens and ends its socket', async () => {
    const { transport, tls } = setup(() => {});
    await expect(transport.connect({ host: 'h', port: 443, tls: true, timeoutMs: 20 }))
      .rejects.toMatchObject({ code: 'connect-timeout', retryable: true });
    expect(tls.peers[0].ended).toBe(true);
  });

  it('closes with a retryable receive-overflow instead of queueing past its limit (Espruino cannot pause a sender)', async () => {
    const tls = new FakeNet('tls', (peer) => {
      peer.accept();
      setTimeout(() => peer.send(payload(5000)), 1);
    });
    const transport = new EspruinoTransport({ runtime: fakeRuntime({ tls }), maxQueuedBytes: 2048 });
    const connection = await transport.connect({ host: 'h', port: 443, tls: true, timeoutMs: 1000 });
    await new Promise((r) => setTimeout(r, 10));
    await expect(connection.read()).rejects.toMatchObject({ code: 'receive-overflow', retryable: true });
    expect(tls.peers[0].ended).toBe(true);
  });

  it('hands chunks to a waiting reader without queueing them', async () => {
    const tls = new FakeNet('tls', (peer) => peer.accept());
    const transport = new EspruinoTransport({ runtime: fakeRuntime({ tls }), maxQueuedBytes: 600 });
    const connection = await transport.connect({ host: 'h', port: 443, tls: true, timeoutMs: 1000 });
    let total = 0;
    for (let i = 0; i < 10; i++) {
      const next = connection.read();
      tls.peers[0].send(payload(536));
      total += (await next)?.length ?? 0;
    }
    expect(total).toBe(5360);
  });

  it('rejects with connect-failed when the firmware throws while creating the socket', async () => {
    const net = { connect: () => { throw new Error('Unable to create socket'); } };
    const transport = new EspruinoTransport({ runtime: fakeRuntime({ net }) });
    await expect(transport.connect({ host: 'h', port: 80, tls: false, timeoutMs: 1000 })).rejects.toMatchObject({ code: 'connect-failed', retryable: true });
  });

  it('says so when the board has no tls module', async () => {
    const transport = new EspruinoTransport({ runtime: fakeRuntime({}) });
    await expect(transport.connect({ host: 'h', port: 443, tls: true, timeoutMs: 20 }))
      .rejects.toMatchObject({ code: 'transport-unavailable', retryable: false });
  });
});
