import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { describeTransportConformance } from './conformance.js';
import { NodeTlsTransport, TEST_ONLY_INSECURE_ENV, alertFromError, classifyVerifyCode } from '../../src/node/transports/tls.js';
import { TRANSPORT_ERRORS } from '../../src/http/transport-errors.js';
import { testPki } from '../../src/tools/pki.js';
import { loadDeviceRoots } from '../../src/tools/certs.js';
import { HttpClient } from '../../src/http/client.js';
import { systemClock } from '../../src/node/clock.js';

function withTestOnlyEnv<T>(make: () => T): T {
  const before = process.env[TEST_ONLY_INSECURE_ENV];
  process.env[TEST_ONLY_INSECURE_ENV] = '1';
  try {
    return make();
  } finally {
    if (before === undefined) delete process.env[TEST_ONLY_INSECURE_ENV];
    else process.env[TEST_ONLY_INSECURE_ENV] = before;
  }
}

describeTransportConformance('node:tls', (options) => (options.omitSni
  ? withTestOnlyEnv(() => new NodeTlsTransport({ ca: options.ca, testOnlyInsecure: { omitSni: true } }))
  : new NodeTlsTransport({ ca: options.ca })), { omitSni: true });

async function httpsServer(cert: { chainPem: string; keyPem: string }) {
  const sni: (string | false)[] = [];
  const server: Server = createServer({ cert: cert.chainPem, key: cert.keyPem }, (req, res) => {
    res.setHeader('Content-Type', 'text/plain');
    res.end(`hello ${(req.socket as import('node:tls').TLSSocket & { servername?: string }).servername}`);
  });
  server.on('secureConnection', (socket) => sni.push((socket as typeof socket & { servername?: string | false }).servername ?? false));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, sni, port: (server.address() as AddressInfo).port };
}

describe('node:tls transport specifics', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
  });

  it('carries HTTP from the portable client to a Node https server that records the SNI it saw', async () => {
    const pki = testPki('rsa');
    const { server, sni, port } = await httpsServer(pki.leaf);
    servers.push(server);
    const http = new HttpClient({ transport: new NodeTlsTransport(), ca: [pki.root.certDer], clock: systemClock });
    const response = await http.open({ url: `https://localhost:${port}/x` });
    expect(response.connectionInfo).toMatchObject({ servername: 'localhost', alpn: 'http/1.1' });
    expect(Buffer.from(await response.readAll(100)).toString()).toBe('hello localhost');
    expect(sni).toEqual(['localhost']);
    http.close();
  });

  it('pumps 8 MiB through recycled receive buffers into a slow sink with a 1 KiB working buffer, intact', async () => {
    const pki = testPki('ecdsa');
    const payload = (await import('node:crypto')).randomBytes(8 * 1024 * 1024);
    const server: Server = createServer({ cert: pki.leaf.chainPem, key: pki.leaf.keyPem }, (req, res) => {
      res.setHeader('Content-Length', String(payload.length));
      res.end(payload);
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const http = new HttpClient({ transport: new NodeTlsTransport({ readAhead: 64 * 1024 }), ca: [pki.root.certDer], clock: systemClock, bufferSize: 1024 });
    const response = await http.open({ url: `https://localhost:${(server.address() as AddressInfo).port}/` });
    const hash = (await import('node:crypto')).createHash('sha256');
    let pieces = 0;
    let largest = 0;
    await response.pipe((chunk) => {
      hash.update(chunk);
      largest = Math.max(largest, chunk.length);
      // Every 200th piece waits a turn of the event loop, so the transport's buffers fill and reading stops and restarts.
      if (++pieces % 200 === 0) return new Promise<void>((r) => setImmediate(r));
      return undefined;
    });
    http.close();
    expect(largest).toBeLessThanOrEqual(1024);
    expect(hash.digest('hex')).toBe((await import('node:crypto')).createHash('sha256').update(payload).digest('hex'));
  });

  it('reports protocol, cipher and ALPN, and resumes the session on the next connection', async () => {
    const pki = testPki('ecdsa');
    const { server, port } = await httpsServer(pki.leaf);
    servers.push(server);
    const transport = new NodeTlsTransport({ ca: [pki.root.certDer] });
    const first = await transport.connect({ host: 'localhost', port, tls: true, timeoutMs: 5000 });
    expect(first.info).toMatchObject({ protocol: 'TLSv1.3', alpn: 'http/1.1', servername: 'localhost', resumed: false });
    expect(first.info?.cipher).toMatch(/^TLS_/);
    // TLS 1.3 tickets arrive after the handshake: exchange a request so the ticket is in before closing.
    await first.write(Buffer.from('GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'));
    for (let i = 0; i < 100 && (await first.read()) !== null; i++);
    first.close();
    const second = await transport.connect({ host: 'localhost', port, tls: true, timeoutMs: 5000 });
    expect(second.info?.resumed).toBe(true);
    second.close();
  });

  it('names the non-CA signer case exactly', async () => {
    const pki = testPki('rsa');
    const { server, port } = await httpsServer(pki.leafSignedLeaf);
    servers.push(server);
    const error = await new NodeTlsTransport({ ca: [pki.root.certDer] }).connect({ host: 'localhost', port, tls: true, timeoutMs: 5000 }).then(() => null, (e) => e);
    expect(error.code).toBe(TRANSPORT_ERRORS.invalidChain);
  });

  it('trusts only the given roots: the device bundle does not accept the test PKI', async () => {
    const pki = testPki('rsa');
    const { server, port } = await httpsServer(pki.leaf);
    servers.push(server);
    const error = await new NodeTlsTransport({ ca: loadDeviceRoots() }).connect({ host: 'localhost', port, tls: true, timeoutMs: 5000 }).then(() => null, (e) => e);
    expect(error.code).toBe(TRANSPORT_ERRORS.unknownCa);
    expect(error.message).toContain('ota-agent Test Root CA (RSA)');
  });

  it('refuses to run without roots, with an IP as servername, or under NODE_TLS_REJECT_UNAUTHORIZED=0', async () => {
    const transport = new NodeTlsTransport();
    await expect(transport.connect({ host: 'localhost', port: 1, tls: true, timeoutMs: 1000 })).rejects.toMatchObject({ code: TRANSPORT_ERRORS.noRoots });
    const rooted = new NodeTlsTransport({ ca: loadDeviceRoots() });
    await expect(rooted.connect({ host: 'localhost', port: 1, tls: true, servername: '127.0.0.1', timeoutMs: 1000 })).rejects.toMatchObject({ code: 'tls-bad-servername' });
    const before = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
    try {
      await expect(rooted.connect({ host: 'localhost', port: 1, tls: true, timeoutMs: 1000 })).rejects.toMatchObject({ code: TRANSPORT_ERRORS.insecureEnvironment });
    } finally {
      if (before === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
      else process.env.NODE_TLS_REJECT_UNAUTHORIZED = before;
    }
  });

  it('says so when the server answers the handshake with plain HTTP', async () => {
    const { createServer: createNetServer } = await import('node:net');
    const plain = createNetServer((socket) => {
      socket.once('data', () => socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n'));
      socket.on('error', () => undefined);
    });
    await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
    try {
      const port = (plain.address() as AddressInfo).port;
      const transport = new NodeTlsTransport({ ca: [testPki('ecdsa').root.certDer] });
      await expect(transport.connect({ host: 'localhost', port, tls: true, ca: [testPki('ecdsa').root.certDer], timeoutMs: 5000 })).rejects.toMatchObject({
        code: 'tls-peer-not-tls', retryable: true, message: expect.stringContaining('plain-HTTP'),
      });
    } finally {
      await new Promise((r) => plain.close(r));
    }
  });

  it('refuses the test-only escape unless the environment opts in', () => {
    delete process.env[TEST_ONLY_INSECURE_ENV];
    expect(() => new NodeTlsTransport({ testOnlyInsecure: { omitSni: true } })).toThrow(expect.objectContaining({ code: TRANSPORT_ERRORS.insecureOption }));
    expect(() => new NodeTlsTransport({ minVersion: 'TLSv1.1' as never })).toThrow(expect.objectContaining({ code: 'tls-bad-version-range' }));
  });

  it('classifies alerts by number under both OpenSSL 3.0 and 3.5 code spellings, and verify codes by name', () => {
    const err = (code: string, message = '') => Object.assign(new Error(message), { code });
    expect(alertFromError(err('ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE'))).toBe(40);
    expect(alertFromError(err('ERR_SSL_SSL/TLS_ALERT_HANDSHAKE_FAILURE'))).toBe(40);
    expect(alertFromError(err('ERR_SSL_TLSV1_ALERT_INTERNAL_ERROR'))).toBe(80);
    expect(alertFromError(err('ERR_SSL_TLSV1_UNRECOGNIZED_NAME', 'x:SSL alert number 112'))).toBe(112);
    expect(alertFromError(err('ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION'))).toBe(70);
    expect(alertFromError(err('ECONNRESET'))).toBe(-1);
    expect(classifyVerifyCode('UNABLE_TO_GET_ISSUER_CERT_LOCALLY')).toBe('unknown-ca');
    expect(classifyVerifyCode('SELF_SIGNED_CERT_IN_CHAIN')).toBe('unknown-ca');
    expect(classifyVerifyCode('CERT_HAS_EXPIRED')).toBe('expired');
    expect(classifyVerifyCode('CERT_NOT_YET_VALID')).toBe('not-yet-valid');
    expect(classifyVerifyCode('ERR_TLS_CERT_ALTNAME_INVALID')).toBe('name-mismatch');
    expect(classifyVerifyCode('INVALID_CA')).toBe('invalid-chain');
    expect(classifyVerifyCode('SOMETHING_ELSE')).toBeNull();
  });
});
