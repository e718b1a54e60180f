import { describe, expect, it } from 'vitest';
import { NodeTlsTransport } from '../../src/node/transports/tls.js';
import { MbedTlsTransport } from '../../src/node/transports/mbedtls.js';
import type { Transport } from '../../src/http/transport.js';
import { testPki } from '../../src/tools/pki.js';
import { trustedRootsProblem } from '../../src/node/transports/trusted-roots.js';
import { ensureMbedTlsBuilt, rejection, startServer } from '../mbedtls/helpers.js';

// mbedTLS anchored a chain at any certificate in `ca`, node:tls only at a self-signed one: with an intermediate in the
// bundle the mbedTLS transport accepted a server that node:tls refused as an unknown CA. Both now refuse such a
// bundle before connecting, naming the entry.

const pki = testPki('ecdsa');
const transports: [string, () => Transport][] = [
  ['node:tls', () => new NodeTlsTransport()],
  ['mbedTLS', () => new MbedTlsTransport()],
];

describe.each(transports)('%s trusts root certificates only', (_name, make) => {
  it('refuses a bundle holding an intermediate, alone or beside its root, naming the entry, before connecting', async () => {
    ensureMbedTlsBuilt();
    const server = await startServer({ cert: pki.leaf.chainPem, key: pki.leaf.keyPem });
    try {
      for (const [ca, index] of [[[pki.intermediate.certDer], 0], [[pki.root.certDer, pki.intermediate.certDer], 1]] as const) {
        const error = await rejection(make().connect({ host: '127.0.0.1', servername: 'localhost', port: server.port, tls: true, ca: [...ca], timeoutMs: 5000 }));
        expect(error.code).toBe('tls-bad-root');
        expect(error.details).toMatchObject({ index });
        expect(error.message).toContain(`is not a root: it is issued by`);
        expect(error.message).toContain(pki.intermediate.commonName);
      }
      expect(server.servernames).toEqual([]);
      // The root alone still verifies the same chain.
      const connection = await make().connect({ host: '127.0.0.1', servername: 'localhost', port: server.port, tls: true, ca: [pki.root.certDer], timeoutMs: 5000 });
      connection.close();
    } finally {
      await server.close();
    }
  });
});

describe('trustedRootsProblem', () => {
  it('accepts self-signed certificates (roots, and a pinned self-signed server certificate) and refuses the rest', () => {
    expect(trustedRootsProblem([pki.root.certDer, pki.otherRoot.certDer])).toBeNull();
    expect(trustedRootsProblem([pki.leaf.certDer])).toMatchObject({ code: 'tls-bad-root', details: { index: 0 } });
    expect(trustedRootsProblem([pki.root.certDer, new Uint8Array([0x30, 0x03, 2, 1, 1])])).toMatchObject({ code: 'tls-bad-root', details: { index: 1 } });
  });
});
