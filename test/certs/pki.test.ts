import { describe, expect, it } from 'vitest';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServerIdentity, testPki, type KeyKind } from '../../src/tools/pki.js';

describe('test PKI', () => {
  for (const kind of ['rsa', 'ecdsa'] as KeyKind[]) {
    it(`builds the ${kind} chains with the promised properties`, () => {
      const pki = testPki(kind);
      expect(testPki(kind)).toBe(pki);
      const x = (pem: string) => new X509Certificate(pem);
      const root = x(pki.root.certPem);
      const intermediate = x(pki.intermediate.certPem);
      const leaf = x(pki.leaf.certPem);
      expect(root.ca && intermediate.ca).toBe(true);
      expect(leaf.ca).toBe(false);
      expect(root.checkIssued(root) && root.verify(root.publicKey)).toBe(true);
      expect(intermediate.checkIssued(root) && intermediate.verify(root.publicKey)).toBe(true);
      expect(leaf.checkIssued(intermediate) && leaf.verify(intermediate.publicKey)).toBe(true);
      expect(leaf.checkHost('localhost')).toBe('localhost');
      expect(leaf.checkIP('127.0.0.1')).toBe('127.0.0.1');
      expect(leaf.publicKey.asymmetricKeyType).toBe(kind === 'rsa' ? 'rsa' : 'ec');
      // A server sends leaf + intermediate; the root stays with the client.
      expect(pki.leaf.chainPem).toBe(pki.leaf.certPem + pki.intermediate.certPem);
      const now = Date.now();
      expect(Date.parse(x(pki.expiredLeaf.certPem).validTo)).toBeLessThan(now);
      expect(Date.parse(x(pki.notYetValidLeaf.certPem).validFrom)).toBeGreaterThan(now);
      expect(x(pki.wrongHostLeaf.certPem).checkHost('localhost')).toBeUndefined();
      const leafSigned = x(pki.leafSignedLeaf.certPem);
      expect(leafSigned.verify(leaf.publicKey)).toBe(true);
      expect(pki.leafSignedLeaf.chainPem).toBe(pki.leafSignedLeaf.certPem + pki.leaf.certPem + pki.intermediate.certPem);
      expect(x(pki.untrustedLeaf.certPem).verify(root.publicKey)).toBe(false);
      expect(x(pki.untrustedLeaf.certPem).verify(x(pki.otherRoot.certPem).publicKey)).toBe(true);
    });
  }

  it('creates a server identity, persists it, reuses it, and replaces it when the hosts change', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ota-identity-'));
    try {
      const first = createServerIdentity(dir, ['localhost', '127.0.0.1']);
      for (const file of ['ca.pem', 'ca.der', 'server-cert.pem', 'server-key.pem']) expect(existsSync(join(dir, file))).toBe(true);
      const cert = new X509Certificate(first.certPem);
      expect(cert.checkIssued(new X509Certificate(first.caPem))).toBe(true);
      expect(cert.checkHost('localhost')).toBe('localhost');
      expect(Buffer.from(first.caDer).equals(readFileSync(join(dir, 'ca.der')))).toBe(true);
      const again = createServerIdentity(dir, ['localhost', '127.0.0.1']);
      expect(again.certPem).toBe(first.certPem);
      const other = createServerIdentity(dir, ['cdn.localhost', '127.0.0.1']);
      expect(other.certPem).not.toBe(first.certPem);
      expect(new X509Certificate(other.certPem).checkHost('cdn.localhost')).toBe('cdn.localhost');
      expect(createServerIdentity(undefined, ['a.localhost'])).toBe(createServerIdentity(undefined, ['a.localhost']));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
