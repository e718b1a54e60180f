import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBackend, type Backend } from '../../src/backend/index.js';
import { checkForUpdate, httpCall, payloadBytes } from './helpers.js';

// The `drop` fault over HTTPS: a TLS socket cannot be reset like a TCP one, and the server must survive it.

const SIZE = 60_000;

/** Sends `request` over TLS to `url` and collects what arrives until the connection ends or fails. */
function captureTls(url: URL, ca: string, request: string): Promise<{ bytes: Buffer; failed: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: url.hostname, port: Number(url.port), ca, servername: 'localhost' });
    const chunks: Buffer[] = [];
    let failed = false;
    socket.setTimeout(10_000, () => { socket.destroy(); reject(new Error('capture timed out')); });
    socket.on('secureConnect', () => socket.write(request));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => { failed = true; });
    socket.on('close', () => resolve({ bytes: Buffer.concat(chunks), failed }));
  });
}

describe('fault injection over HTTPS', () => {
  let backend: Backend;
  const bytes = payloadBytes(SIZE);
  let link = '';
  beforeAll(async () => {
    backend = await startBackend({ dailyRequestLimit: 100000 });
    await backend.admin.uploadPayload(bytes, { hardwareVersion: 'evt', softwareType: 'main', softwareVersion: '1.1.0' });
    backend.admin.deploy({ releaseVersion: '1.1.0', cohort: 'default' });
    link = (await checkForUpdate(backend, { device_serial: 'T1', hardware_version: 'evt', software_type: 'main', current_version: '1.0.0' })).body.toString();
  });
  afterAll(() => backend.close());

  it('drop after N bytes and drop before any byte end the TLS connection abruptly, and the server keeps serving', async () => {
    const url = new URL(link);
    expect(url.protocol).toBe('https:');
    const request = `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: cdn\r\nConnection: close\r\n\r\n`;
    backend.faults.add({ route: 'cdn', kind: 'drop', afterBytes: 4096 });
    const dropped = await captureTls(url, backend.cdnCaPem as string, request);
    const split = dropped.bytes.indexOf('\r\n\r\n');
    expect(split).toBeGreaterThan(0);
    const body = dropped.bytes.subarray(split + 4);
    expect(body.length).toBeLessThan(SIZE);
    expect(body.equals(Buffer.from(bytes.subarray(0, body.length)))).toBe(true);

    backend.faults.add({ route: 'cdn', kind: 'drop' });
    const silent = await captureTls(url, backend.cdnCaPem as string, request);
    expect(silent.bytes.length).toBe(0);

    // The process is alive and the CDN answers the next request in full.
    const whole = await httpCall(link, { ca: backend.cdnCaPem });
    expect(whole.status).toBe(200);
    expect(whole.body.equals(bytes)).toBe(true);
    expect(backend.faults.list()).toEqual([]);
  });
});
