// Device-parity cases: the failures firmware teams meet with mbedTLS, reproduced with the same stack and settings.
import { beforeAll, describe, expect, it } from 'vitest';
import { MbedTlsTransport } from '../../src/node/transports/mbedtls.js';
import type { MbedTlsConnectionInfo } from '../../src/node/mbedtls/connection.js';
import { testPki } from '../../src/tools/pki.js';
import { drain, echo, ensureMbedTlsBuilt, patternSha256, rejection, sendPattern, startServer } from './helpers.js';

beforeAll(() => {
  ensureMbedTlsBuilt();
});

const HOST = '127.0.0.1';
const NAME = 'localhost';
const pki = testPki('ecdsa');
const ca = [pki.root.certDer];

function connect(transport: MbedTlsTransport, port: number) {
  return transport.connect({ host: HOST, port, tls: true, servername: NAME, ca, timeoutMs: 10_000 });
}

describe('SNI compiled out (sni: false)', () => {
  it('is refused by a server that needs SNI to pick a certificate, and the error names SNI as the likely cause', async () => {
    // No default certificate: a ClientHello without server_name gets alert 40 from OpenSSL.
    const server = await startServer({
      SNICallback: (name, callback) => {
        if (name === NAME) callback(null, undefined as never);
        else callback(new Error('unknown name'), undefined as never);
      },
      cert: undefined,
    });
    try {
      const error = await rejection(connect(new MbedTlsTransport({ sni: false }), server.port));
      expect(error.code).toBe('tls-handshake-refused');
      expect(error.message).toContain('no SNI was sent');
      expect(error.message).toContain('missing SNI is the likely cause');
      expect(error.details).toMatchObject({ alert: 40, alertReceived: 40, mbedtls: 'MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE', mbedtlsHex: '-0x7780' });
    } finally {
      await server.close();
    }
  });

  it('still verifies the name against a lenient server: the server sees no SNI, a wrong certificate still fails', async () => {
    const good = await startServer({ cert: pki.leaf.chainPem, key: pki.leaf.keyPem }, echo);
    const wrong = await startServer({ cert: pki.wrongHostLeaf.chainPem, key: pki.wrongHostLeaf.keyPem }, echo);
    try {
      const transport = new MbedTlsTransport({ sni: false });
      const connection = await connect(transport, good.port);
      expect((connection.info as MbedTlsConnectionInfo).sniSent).toBe(false);
      await connection.write(Buffer.from('x'));
      expect(await connection.read()).not.toBeNull();
      expect(good.servernames).toEqual([false]);
      connection.close();
      expect((await rejection(connect(transport, wrong.port))).code).toBe('tls-name-mismatch');
    } finally {
      await good.close();
      await wrong.close();
    }
  });
});

describe('record buffer (MBEDTLS_SSL_IN_CONTENT_LEN) and max_fragment_length', () => {
  const BODY = 256 * 1024;

  for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
    it(`a 4 KiB buffer fails clearly on the first 16 KiB record (${version})`, async () => {
      const server = await startServer({ cert: pki.leaf.chainPem, key: pki.leaf.keyPem, minVersion: version, maxVersion: version }, sendPattern(BODY));
      try {
        const connection = await connect(new MbedTlsTransport({ recordBuffer: 4096 }), server.port);
        expect((connection.info as MbedTlsConnectionInfo).maxInRecord).toBe(4096);
        const error = await rejection(connection.read());
        expect(error.code).toBe('tls-record-too-large');
        expect(error.message).toContain('4096-byte input record buffer');
        expect(error.details).toMatchObject({ recordBuffer: 4096, protocol: version, mbedtls: 'MBEDTLS_ERR_SSL_BAD_INPUT_DATA', mbedtlsHex: '-0x7100' });
        connection.close();
      } finally {
        await server.close();
      }
    });

    it(`a 4 KiB buffer works when the server caps its records at 4 KiB (${version})`, async () => {
      const server = await startServer({ cert: pki.leaf.chainPem, key: pki.leaf.keyPem, minVersion: version, maxVersion: version }, (socket) => {
        socket.setMaxSendFragment(4096);
        sendPattern(BODY)(socket);
      });
      try {
        const connection = await connect(new MbedTlsTransport({ recordBuffer: 4096 }), server.port);
        expect(await drain(connection)).toEqual({ bytes: BODY, sha256: patternSha256(BODY) });
        connection.close();
      } finally {
        await server.close();
      }
    });
  }

  it('a 4 KiB buffer with max_fragment_length 4096 works under TLS 1.2: the server honours RFC 6066', async () => {
    const server = await startServer({ cert: pki.leaf.chainPem, key: pki.leaf.keyPem, maxVersion: 'TLSv1.2' }, sendPattern(BODY));
    try {
      const connection = await connect(new MbedTlsTransport({ recordBuffer: 4096, maxFragmentLength: 4096 }), server.port);
      expect(connection.info?.protocol).toBe('TLSv1.2');
      expect(await drain(connection)).toEqual({ bytes: BODY, sha256: patternSha256(BODY) });
      connection.close();
    } finally {
      await server.close();
    }
  });

  it('max_fragment_length under TLS 1.3 is refused by mbedTLS 3.6 with alert 110 (extension-rejected)', async () => {
    const server = await startServer({ cert: pki.leaf.chainPem, key: pki.leaf.keyPem, minVersion: 'TLSv1.3' }, sendPattern(BODY));
    try {
      const error = await rejection(connect(new MbedTlsTransport({ recordBuffer: 4096, maxFragmentLength: 4096 }), server.port));
      expect(error.code).toBe('tls-extension-rejected');
      expect(error.message).toContain('max_fragment_length');
      expect(error.details).toMatchObject({ alertSent: 110, mbedtls: 'MBEDTLS_ERR_SSL_UNSUPPORTED_EXTENSION' });
    } finally {
      await server.close();
    }
  });

  it('the default 16 KiB buffer takes the same 16 KiB records', async () => {
    const server = await startServer({ cert: pki.leaf.chainPem, key: pki.leaf.keyPem }, sendPattern(BODY));
    try {
      const connection = await connect(new MbedTlsTransport(), server.port);
      expect((connection.info as MbedTlsConnectionInfo).maxInRecord).toBe(16384);
      expect(await drain(connection)).toEqual({ bytes: BODY, sha256: patternSha256(BODY) });
      connection.close();
    } finally {
      await server.close();
    }
  });
});

describe('memory', () => {
  it('100 consecutive connections (every 10th refused by verification) leave wasm memory and the mbedTLS heap where they were', async () => {
    const server = await startServer({ cert: pki.leaf.chainPem, key: pki.leaf.keyPem }, echo);
    const untrusted = await startServer({ cert: pki.untrustedLeaf.chainPem, key: pki.untrustedLeaf.keyPem }, echo);
    try {
      const transport = new MbedTlsTransport();
      const roundTrip = async (): Promise<void> => {
        const connection = await connect(transport, server.port);
        await connection.write(Buffer.from('ping'));
        expect(Buffer.from((await connection.read()) ?? []).toString()).toBe('ping');
        connection.close();
      };
      // Warm-up: the first connections size the allocator's pools.
      for (let i = 0; i < 3; i++) await roundTrip();
      expect((await rejection(connect(transport, untrusted.port))).code).toBe('tls-unknown-ca');
      const before = await transport.memoryStats();
      for (let i = 1; i <= 100; i++) {
        if (i % 10 === 0) expect((await rejection(connect(transport, untrusted.port))).code).toBe('tls-unknown-ca');
        else await roundTrip();
        const now = await transport.memoryStats();
        expect({ connection: i, heapBytes: now.heapBytes, heapBlocks: now.heapBlocks }).toEqual({ connection: i, heapBytes: before.heapBytes, heapBlocks: before.heapBlocks });
      }
      const after = await transport.memoryStats();
      expect(after.memoryBytes).toBe(before.memoryBytes);
    } finally {
      await server.close();
      await untrusted.close();
    }
  });
});
