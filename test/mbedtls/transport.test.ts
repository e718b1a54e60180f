// The mbedTLS-in-wasm transport against node:tls servers on 127.0.0.1: versions, key types, verification failures
// with the same error codes as the node:tls transport, the clock, suites, curves and the hostname rules.
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { HttpClient } from '../../src/http/client.js';
import { systemClock } from '../../src/node/clock.js';
import { MbedTlsTransport } from '../../src/node/transports/mbedtls.js';
import type { MbedTlsConnectionInfo } from '../../src/node/mbedtls/connection.js';
import { testPki, type KeyKind } from '../../src/tools/pki.js';
import { drain, echo, ensureMbedTlsBuilt, pattern, patternSha256, rejection, sendPattern, startServer } from './helpers.js';

beforeAll(() => {
  ensureMbedTlsBuilt();
});

const HOST = '127.0.0.1';
const NAME = 'localhost';

function connectTo(transport: MbedTlsTransport, port: number, ca: Uint8Array[]) {
  return transport.connect({ host: HOST, port, tls: true, servername: NAME, ca, timeoutMs: 10_000 });
}

describe.each<[KeyKind, 'TLSv1.2' | 'TLSv1.3']>([
  ['rsa', 'TLSv1.2'], ['rsa', 'TLSv1.3'], ['ecdsa', 'TLSv1.2'], ['ecdsa', 'TLSv1.3'],
])('%s certificate, %s-only server', (kind, version) => {
  it('verifies the chain, sends SNI and moves data both ways intact', async () => {
    const pki = testPki(kind);
    const server = await startServer({ cert: pki.leaf.chainPem, key: pki.leaf.keyPem, minVersion: version, maxVersion: version, ALPNProtocols: ['http/1.1'] }, echo);
    try {
      const connection = await connectTo(new MbedTlsTransport(), server.port, [pki.root.certDer]);
      const info = connection.info as MbedTlsConnectionInfo;
      expect(info.protocol).toBe(version);
      expect(info.servername).toBe(NAME);
      expect(info.alpn).toBe('http/1.1');
      expect(info.cipher).toMatch(version === 'TLSv1.3' ? /^TLS_(AES|CHACHA20)/ : kind === 'rsa' ? /^TLS_ECDHE_RSA_/ : /^TLS_ECDHE_ECDSA_/);
      // 300 KiB out and back: many records each way, writes larger than one record.
      const data = Buffer.alloc(300 * 1024);
      for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff;
      const reading = (async () => {
        const parts: Uint8Array[] = [];
        let got = 0;
        while (got < data.length) {
          const chunk = await connection.read();
          if (chunk === null) break;
          parts.push(chunk);
          got += chunk.length;
        }
        return Buffer.concat(parts);
      })();
      await connection.write(data);
      expect((await reading).equals(data)).toBe(true);
      expect(server.servernames).toEqual([NAME]);
      connection.close();
      expect(await connection.read()).toBeNull();
    } finally {
      await server.close();
    }
  });
});

describe('certificate verification (same codes as the node:tls transport)', () => {
  const pki = testPki('ecdsa');

  async function failureWith(leaf: { chainPem: string; keyPem: string }, options: ConstructorParameters<typeof MbedTlsTransport>[0] = {}, ca: Uint8Array[] = [pki.root.certDer]) {
    const server = await startServer({ cert: leaf.chainPem, key: leaf.keyPem });
    try {
      return await rejection(connectTo(new MbedTlsTransport(options), server.port, ca));
    } finally {
      await server.close();
    }
  }

  it('rejects a chain to a root the device lacks, naming that root, and sends alert 48', async () => {
    const error = await failureWith(pki.untrustedLeaf);
    expect(error.code).toBe('tls-unknown-ca');
    expect(error.message).toContain(pki.otherRoot.commonName);
    expect(error.details).toMatchObject({ mbedtls: 'MBEDTLS_ERR_X509_CERT_VERIFY_FAILED', mbedtlsHex: '-0x2700', alertSent: 48 });
    expect(error.details?.verifyFlagNames).toContain('NOT_TRUSTED');
  });

  it('rejects a certificate for another name, and sends alert 42', async () => {
    const error = await failureWith(pki.wrongHostLeaf);
    expect(error.code).toBe('tls-name-mismatch');
    expect(error.message).toContain('wrong.example.test');
    expect(error.details).toMatchObject({ expectedName: NAME, alertSent: 42 });
    expect(error.details?.verifyFlagNames).toEqual(['CN_MISMATCH']);
  });

  it('rejects an expired certificate by the real clock, and sends alert 45', async () => {
    const error = await failureWith(pki.expiredLeaf);
    expect(error.code).toBe('tls-cert-expired');
    expect(error.details).toMatchObject({ alertSent: 45 });
  });

  it('rejects a certificate not valid yet by the real clock', async () => {
    const error = await failureWith(pki.notYetValidLeaf);
    expect(error.code).toBe('tls-cert-not-yet-valid');
    expect(error.details?.verifyFlagNames).toContain('FUTURE');
  });

  it('judges validity by the injected clock: 1970 is "not yet valid", 2040 is "expired"', async () => {
    const at1970 = await failureWith(pki.leaf, { clock: { now: () => 0 } });
    expect(at1970.code).toBe('tls-cert-not-yet-valid');
    expect(at1970.message).toContain('clock');
    const at2040 = await failureWith(pki.leaf, { clock: { now: () => Date.UTC(2040, 0, 1) } });
    expect(at2040.code).toBe('tls-cert-expired');
    // A clock that is merely plausible lets the same certificate through.
    const server = await startServer({ cert: pki.leaf.chainPem, key: pki.leaf.keyPem });
    try {
      const ok = await connectTo(new MbedTlsTransport({ clock: { now: () => Date.now() + 3600_000 } }), server.port, [pki.root.certDer]);
      ok.close();
    } finally {
      await server.close();
    }
  });

  it('rejects a leaf signed by another leaf (CA:FALSE)', async () => {
    const error = await failureWith(pki.leafSignedLeaf);
    expect(['tls-unknown-ca', 'tls-invalid-chain']).toContain(error.code);
    expect(error.details).toMatchObject({ mbedtlsHex: '-0x2700' });
  });

  it('trusts only the roots given: the intermediate alone is not a root', async () => {
    const error = await failureWith(pki.leaf, {}, [pki.otherRoot.certDer]);
    expect(error.code).toBe('tls-unknown-ca');
  });
});

describe('host names', () => {
  const pki = testPki('rsa');

  it('verifies an IP literal host against the IP SAN and sends no SNI for it', async () => {
    const server = await startServer({ cert: pki.leaf.chainPem, key: pki.leaf.keyPem });
    try {
      const connection = await new MbedTlsTransport().connect({ host: HOST, port: server.port, tls: true, ca: [pki.root.certDer], timeoutMs: 10_000 });
      expect((connection.info as MbedTlsConnectionInfo).sniSent).toBe(false);
      await connection.write(Buffer.from('ping'));
      expect(Buffer.from((await connection.read()) ?? []).toString()).toBe('ping');
      connection.close();
      expect(server.servernames).toEqual([false]);
    } finally {
      await server.close();
    }
  });

  it('refuses an IP literal as servername, an empty name and missing roots before connecting', async () => {
    const transport = new MbedTlsTransport();
    expect((await rejection(transport.connect({ host: HOST, port: 1, tls: true, servername: '127.0.0.1', ca: [pki.root.certDer], timeoutMs: 1000 }))).code).toBe('tls-bad-servername');
    expect((await rejection(transport.connect({ host: '', port: 1, tls: true, ca: [pki.root.certDer], timeoutMs: 1000 }))).code).toBe('tls-hostname-not-set');
    expect((await rejection(transport.connect({ host: HOST, port: 1, tls: true, servername: NAME, ca: [], timeoutMs: 1000 }))).code).toBe('tls-no-roots');
    expect((await rejection(transport.connect({ host: HOST, port: 1, tls: false, timeoutMs: 1000 }))).code).toBe('transport-tls-only');
  });

  it('rejects an invalid port without leaving the session behind', async () => {
    const transport = new MbedTlsTransport();
    const attempt = () => rejection(transport.connect({ host: HOST, port: 70000, tls: true, servername: NAME, ca: [pki.root.certDer], timeoutMs: 1000 }));
    // The first session also initialises PSA's global state, which stays: measure from the second one on.
    expect((await attempt()).code).toBe('connect-failed');
    const before = await transport.memoryStats();
    expect((await attempt()).code).toBe('connect-failed');
    expect(await transport.memoryStats()).toEqual(before);
  });

  it('reports a root that is not a certificate', async () => {
    const error = await rejection(new MbedTlsTransport().connect({ host: HOST, port: 1, tls: true, servername: NAME, ca: [new Uint8Array([0x30, 0x03, 1, 2, 3])], timeoutMs: 1000 }));
    expect(error.code).toBe('tls-bad-root');
  });
});

describe('suites, curves, versions', () => {
  const pki = testPki('ecdsa');

  it('offers only the configured suites, in any of the three spellings', async () => {
    const server = await startServer({ cert: pki.leaf.chainPem, key: pki.leaf.keyPem });
    try {
      const chacha13 = await connectTo(new MbedTlsTransport({ ciphersuites: ['TLS1-3-CHACHA20-POLY1305-SHA256'] }), server.port, [pki.root.certDer]);
      expect(chacha13.info?.cipher).toBe('TLS_CHACHA20_POLY1305_SHA256');
      chacha13.close();
      const gcm12 = await connectTo(new MbedTlsTransport({ maxVersion: 'TLSv1.2', ciphersuites: ['ECDHE-ECDSA-AES256-GCM-SHA384'] }), server.port, [pki.root.certDer]);
      expect(gcm12.info).toMatchObject({ protocol: 'TLSv1.2', cipher: 'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384' });
      gcm12.close();
    } finally {
      await server.close();
    }
  });

  it('offers only the configured curves: no shared group fails, a shared one works', async () => {
    const server = await startServer({ cert: pki.leaf.chainPem, key: pki.leaf.keyPem, ecdhCurve: 'X25519' });
    try {
      const error = await rejection(connectTo(new MbedTlsTransport({ curves: ['secp256r1'] }), server.port, [pki.root.certDer]));
      expect(error.code).toBe('tls-handshake-refused');
      expect(error.details).toMatchObject({ alert: 40 });
      const ok = await connectTo(new MbedTlsTransport({ curves: ['x25519'] }), server.port, [pki.root.certDer]);
      ok.close();
    } finally {
      await server.close();
    }
  });

  it('reports no shared version as tls-protocol-version', async () => {
    const server = await startServer({ cert: pki.leaf.chainPem, key: pki.leaf.keyPem, minVersion: 'TLSv1.3' });
    try {
      const error = await rejection(connectTo(new MbedTlsTransport({ maxVersion: 'TLSv1.2' }), server.port, [pki.root.certDer]));
      expect(error.code).toBe('tls-protocol-version');
    } finally {
      await server.close();
    }
  });

  it('validates options when constructed', () => {
    const bad = (options: ConstructorParameters<typeof MbedTlsTransport>[0]): string => {
      try {
        new MbedTlsTransport(options);
      } catch (error) {
        return (error as { code: string }).code;
      }
      return 'accepted';
    };
    expect(bad({ ciphersuites: ['TLS_RSA_WITH_RC4_128_SHA'] })).toBe('mbedtls-bad-option');
    expect(bad({ curves: ['brainpool' as 'x25519'] })).toBe('mbedtls-bad-option');
    expect(bad({ recordBuffer: 100 })).toBe('mbedtls-bad-option');
    expect(bad({ maxFragmentLength: 3000 as 4096 })).toBe('mbedtls-bad-option');
    expect(bad({ recordBuffer: 2048, maxFragmentLength: 4096 })).toBe('mbedtls-bad-option');
    expect(bad({ minVersion: 'TLSv1.3', maxVersion: 'TLSv1.2' })).toBe('mbedtls-bad-option');
    expect(bad({ recordBuffer: 4096, maxFragmentLength: 4096, ciphersuites: [0x1301, 'ECDHE-RSA-CHACHA20-POLY1305'], curves: ['x25519'] })).toBe('accepted');
  });
});

describe('connection lifecycle', () => {
  const pki = testPki('rsa');

  it('reads a large body to the end with its bytes intact', async () => {
    const size = 3 * 1024 * 1024 + 17;
    const server = await startServer({ cert: pki.leaf.chainPem, key: pki.leaf.keyPem }, sendPattern(size));
    try {
      const connection = await connectTo(new MbedTlsTransport(), server.port, [pki.root.certDer]);
      expect(await drain(connection)).toEqual({ bytes: size, sha256: patternSha256(size) });
      connection.close();
    } finally {
      await server.close();
    }
  });

  it('reports refused connections, silent servers (timeout) and servers that hang up mid-handshake', async () => {
    const transport = new MbedTlsTransport();
    const closed = createTcpServer((socket) => socket.destroy());
    const silent = createTcpServer(() => { /* accepts and says nothing */ });
    await new Promise<void>((r) => closed.listen(0, HOST, () => r()));
    await new Promise<void>((r) => silent.listen(0, HOST, () => r()));
    try {
      const refusedPort = (closed.address() as AddressInfo).port;
      const hungUp = await rejection(connectTo(transport, refusedPort, [pki.root.certDer]));
      expect(hungUp.code).toBe('tls-closed-during-handshake');
      const timeout = await rejection(transport.connect({ host: HOST, port: (silent.address() as AddressInfo).port, tls: true, servername: NAME, ca: [pki.root.certDer], timeoutMs: 300 }));
      expect(timeout.code).toBe('connect-timeout');
      expect(timeout.details).toMatchObject({ stage: 'TLS handshake' });
    } finally {
      closed.close();
      silent.close();
    }
    const gone = createTcpServer();
    await new Promise<void>((r) => gone.listen(0, HOST, () => r()));
    const port = (gone.address() as AddressInfo).port;
    await new Promise<void>((r) => gone.close(() => r()));
    expect((await rejection(connectTo(transport, port, [pki.root.certDer]))).code).toBe('connection-refused');
  });
});

describe('under the HTTP client', () => {
  it('serves HttpClient requests over keep-alive, including a ranged one', async () => {
    const pki = testPki('ecdsa');
    const body = pattern(0, 200_000);
    const server = createHttpsServer({ cert: pki.leaf.chainPem, key: pki.leaf.keyPem }, (req, res) => {
      const range = /^bytes=(\d+)-$/.exec(String(req.headers.range ?? ''));
      const start = range ? Number(range[1]) : 0;
      res.writeHead(range ? 206 : 200, { 'Content-Length': String(body.length - start), ...(range ? { 'Content-Range': `bytes ${start}-${body.length - 1}/${body.length}` } : {}) });
      res.end(body.subarray(start));
    });
    await new Promise<void>((r) => server.listen(0, HOST, () => r()));
    const port = (server.address() as AddressInfo).port;
    const http = new HttpClient({ transport: new MbedTlsTransport(), ca: [pki.root.certDer], clock: systemClock });
    try {
      const whole = await http.request({ url: `https://localhost:${port}/blob` }, 1 << 20);
      expect(whole.status).toBe(200);
      expect(Buffer.from(whole.body).equals(body)).toBe(true);
      const tail = await http.request({ url: `https://localhost:${port}/blob`, headers: [{ name: 'Range', value: 'bytes=150000-' }] }, 1 << 20);
      expect(tail.status).toBe(206);
      expect(Buffer.from(tail.body).equals(body.subarray(150_000))).toBe(true);
    } finally {
      http.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
