// What keeps an update within an Espruino board's variables, checked in Node with the firmware fakes: bytes that the
// socket delivers faster than the reader takes them stay bounded, and a finished exchange leaves no socket open and no
// timer pending (on Espruino a pending timer or a live socket keeps its closures, and every scope they sit in, alive).
import { describe, expect, it } from 'vitest';
import { Journal } from '../../src/agent/journal.js';
import { espruinoClock } from '../../src/espruino/clock.js';
import { createEspruinoAgent } from '../../src/espruino/device-agent.js';
import type { EspruinoRuntime } from '../../src/espruino/runtime.js';
import { StorageFlash } from '../../src/espruino/storage-flash.js';
import { StorageFileTarget } from '../../src/espruino/storage-target.js';
import { EspruinoTransport } from '../../src/espruino/transport.js';
import { HttpClient } from '../../src/http/client.js';
import { FakeCrypto, FakeNet, FakeStorage, fakeE, fakeRuntime } from './fakes/espruino-fakes.js';
import type { FakePeer } from './fakes/espruino-fakes.js';

/** A runtime that counts the timers still pending and the bytes converted from socket strings. */
function countingRuntime(modules: { [name: string]: unknown }): { runtime: EspruinoRuntime; pending: () => number; converted: () => number } {
  const base = fakeRuntime(modules);
  const live = new Set<unknown>();
  const e = fakeE();
  let converted = 0;
  const runtime: EspruinoRuntime = {
    ...base,
    E: { ...e, toUint8Array: (data: string) => { converted += data.length; return e.toUint8Array(data); } },
    setTimeout: (callback: () => void, ms: number) => {
      const handle = setTimeout(() => { live.delete(handle); callback(); }, ms);
      live.add(handle);
      return handle;
    },
    clearTimeout: (handle: unknown) => {
      live.delete(handle);
      clearTimeout(handle as ReturnType<typeof setTimeout>);
    },
  };
  return { runtime, pending: () => live.size, converted: () => converted };
}

const turn = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

/** Answers every request on `peer` with `response` once the request head has arrived. */
function answer(peer: FakePeer, response: string): void {
  peer.accept();
  const poll = (): void => {
    if (peer.received.includes('\r\n\r\n')) peer.send(new Uint8Array(Buffer.from(response, 'latin1')));
    else setTimeout(poll, 0);
  };
  poll();
}

describe('Espruino memory bounds', () => {
  it('holds at most maxQueuedBytes of a sender that outpaces the reader (as a slow Storage write does), then fails retryably', async () => {
    let peer: FakePeer | null = null;
    const net = new FakeNet('net', (p) => { peer = p; p.accept(); });
    const { runtime, converted } = countingRuntime({ net });
    const limit = 4096;
    const transport = new EspruinoTransport({ runtime, maxQueuedBytes: limit });
    const connection = await transport.connect({ host: 'h', port: 80, tls: false, timeoutMs: 1000 });
    let taken = 0;
    let most = 0;
    let failure: unknown = null;
    // The reader takes one 536-byte string per macrotask (a Storage write each); the sender pushes 64 KiB between.
    const reading = (async () => {
      for (let i = 0; i < 1000; i++) {
        const chunk = await connection.read().catch((error: unknown) => { failure = error; return null; });
        if (chunk === null) return;
        taken += chunk.length;
        await turn();
      }
    })();
    const sent = new Uint8Array(65536).fill(0x41);
    for (let at = 0; at < sent.length; at += 536) {
      (peer as unknown as FakePeer).send(sent.subarray(at, at + 536));
      most = Math.max(most, converted() - taken);
    }
    await reading;
    expect(most).toBeLessThanOrEqual(limit + 536);
    expect(converted()).toBeLessThan(sent.length);
    expect(failure).toMatchObject({ code: 'receive-overflow', retryable: true });
    expect((peer as unknown as FakePeer).ended).toBe(true);
  });

  it('leaves no timer pending once an HTTP exchange over the Espruino transport and clock has finished', async () => {
    const net = new FakeNet('net', (p) => answer(p, 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello'));
    const { runtime, pending } = countingRuntime({ net });
    const client = new HttpClient({ transport: new EspruinoTransport({ runtime }), clock: espruinoClock(runtime), keepAlive: false, bufferSize: 1024 });
    const result = await client.request({ url: 'http://h/x' });
    expect(new TextDecoder().decode(result.body)).toBe('hello');
    // Sleep-based HTTP timeouts stayed pending for their whole span (30 s idle), each keeping its request alive.
    expect(pending()).toBe(0);
    expect(net.peers[0].ended).toBe(true);
  });

  it('createEspruinoAgent closes each socket after its response and leaves no timer pending after a cycle', async () => {
    // Keep-alive offered by the server: an idle pooled socket would keep its scopes (and, over TLS, 32 KB) alive.
    const net = new FakeNet('net', (p) => answer(p, 'HTTP/1.1 204 No Content\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n'));
    const storage = new FakeStorage(65536);
    const { runtime, pending } = countingRuntime({ net, Storage: storage, crypto: new FakeCrypto(true) });
    const agent = createEspruinoAgent({
      api: { baseUrl: 'http://h:80', projectKey: 'k' }, device: { serial: 'S1', hardwareVersion: 'evt' }, softwareType: 'app',
      targets: [new StorageFileTarget({ softwareType: 'app', banks: ['app.a.js', 'app.b.js'], capacity: 16384, runtime })],
      journal: new Journal(new StorageFlash({ prefix: 'otaj', sectorSize: 4096, sectors: 2, runtime })),
      hmacKey: new Uint8Array(32).fill(7), runtime,
    });
    const result = await agent.runOnce();
    expect(result.outcome).toBe('up-to-date');
    expect(net.peers.length).toBeGreaterThan(0);
    expect(net.peers.every((p) => p.ended)).toBe(true);
    expect(net.peers.every((p) => /connection: close/i.test(p.received))).toBe(true);
    expect(pending()).toBe(0);
  });
});
