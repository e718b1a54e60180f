import { describe, expect, it } from 'vitest';
import { X509Certificate, createHash } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cHeader, defaultCertsDir, derToPem, describeCert, loadBundle, loadDeviceRoots, pemToDer, readManifest } from '../../src/tools/certs.js';
import { main } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/command.js';

// The pins from the reference note (memfault-firmware-sdk root_certs.h and Debian ca-certificates agree on them).
const PINS: { [name: string]: string } = {
  DigiCert_Global_Root_G2: 'CB:3C:CB:B7:60:31:E5:E0:13:8F:8D:D3:9A:23:F9:DE:47:FF:C3:5E:43:C1:14:4C:EA:27:D4:6A:5A:B1:CB:5F',
  Amazon_Root_CA_1: '8E:CD:E6:88:4F:3D:87:B1:12:5B:A3:1A:C3:FC:B1:3D:70:16:DE:7F:57:CC:90:4F:E1:CB:97:C6:AE:98:19:6E',
  DigiCert_Global_Root_CA: '43:48:A0:E9:44:4C:78:CB:26:5E:05:8D:5E:89:44:B4:D8:4F:96:62:BD:26:DB:25:7F:89:34:A4:43:C7:01:61',
};

const dir = defaultCertsDir();

function capture(cwd = process.cwd()): CliIo & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (t) => { stdout.push(t); }, err: (t) => { stderr.push(t); }, env: {}, cwd, isTty: false };
}

describe('bundled root certificates', () => {
  it('pins every certificate file to the reference SHA-256, in PEM and DER alike', () => {
    const manifest = readManifest(dir);
    expect(manifest.certificates.map((c) => c.name).sort()).toEqual(Object.keys(PINS).sort());
    for (const entry of manifest.certificates) {
      const der = readFileSync(join(dir, entry.der));
      const pem = readFileSync(join(dir, entry.pem), 'utf8');
      const fromDer = new X509Certificate(der).fingerprint256;
      const fromPem = new X509Certificate(pem).fingerprint256;
      expect(fromDer, entry.name).toBe(PINS[entry.name]);
      expect(fromPem, entry.name).toBe(PINS[entry.name]);
      expect(entry.sha256).toBe(PINS[entry.name]);
    }
  });

  it('holds self-signed CA roots that stay valid for years', () => {
    for (const cert of loadBundle('all', dir)) {
      const x = new X509Certificate(cert.der);
      expect(x.ca).toBe(true);
      expect(x.checkIssued(x)).toBe(true);
      expect(x.verify(x.publicKey)).toBe(true);
      expect(Date.parse(x.validTo)).toBeGreaterThan(Date.parse('2031-01-01'));
    }
  });

  it('trusts exactly DigiCert Global Root G2 then Amazon Root CA 1; the legacy G1 root is separate', () => {
    const device = loadBundle('device', dir);
    expect(device.map((c) => c.entry.commonName)).toEqual(['DigiCert Global Root G2', 'Amazon Root CA 1']);
    expect(loadDeviceRoots(dir).map((der) => new X509Certificate(der).fingerprint256)).toEqual([PINS.DigiCert_Global_Root_G2, PINS.Amazon_Root_CA_1]);
    const bundlePem = readFileSync(join(dir, 'device-bundle.pem'), 'utf8');
    expect(pemToDer(bundlePem).map((der) => createHash('sha256').update(der).digest('hex'))).toEqual(device.map((c) => createHash('sha256').update(c.der).digest('hex')));
  });

  it('rejects a chain that ends at the legacy DigiCert Global Root CA when verifying with the device bundle', () => {
    const g1 = join(dir, 'DigiCert_Global_Root_CA.pem');
    const withDevice = spawnSync('openssl', ['verify', '-no-CApath', '-no-CAstore', '-CAfile', join(dir, 'device-bundle.pem'), g1], { encoding: 'utf8' });
    expect(withDevice.status).not.toBe(0);
    expect(withDevice.stdout + withDevice.stderr).toMatch(/self[- ]signed|unable to get local issuer/i);
    // The same chain verifies against G1 itself, so the rejection above is about trust, not a broken file.
    const withG1 = spawnSync('openssl', ['verify', '-no-CApath', '-no-CAstore', '-CAfile', g1, g1], { encoding: 'utf8' });
    expect(withG1.status).toBe(0);
    const g1Cert = new X509Certificate(readFileSync(g1));
    for (const der of loadDeviceRoots(dir)) expect(g1Cert.checkIssued(new X509Certificate(der))).toBe(false);
  });

  it('refuses a DER file that no longer matches its pin', () => {
    const copy = mkdtempSync(join(tmpdir(), 'ota-certs-'));
    try {
      for (const name of readdirSync(dir)) writeFileSync(join(copy, name), readFileSync(join(dir, name)));
      const der = readFileSync(join(copy, 'Amazon_Root_CA_1.der'));
      der[der.length - 5] ^= 1;
      writeFileSync(join(copy, 'Amazon_Root_CA_1.der'), der);
      expect(() => loadBundle('device', copy)).toThrow(expect.objectContaining({ code: 'certs-pin-mismatch' }));
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });

  it('converts PEM to DER and back byte for byte, and describes key type and expiry', () => {
    for (const cert of loadBundle('all', dir)) {
      const pem = derToPem(cert.der);
      expect(Buffer.from(pemToDer(pem)[0]).equals(Buffer.from(cert.der))).toBe(true);
      expect(new X509Certificate(pem).fingerprint256).toBe(cert.entry.sha256);
      const summary = describeCert(cert.der, cert.entry.name);
      expect(summary.keyType).toBe('RSA-2048');
      expect(summary.sha256).toBe(cert.entry.sha256);
      expect(summary.notAfter).toBe(cert.entry.notAfter);
      expect(summary.commonName).toBe(cert.entry.commonName);
    }
    expect(() => pemToDer('not a pem')).toThrow(expect.objectContaining({ code: 'certs-no-pem' }));
  });

  it('exports a C header whose arrays are the DER bytes (compiled and run with the system C compiler)', () => {
    const certs = loadBundle('device', dir);
    const header = cHeader(certs);
    const work = mkdtempSync(join(tmpdir(), 'ota-cheader-'));
    try {
      writeFileSync(join(work, 'root_certs.h'), header);
      writeFileSync(join(work, 'main.c'), [
        '#include <stdio.h>', '#include "root_certs.h"',
        'int main(void) { for (size_t i = 0; i < OTA_ROOT_CERTS_COUNT; i++) { for (size_t j = 0; j < g_ota_root_certs[i].len; j++) printf("%02x", g_ota_root_certs[i].der[j]); printf("\\n"); } return 0; }',
      ].join('\n'));
      execFileSync('cc', ['-Wall', '-Werror', '-Wno-unused-const-variable', '-o', join(work, 'dump'), join(work, 'main.c')]);
      const lines = execFileSync(join(work, 'dump'), { encoding: 'utf8' }).trim().split('\n');
      expect(lines).toEqual(certs.map((c) => Buffer.from(c.der).toString('hex')));
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});

describe('ota certs', () => {
  it('lists the device bundle as JSON, and the legacy root with --all', async () => {
    const io = capture();
    expect(await main(['certs', 'list', '--json'], io)).toBe(0);
    const rows = JSON.parse(io.stdout.join(''));
    expect(rows.map((r: { sha256: string }) => r.sha256)).toEqual([PINS.DigiCert_Global_Root_G2, PINS.Amazon_Root_CA_1]);
    expect(rows[0]).toMatchObject({ commonName: 'DigiCert Global Root G2', keyType: 'RSA-2048', notAfter: '2038-01-15T12:00:00.000Z' });
    const all = capture();
    expect(await main(['certs', 'list', '--all'], all)).toBe(0);
    expect(all.stdout.join('')).toContain('DigiCert Global Root CA (legacy, not in the device bundle)');
  });

  it('exports pem to stdout, der files to a directory, and a c-header to a file', async () => {
    const work = mkdtempSync(join(tmpdir(), 'ota-export-'));
    try {
      const pem = capture(work);
      expect(await main(['certs', 'export', '--format', 'pem'], pem)).toBe(0);
      expect(pemToDer(pem.stdout.join('')).map((d) => new X509Certificate(d).fingerprint256)).toEqual([PINS.DigiCert_Global_Root_G2, PINS.Amazon_Root_CA_1]);
      const der = capture(work);
      expect(await main(['certs', 'export', '--format', 'der', '-o', 'der', '--all'], der)).toBe(0);
      expect(readdirSync(join(work, 'der')).sort()).toEqual(['Amazon_Root_CA_1.der', 'DigiCert_Global_Root_CA.der', 'DigiCert_Global_Root_G2.der']);
      const one = capture(work);
      expect(await main(['certs', 'export', '--format', 'der', '--name', 'DigiCert_Global_Root_G2', '-o', 'g2.der'], one)).toBe(0);
      expect(new X509Certificate(readFileSync(join(work, 'g2.der'))).fingerprint256).toBe(PINS.DigiCert_Global_Root_G2);
      const header = capture(work);
      expect(await main(['certs', 'export', '--format', 'c-header', '-o', 'root_certs.h'], header)).toBe(0);
      expect(existsSync(join(work, 'root_certs.h'))).toBe(true);
      expect(readFileSync(join(work, 'root_certs.h'), 'utf8')).toContain('#define OTA_ROOT_CERTS_COUNT 2u');
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });

  it('exits 2 on a bad format or a der export without -o', async () => {
    const a = capture();
    expect(await main(['certs', 'export', '--format', 'base64'], a)).toBe(2);
    const b = capture();
    expect(await main(['certs', 'export', '--format', 'der'], b)).toBe(2);
    expect(b.stderr.join('')).toContain('-o');
  });
});
