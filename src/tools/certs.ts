// Host-side tools for the bundled root certificates (certs/): load, describe, convert PEM<->DER, and export a C
// header of DER arrays like memfault-firmware-sdk's root_certs.h, so firmware can embed the same bundle.
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import forge from 'node-forge';
import { otaError } from '../util/errors.js';

/** One certificate listed in certs/manifest.json. */
export interface ManifestEntry {
  name: string;
  commonName: string;
  /** "device": in the bundle the agent trusts; "legacy": kept for reference, never trusted by default. */
  role: 'device' | 'legacy';
  pem: string;
  der: string;
  /** Pinned SHA-256 fingerprint, colon-separated upper-case hex. */
  sha256: string;
  notBefore: string;
  notAfter: string;
}

/** certs/manifest.json. */
export interface CertManifest {
  source: string;
  deviceBundle: string[];
  certificates: ManifestEntry[];
}

/** What `ota certs list` shows about a certificate. */
export interface CertSummary {
  name: string;
  subject: string;
  commonName: string;
  issuer: string;
  /** SHA-256 of the DER, colon-separated upper-case hex. */
  sha256: string;
  notBefore: string;
  notAfter: string;
  /** e.g. "RSA-2048", "EC P-256". */
  keyType: string;
  isCa: boolean;
  /** Whole days until expiry (negative once expired). */
  daysLeft: number;
}

/** A bundled certificate: its manifest entry and DER bytes. */
export interface BundledCert {
  entry: ManifestEntry;
  der: Uint8Array;
}

/** The certs/ directory shipped with the package (found by walking up from this module). */
export function defaultCertsDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'certs', 'manifest.json'))) return join(dir, 'certs');
    dir = dirname(dir);
  }
  throw otaError('certs-not-found', 'Cannot find the bundled certs/ directory (certs/manifest.json) above ' + fileURLToPath(import.meta.url) + '; reinstall the package or pass a directory.', false);
}

/** Reads certs/manifest.json. */
export function readManifest(dir: string = defaultCertsDir()): CertManifest {
  return JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as CertManifest;
}

/** Colon-separated upper-case SHA-256 of DER bytes (via forge). */
export function fingerprint256(der: Uint8Array): string {
  const md = forge.md.sha256.create();
  md.update(forge.util.binary.raw.encode(der));
  return md.digest().toHex().toUpperCase().replace(/(..)(?!$)/g, '$1:');
}

/**
 * The certificates of the bundle, DER, each checked against its pinned fingerprint. `which` = "device" (what the
 * agent trusts: DigiCert Global Root G2, Amazon Root CA 1) or "all" (plus the legacy DigiCert Global Root CA).
 */
export function loadBundle(which: 'device' | 'all' = 'device', dir: string = defaultCertsDir()): BundledCert[] {
  const manifest = readManifest(dir);
  const out: BundledCert[] = [];
  for (const entry of manifest.certificates) {
    if (which === 'device' && manifest.deviceBundle.indexOf(entry.name) < 0) continue;
    const der = new Uint8Array(readFileSync(join(dir, entry.der)));
    const actual = fingerprint256(der);
    if (actual !== entry.sha256) {
      throw otaError('certs-pin-mismatch', `${entry.der} has SHA-256 ${actual} but the manifest pins ${entry.sha256}; the file was altered. Restore it with scripts/refresh-certs.sh.`, false, { name: entry.name });
    }
    out.push({ entry, der });
  }
  return out;
}

/** The device's trusted roots as DER: what transports get as `ca`. */
export function loadDeviceRoots(dir?: string): Uint8Array[] {
  return loadBundle('device', dir).map((cert) => cert.der);
}

/** Splits PEM text into the DER bytes of each CERTIFICATE block. */
export function pemToDer(pem: string): Uint8Array[] {
  const out: Uint8Array[] = [];
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  for (const block of blocks) {
    const msg = forge.pem.decode(block)[0];
    out.push(new Uint8Array(forge.util.binary.raw.decode(msg.body)));
  }
  if (out.length === 0) throw otaError('certs-no-pem', 'No "-----BEGIN CERTIFICATE-----" block found in the PEM text.', false);
  return out;
}

/** PEM text of one DER certificate. */
export function derToPem(der: Uint8Array): string {
  return forge.pem.encode({ type: 'CERTIFICATE', body: forge.util.binary.raw.encode(der) }, { maxline: 64 }).replace(/\r\n/g, '\n');
}

function dnText(attributes: forge.pki.CertificateField[]): string {
  return attributes.map((a) => `${a.shortName ?? a.name}=${String(a.value)}`).join(', ');
}

/** Subject, fingerprint, validity and key type of a DER certificate (forge; node:crypto for non-RSA keys forge cannot read). */
export function describeCert(der: Uint8Array, name = ''): CertSummary {
  const sha256 = fingerprint256(der);
  let summary: Omit<CertSummary, 'daysLeft'>;
  try {
    const cert = forge.pki.certificateFromAsn1(forge.asn1.fromDer(forge.util.binary.raw.encode(der)));
    const key = cert.publicKey as forge.pki.rsa.PublicKey;
    const basic = cert.getExtension('basicConstraints') as { cA?: boolean } | null;
    summary = {
      name,
      subject: dnText(cert.subject.attributes),
      commonName: String(cert.subject.getField('CN')?.value ?? ''),
      issuer: dnText(cert.issuer.attributes),
      sha256,
      notBefore: cert.validity.notBefore.toISOString(),
      notAfter: cert.validity.notAfter.toISOString(),
      keyType: `RSA-${key.n.bitLength()}`,
      isCa: Boolean(basic && basic.cA),
    };
  } catch {
    // forge reads RSA keys only ("OID is not RSA"); EC roots exist (e.g. Amazon Root CA 3), so fall back.
    const cert = new X509Certificate(der);
    const details = cert.publicKey.asymmetricKeyDetails ?? {};
    const keyType = cert.publicKey.asymmetricKeyType === 'ec' ? `EC ${details.namedCurve === 'prime256v1' ? 'P-256' : details.namedCurve === 'secp384r1' ? 'P-384' : String(details.namedCurve)}`
      : `${String(cert.publicKey.asymmetricKeyType).toUpperCase()}${details.modulusLength ? '-' + details.modulusLength : ''}`;
    summary = {
      name,
      subject: cert.subject.replace(/\n/g, ', '),
      commonName: /CN=([^\n]+)/.exec(cert.subject)?.[1] ?? '',
      issuer: cert.issuer.replace(/\n/g, ', '),
      sha256,
      notBefore: new Date(cert.validFrom).toISOString(),
      notAfter: new Date(cert.validTo).toISOString(),
      keyType,
      isCa: cert.ca,
    };
  }
  return { ...summary, daysLeft: Math.floor((Date.parse(summary.notAfter) - Date.now()) / 86_400_000) };
}

function cIdentifier(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '');
}

/**
 * A C header with one `static const uint8_t` DER array per certificate, their lengths, and a table of all of them,
 * in bundle order (as the firmware SDK's root_certs.h lists DigiCert Global Root G2 first).
 */
export function cHeader(certs: BundledCert[], source = 'certs/manifest.json'): string {
  const lines: string[] = [
    '// Root certificates trusted by the device, as DER. Generated by `ota certs export --format c-header`',
    `// from ${source}; do not edit, regenerate. Pass each array to mbedtls_x509_crt_parse_der().`,
    '#pragma once',
    '',
    '#include <stddef.h>',
    '#include <stdint.h>',
    '',
  ];
  const ids: string[] = [];
  for (const cert of certs) {
    const id = cIdentifier(cert.entry.name);
    ids.push(id);
    const summary = describeCert(cert.der, cert.entry.name);
    lines.push(`// ${summary.commonName}: ${summary.keyType}, valid until ${summary.notAfter.slice(0, 10)}`);
    lines.push(`// SHA-256 ${summary.sha256}`);
    lines.push(`static const uint8_t g_ota_root_cert_${id}[] = {`);
    for (let i = 0; i < cert.der.length; i += 16) {
      const row: string[] = [];
      for (let j = i; j < i + 16 && j < cert.der.length; j++) row.push('0x' + cert.der[j].toString(16).padStart(2, '0'));
      lines.push('  ' + row.join(', ') + ',');
    }
    lines.push('};');
    lines.push(`#define OTA_ROOT_CERT_${id.toUpperCase()}_LEN ${cert.der.length}u`);
    lines.push('');
  }
  lines.push('typedef struct { const uint8_t *der; size_t len; } ota_root_cert_t;');
  lines.push('');
  lines.push('static const ota_root_cert_t g_ota_root_certs[] = {');
  for (const id of ids) lines.push(`  { g_ota_root_cert_${id}, sizeof(g_ota_root_cert_${id}) },`);
  lines.push('};');
  lines.push(`#define OTA_ROOT_CERTS_COUNT ${ids.length}u`);
  lines.push('');
  return lines.join('\n');
}
