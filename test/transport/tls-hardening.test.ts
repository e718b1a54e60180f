// Attacks on both TLS transports (node:tls and mbedTLS-in-wasm) from local servers on 127.0.0.1: truncation, tampered
// records, alerts after the handshake, certificates for the wrong purpose, servers that are not TLS, and the facts
// `info` reports. Each case runs against both transports, so they keep giving the same error codes.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect, createServer as createTcpServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import { TLSSocket, createSecureContext } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connection, Transport } from '../../src/http/transport.js';
import { MbedTlsTransport } from '../../src/node/transports/mbedtls.js';
import { NodeTlsTransport } from '../../src/node/transports/tls.js';
import { KEY_USAGE, keyUsageBits, keyUsageProblem } from '../../src/node/transports/key-usage.js';
import { testPki } from '../../src/tools/pki.js';
import { ensureMbedTlsBuilt, rejection, startServer, type TestServer } from '../mbedtls/helpers.js';

const NAME = 'localhost';

/** A small ECDSA PKI made with the openssl CLI: leaves the shared test PKI does not have. */
interface QaPki {
  rootDer: Uint8Array;
  chain(name: 'good' | 'clientAuthOnly' | 'noDigitalSignature' | 'noKeyUsage'): { cert: string; key: string; der: Uint8Array };
}

function makeQaPki(dir: string): QaPki {
  const openssl = (...args: string[]): void => { execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' }); };
  const ecKey = (name: string): void => openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`);
  ecKey('root');
  openssl('req', '-x509', '-new', '-key', 'root.key', '-subj', '/CN=QA Root', '-days', '3650', '-out', 'root.pem',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  const leaves: { [name: string]: string } = {
    good: 'keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n',
    clientAuthOnly: 'keyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n',
    noDigitalSignature: 'keyUsage=critical,keyEncipherment,dataEncipherment\nextendedKeyUsage=serverAuth\n',
    noKeyUsage: '',
  };
  for (const [name, ext] of Object.entries(leaves)) {
    ecKey(name);
    openssl('req', '-new', '-key', `${name}.key`, '-subj', `/CN=${NAME}`, '-out', `${name}.csr`);
    writeFileSync(join(dir, `${name}.ext`), `basicConstraints=CA:FALSE\nsubjectAltName=DNS:${NAME},IP:127.0.0.1\n${ext}`);
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'root.pem', '-CAkey', 'root.key', '-CAcreateserial', '-days', '30',
      '-out', `${name}.pem`, '-extfile', `${name}.ext`);
    openssl('x509', '-in', `${name}.pem`, '-outform', 'DER', '-out', `${name}.der`);
  }
  openssl('x509', '-in', 'root.pem', '-outform', 'DER', '-out', 'root.der');
  const read = (file: string): string => readFileSync(join(dir, file), 'utf8');
  return {
    rootDer: new Uint8Array(readFileSync(join(dir, 'root.der'))),
    chain: (name) => ({ cert: read(`${name}.pem`), key: read(`${name}.key`), der: new Uint8Array(readFileSync(join(dir, `${name}.der`))) }),
  };
}

let dir = '';
let pki: QaPki;

beforeAll(() => {
  ensureMbedTlsBuilt();
  dir = mkdtempSync(join(tmpdir(), 'ota-tls-qa-'));
  pki = makeQaPki(dir);
});

afterAll(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

const transports: [string, () => Transport][] = [
  ['node:tls', () => new NodeTlsTransport()],
  ['mbedTLS', () => new MbedTlsTransport()],
];

function open(transport: Transport, port: number, host: string = NAME): Promise<Connection> {
  return transport.connect({ host, port, tls: true, ca: [pki.rootDer], timeoutMs: 5000 });
}

async function withServer<T>(server: TestServer | Promise<TestServer>, body: (s: TestServer) => Promise<T>): Promise<T> {
  const started = await server;
  try {
    return await body(started);
  } finally {
    await started.close();
  }
}

/** Reads to the end; resolves with the bytes read, rejects with the transport's error. */
async function readToEnd(connection: Connection): Promise<string> {
  const parts: Buffer[] = [];
  for (let i = 0; i < 10_000; i++) {
    const chunk = await connection.read();
    if (chunk === null) return Buffer.concat(parts).toString();
    parts.push(Buffer.from(chunk));
  }
  throw new Error('stream did not end');
}

/** Writes a byte and reads the echo: afterwards the server has seen the whole handshake. */
async function roundTrip(connection: Connection): Promise<void> {
  await connection.write(Buffer.from('!'));
  expect(Buffer.from((await connection.read()) as Uint8Array).toString()).toBe('!');
}

/** A TCP server that answers with `reply` once the ClientHello arrives. */
async function rawServer(reply: Buffer): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createTcpServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => { /* the client asserts */ });
    socket.once('data', () => socket.end(reply));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    }),
  };
}

/**
 * A TLS echo server that tells, for each connection, whether the client sent close_notify before its TCP FIN. The TLS
 * side runs over a JS stream fed from the raw socket, so the raw FIN is seen on its own: if the TLS side has already
 * ended by then, the client's close_notify ended it.
 */
async function closeNotifyServer(cert: string, key: string): Promise<{ port: number; verdicts: string[]; close(): Promise<void> }> {
  const context = createSecureContext({ cert, key });
  const verdicts: string[] = [];
  const sockets = new Set<Socket>();
  const server = createTcpServer((raw) => {
    sockets.add(raw);
    raw.on('error', () => { /* the client side asserts */ });
    const bridge = new Duplex({
      read: () => { raw.resume(); },
      write: (chunk: Buffer, _encoding, done) => { raw.write(chunk, done); },
      final: (done) => { raw.end(); done(); },
    });
    const secure = new TLSSocket(bridge as unknown as Socket, { isServer: true, secureContext: context });
    raw.on('end', () => {
      verdicts.push((secure as unknown as { _readableState: { ended: boolean } })._readableState.ended ? 'close_notify' : 'no close_notify');
      bridge.push(null);
    });
    raw.on('data', (chunk: Buffer) => { if (!bridge.push(chunk)) raw.pause(); });
    secure.on('error', () => { /* idem */ });
    secure.on('data', (chunk: Buffer) => secure.write(chunk));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    verdicts,
    close: () => new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    }),
  };
}

describe.each(transports)('%s under attack', (_name, make) => {
  it('sends close_notify on close() (and the server can tell when it is missing)', async () => {
    const leaf = pki.chain('good');
    const server = await closeNotifyServer(leaf.cert, leaf.key);
    try {
      const transport = make();
      const waitVerdict = async (): Promise<string> => {
        for (let i = 0; i < 100 && server.verdicts.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
        return server.verdicts.splice(0).join();
      };
      const polite = await open(transport, server.port);
      await roundTrip(polite);
      polite.close();
      expect(await waitVerdict()).toBe('close_notify');
      // The control: a bare TCP close is told apart, so the assertion above can fail.
      const rude = await open(transport, server.port);
      await roundTrip(rude);
      (rude as unknown as { socket: Socket }).socket.destroy();
      expect(await waitVerdict()).toBe('no close_notify');
      rude.close();
    } finally {
      await server.close();
    }
  });

  it('verifies "name." as "name" and never sends the trailing dot; refuses an empty servername', async () => {
    const leaf = pki.chain('good');
    await withServer(startServer({ cert: leaf.cert, key: leaf.key }), async (server) => {
      const transport = make();
      const dotted = await transport.connect({ host: '127.0.0.1', servername: `${NAME}.`, port: server.port, tls: true, ca: [pki.rootDer], timeoutMs: 5000 });
      expect(dotted.info?.servername).toBe(NAME);
      await roundTrip(dotted);
      dotted.close();
      expect(server.servernames).toEqual([NAME]);
      const error = await rejection(transport.connect({ host: '127.0.0.1', servername: '', port: server.port, tls: true, ca: [pki.rootDer], timeoutMs: 5000 }));
      expect(error.code).toBe('tls-hostname-not-set');
    });
  });

  it('refuses a bundle entry that is not a certificate instead of blaming the server', async () => {
    const leaf = pki.chain('good');
    await withServer(startServer({ cert: leaf.cert, key: leaf.key }), async (server) => {
      for (const bad of [new Uint8Array(0), new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01])]) {
        const error = await rejection(make().connect({ host: NAME, port: server.port, tls: true, ca: [pki.rootDer, bad], timeoutMs: 5000 }));
        expect(error.code).toBe('tls-bad-root');
        expect(error.details).toMatchObject({ index: 1 });
      }
    });
  });

  it('reports protocol, cipher, ALPN, SNI sent and the SHA-256 of the peer leaf', async () => {
    const leaf = pki.chain('good');
    const sha = createHash('sha256').update(leaf.der).digest('hex');
    for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
      await withServer(startServer({ cert: leaf.cert, key: leaf.key, minVersion: version, maxVersion: version, ALPNProtocols: ['http/1.1'] }), async (server) => {
        const transport = make();
        const byName = await open(transport, server.port);
        expect(byName.info).toMatchObject({ protocol: version, alpn: 'http/1.1', servername: NAME, sniSent: true, peerSha256: sha });
        expect(byName.info?.cipher).toMatch(version === 'TLSv1.3' ? /^TLS_(AES|CHACHA)/ : /ECDHE/);
        await roundTrip(byName);
        byName.close();
        const byIp = await open(transport, server.port, '127.0.0.1');
        expect(byIp.info).toMatchObject({ protocol: version, sniSent: false, peerSha256: sha });
        expect(byIp.info?.servername).toBeUndefined();
        await roundTrip(byIp);
        byIp.close();
        expect(server.servernames).toEqual([NAME, false]);
      });
    }
  });

  it('ends the stream cleanly when the server sends close_notify', async () => {
    const leaf = pki.chain('good');
    // The server answers the client's first bytes, so its handshake is over and end() sends close_notify.
    await withServer(startServer({ cert: leaf.cert, key: leaf.key }, (socket) => socket.once('data', () => socket.end('whole body'))), async (server) => {
      const connection = await open(make(), server.port);
      await connection.write(Buffer.from('GET'));
      expect(await readToEnd(connection)).toBe('whole body');
      connection.close();
    });
  });

  it('refuses a server certificate issued for clientAuth only (extended key usage)', async () => {
    const leaf = pki.chain('clientAuthOnly');
    await withServer(startServer({ cert: leaf.cert, key: leaf.key }), async (server) => {
      const error = await rejection(open(make(), server.port));
      expect(error.code).toBe('tls-cert-wrong-usage');
      expect(error.message).toMatch(/not allowed for TLS server authentication/);
      expect(error.retryable).toBe(false);
    });
  });

  it('refuses an ECDSA leaf whose keyUsage lacks digitalSignature under TLS 1.3 (the device does; OpenSSL would not)', async () => {
    // Under TLS 1.2 OpenSSL's server itself will not sign with such a key (alert 40); under 1.3 it does.
    const leaf = pki.chain('noDigitalSignature');
    await withServer(startServer({ cert: leaf.cert, key: leaf.key, minVersion: 'TLSv1.3' }), async (server) => {
      const error = await rejection(open(make(), server.port));
      expect(error.code).toBe('tls-cert-wrong-usage');
      expect(error.message).toMatch(/KEY_USAGE/);
      expect(error.details).toMatchObject({ expectedName: NAME, subject: NAME });
    });
  });

  it('accepts a leaf without a keyUsage extension (every usage allowed)', async () => {
    const leaf = pki.chain('noKeyUsage');
    await withServer(startServer({ cert: leaf.cert, key: leaf.key }), async (server) => {
      const connection = await open(make(), server.port);
      expect(connection.info?.protocol).toBe('TLSv1.3');
      connection.close();
    });
  });

  it('names a TLS 1.3 server demanding a client certificate (alert 116 after the handshake)', async () => {
    const leaf = pki.chain('good');
    await withServer(startServer({ cert: leaf.cert, key: leaf.key, requestCert: true, rejectUnauthorized: true, ca: leaf.cert }), async (server) => {
      const connection = await open(make(), server.port);
      await connection.write(Buffer.from('GET'));
      const error = await rejection(readToEnd(connection));
      connection.close();
      expect(error.code).toBe('tls-client-cert-required');
      expect(error.message).toMatch(/requires a client certificate/);
      expect(error.details).toMatchObject({ alert: 116 });
    });
  });

  it('names a client certificate as a possible cause of a TLS 1.2 server\'s alert 40', async () => {
    const leaf = pki.chain('good');
    await withServer(startServer({ cert: leaf.cert, key: leaf.key, maxVersion: 'TLSv1.2', requestCert: true, rejectUnauthorized: true, ca: leaf.cert }), async (server) => {
      const error = await rejection(open(make(), server.port));
      expect(error.code).toBe('tls-handshake-refused');
      expect(error.message).toMatch(/client certificate/);
    });
  });

  it('says "not TLS" when a plain-HTTP server answers the ClientHello', async () => {
    const server = await rawServer(Buffer.from('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n'));
    try {
      const error = await rejection(open(make(), server.port));
      expect(error.code).toBe('tls-peer-not-tls');
      expect(error.retryable).toBe(true);
    } finally {
      await server.close();
    }
  });

  it('rejects a record altered on the way (bad_record_mac) instead of delivering it', async () => {
    const leaf = pki.chain('good');
    const body = Buffer.alloc(40_000, 0x61);
    await withServer(startServer({ cert: leaf.cert, key: leaf.key }, (socket: TLSSocket) => socket.once('data', () => socket.write(body))), async (backend) => {
      // A TCP proxy that flips one bit 25 000 bytes into the server's stream: inside application data.
      const sockets = new Set<Socket>();
      const proxy = createTcpServer((client) => {
        sockets.add(client);
        client.on('error', () => { /* asserted on the client side */ });
        const upstream = tcpConnect(backend.port, '127.0.0.1');
        sockets.add(upstream);
        upstream.on('error', () => { /* idem */ });
        client.pipe(upstream);
        let seen = 0;
        upstream.on('data', (chunk: Buffer) => {
          const at = 25_000 - seen;
          if (at >= 0 && at < chunk.length) chunk[at] ^= 0x01;
          seen += chunk.length;
          client.write(chunk);
        });
      });
      await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
      try {
        const connection = await open(make(), (proxy.address() as AddressInfo).port);
        await connection.write(Buffer.from('GET'));
        let received = 0;
        const error = await rejection((async () => {
          for (let i = 0; i < 1000; i++) {
            const chunk = await connection.read();
            if (chunk === null) return;
            for (let j = 0; j < chunk.length; j++) if (chunk[j] !== 0x61) throw new Error('altered byte delivered');
            received += chunk.length;
          }
        })());
        connection.close();
        expect(error.code).toBe('tls-bad-record-mac');
        expect(error.retryable).toBe(true);
        expect(received).toBeLessThan(25_000);
      } finally {
        for (const socket of sockets) socket.destroy();
        await new Promise<void>((resolve) => proxy.close(() => resolve()));
      }
    });
  });

  it('opens and closes 150 connections without leaving sockets or timers behind', async () => {
    const leaf = pki.chain('good');
    await withServer(startServer({ cert: leaf.cert, key: leaf.key }), async (server) => {
      const transport = make();
      const handles = (): number => (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles().length;
      const before = handles();
      for (let i = 0; i < 150; i++) {
        const connection = await open(transport, server.port);
        await connection.write(Buffer.from('x'));
        expect(Buffer.from((await connection.read()) as Uint8Array).toString()).toBe('x');
        connection.close();
      }
      // close() lets the peer answer close_notify for up to 1 s before destroying the socket.
      for (let i = 0; i < 40 && handles() > before; i++) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(handles()).toBeLessThanOrEqual(before);
    });
  });
});

describe('mbedTLS: truncation', () => {
  it('reports a stream that ends without close_notify as tls-peer-closed, never as a clean end', async () => {
    const leaf = pki.chain('good');
    // destroy() after the data: TCP FIN, no close_notify, as an attacker cutting the connection would.
    await withServer(startServer({ cert: leaf.cert, key: leaf.key }, (socket) => socket.once('data', () => socket.write('partial bo', () => socket.destroy()))), async (server) => {
      const connection = await open(new MbedTlsTransport(), server.port);
      await connection.write(Buffer.from('GET'));
      const first = await connection.read();
      expect(Buffer.from(first as Uint8Array).toString()).toBe('partial bo');
      const error = await rejection(connection.read());
      connection.close();
      expect(error.code).toBe('tls-peer-closed');
      expect(error.retryable).toBe(true);
      expect(error.message).toMatch(/without close_notify/);
    });
  });

  it('still verifies under NODE_TLS_REJECT_UNAUTHORIZED=0 (that switch is OpenSSL\'s, and mbedTLS has no off switch)', async () => {
    const leaf = pki.chain('good');
    await withServer(startServer({ cert: leaf.cert, key: leaf.key }), async (server) => {
      const before = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
      process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
      try {
        // A root that did not issue this chain: only verification can refuse the server.
        const error = await rejection(new MbedTlsTransport().connect({ host: NAME, port: server.port, tls: true, ca: [testPki('ecdsa').otherRoot.certDer], timeoutMs: 5000 }));
        expect(error.code).toBe('tls-unknown-ca');
      } finally {
        if (before === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
        else process.env.NODE_TLS_REJECT_UNAUTHORIZED = before;
      }
    });
  });
});

describe('node:tls: session resumption', () => {
  it('never resumes a session from a connection it refused: a retry after a name mismatch fails again (TLS 1.2 and 1.3)', async () => {
    // The server's certificate chains to a trusted root but is for localhost; the client asks for another name. Node
    // skips the host-name check on resumed sessions, so a session kept from the refused attempt would let the retry in.
    const leaf = pki.chain('good');
    for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
      await withServer(startServer({ cert: leaf.cert, key: leaf.key, minVersion: version, maxVersion: version }), async (server) => {
        const transport = new NodeTlsTransport();
        for (let attempt = 0; attempt < 3; attempt++) {
          const error = await rejection(transport.connect({ host: '127.0.0.1', servername: 'evil.example', port: server.port, tls: true, ca: [pki.rootDer], timeoutMs: 5000 }));
          expect(`${version} attempt ${attempt}: ${error.code}`).toBe(`${version} attempt ${attempt}: tls-name-mismatch`);
        }
      });
    }
  });

  it('resumes verified sessions and still reports the peer leaf', async () => {
    const leaf = pki.chain('good');
    const sha = createHash('sha256').update(leaf.der).digest('hex');
    for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
      await withServer(startServer({ cert: leaf.cert, key: leaf.key, minVersion: version, maxVersion: version }), async (server) => {
        const transport = new NodeTlsTransport();
        const seen: { resumed?: boolean; peerSha256?: string }[] = [];
        for (let i = 0; i < 3; i++) {
          const connection = await open(transport, server.port);
          await roundTrip(connection);
          seen.push({ resumed: connection.info?.resumed, peerSha256: (connection.info as { peerSha256?: string }).peerSha256 });
          connection.close();
        }
        expect(seen.map((s) => s.resumed)).toEqual([false, true, true]);
        expect(seen.map((s) => s.peerSha256)).toEqual([sha, sha, sha]);
      });
    }
  });
});

describe('mbedTLS: a certificate chain larger than the input buffer', () => {
  it('fails during the handshake naming the chain, and does not advise a buffer it already has (node:tls takes it)', async () => {
    // A leaf with 900 SANs (about 21 KB): bigger than any mbedTLS input buffer.
    const big = mkdtempSync(join(tmpdir(), 'ota-tls-big-'));
    try {
      const sans = ['DNS:localhost'];
      for (let i = 0; i < 900; i++) sans.push(`DNS:host${i}.example.test`);
      const openssl = (...args: string[]): void => { execFileSync('openssl', args, { cwd: big, stdio: 'pipe' }); };
      openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'key.pem', '-out', 'cert.pem',
        '-subj', `/CN=${NAME}`, '-days', '30', '-addext', `subjectAltName=${sans.join(',')}`, '-addext', 'basicConstraints=critical,CA:TRUE');
      openssl('x509', '-in', 'cert.pem', '-outform', 'DER', '-out', 'cert.der');
      const der = new Uint8Array(readFileSync(join(big, 'cert.der')));
      expect(der.length).toBeGreaterThan(16_384);
      const server = await startServer({ cert: readFileSync(join(big, 'cert.pem')), key: readFileSync(join(big, 'key.pem')) });
      try {
        const viaNode = await new NodeTlsTransport().connect({ host: NAME, port: server.port, tls: true, ca: [der], timeoutMs: 5000 });
        viaNode.close();
        for (const recordBuffer of [16_384, 4096]) {
          const error = await rejection(new MbedTlsTransport({ recordBuffer }).connect({ host: NAME, port: server.port, tls: true, ca: [der], timeoutMs: 5000 }));
          expect(error.code).toBe('tls-record-too-large');
          expect(error.message).toMatch(/certificate chain/);
          expect(error.details).toMatchObject({ stage: 'handshake', recordBuffer });
          if (recordBuffer === 16_384) expect(error.message).not.toMatch(/Enlarge the buffer/);
        }
      } finally {
        await server.close();
      }
    } finally {
      rmSync(big, { recursive: true, force: true });
    }
  });
});

describe('keyUsage reader', () => {
  it('reads the keyUsage bits, and null when the extension is absent or the bytes are not a certificate', () => {
    expect(keyUsageBits(pki.chain('good').der)).toBe(KEY_USAGE.digitalSignature);
    expect(keyUsageBits(pki.chain('noDigitalSignature').der)).toBe(KEY_USAGE.keyEncipherment | 0x10);
    expect(keyUsageBits(pki.chain('noKeyUsage').der)).toBeNull();
    expect(keyUsageBits(new Uint8Array([0x30, 0x82, 0xff]))).toBeNull();
    const der = pki.chain('good').der;
    for (let cut = 0; cut < der.length; cut += 7) expect(() => keyUsageBits(der.subarray(0, cut))).not.toThrow();
  });

  it('asks for keyEncipherment only with TLS 1.2 RSA key transport', () => {
    const der = pki.chain('noDigitalSignature').der;
    expect(keyUsageProblem(der, 'TLSv1.3', 'TLS_AES_128_GCM_SHA256')).toMatch(/lacks digitalSignature/);
    expect(keyUsageProblem(der, 'TLSv1.2', 'ECDHE-RSA-AES128-GCM-SHA256')).toMatch(/lacks digitalSignature/);
    expect(keyUsageProblem(der, 'TLSv1.2', 'AES256-GCM-SHA384')).toBeNull();
    expect(keyUsageProblem(pki.chain('good').der, 'TLSv1.2', 'AES256-GCM-SHA384')).toMatch(/lacks keyEncipherment/);
  });
});
