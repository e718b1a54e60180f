// A throwaway PKI for tests and the mock backend. Keys come from node:crypto (native, fast); RSA certificates are
// built with node-forge, ECDSA ones with the openssl CLI because forge cannot sign with EC keys.
// Everything generated is cached per process: RSA key generation and the openssl round trips are the slow part.
import { X509Certificate, generateKeyPairSync, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isIP } from 'node:net';
import { join } from 'node:path';
import forge from 'node-forge';

/** Key algorithm of a generated chain: RSA-2048 (forge) or ECDSA P-256 (openssl CLI). */
export type KeyKind = 'rsa' | 'ecdsa';

/** One certificate with its private key. */
export interface CertKey {
  /** The certificate alone, PEM. */
  certPem: string;
  /** The certificate, DER. */
  certDer: Uint8Array;
  /** Its private key, PEM (PKCS#8). */
  keyPem: string;
  /** What a server sends: this certificate followed by its issuers up to, not including, the root. PEM. */
  chainPem: string;
  /** Subject common name, handy in assertions about error messages. */
  commonName: string;
}

/** A complete test PKI of one key kind. Servers use `x.chainPem` + `x.keyPem`; clients trust `root.certDer`. */
export interface TestPki {
  kind: KeyKind;
  /** Self-signed root CA: the one clients trust. */
  root: CertKey;
  /** CA signed by root; signs the leaves below. */
  intermediate: CertKey;
  /** Valid leaf for DNS localhost and IP 127.0.0.1. */
  leaf: CertKey;
  /** Leaf whose validity ended in the past. */
  expiredLeaf: CertKey;
  /** Leaf whose validity starts in the future. */
  notYetValidLeaf: CertKey;
  /** Valid leaf for `wrong.example.test` only. */
  wrongHostLeaf: CertKey;
  /** Leaf for localhost/127.0.0.1 signed by `leaf` (CA:FALSE): a chain every verifier must reject. */
  leafSignedLeaf: CertKey;
  /** A second, untrusted self-signed root. */
  otherRoot: CertKey;
  /** Valid-looking leaf for localhost/127.0.0.1 chaining to `otherRoot` only. */
  untrustedLeaf: CertKey;
}

/** Hosts of the default leaves. */
export const TEST_HOSTS = ['localhost', '127.0.0.1'];

const DAY = 24 * 3600 * 1000;

interface Validity {
  notBefore: Date;
  notAfter: Date;
}

interface Spec {
  commonName: string;
  ca: boolean;
  hosts: string[];
  validity: Validity;
}

function defaultValidity(): Validity {
  const now = Date.now();
  return { notBefore: new Date(now - DAY), notAfter: new Date(now + 365 * DAY) };
}

function keyPair(kind: KeyKind): { privatePem: string; publicPem: string } {
  const pair = kind === 'rsa'
    ? generateKeyPairSync('rsa', { modulusLength: 2048 })
    : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    privatePem: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

function derOf(pem: string): Uint8Array {
  return new Uint8Array(new X509Certificate(pem).raw);
}

function serialHex(): string {
  // Positive, non-zero, 16 bytes: what CAs do and what strict parsers insist on.
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] & 0x7f) | 0x10;
  return bytes.toString('hex');
}

// ---- RSA through node-forge -------------------------------------------------------------------------------------

function forgeSign(spec: Spec, publicPem: string, issuer: { certPem: string; keyPem: string } | null, ownKeyPem: string): string {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicPem);
  cert.serialNumber = serialHex();
  cert.validity.notBefore = spec.validity.notBefore;
  cert.validity.notAfter = spec.validity.notAfter;
  const subject = [{ name: 'commonName', value: spec.commonName }, { name: 'organizationName', value: 'ota-agent test PKI' }];
  cert.setSubject(subject);
  const issuerCert = issuer ? forge.pki.certificateFromPem(issuer.certPem) : null;
  cert.setIssuer(issuerCert ? issuerCert.subject.attributes : subject);
  const extensions: object[] = [
    { name: 'basicConstraints', cA: spec.ca, critical: true },
    spec.ca
      ? { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true }
      : { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ];
  if (issuerCert) {
    const issuerSki = issuerCert.getExtension('subjectKeyIdentifier') as { subjectKeyIdentifier?: string } | null;
    if (issuerSki && issuerSki.subjectKeyIdentifier) {
      extensions.push({ name: 'authorityKeyIdentifier', keyIdentifier: forge.util.hexToBytes(issuerSki.subjectKeyIdentifier) });
    }
  }
  if (!spec.ca) {
    extensions.push({ name: 'extKeyUsage', serverAuth: true });
    extensions.push({ name: 'subjectAltName', altNames: spec.hosts.map((h) => (isIP(h) ? { type: 7, ip: h } : { type: 2, value: h })) });
  }
  cert.setExtensions(extensions);
  const signingKey = forge.pki.privateKeyFromPem(issuer ? issuer.keyPem : ownKeyPem) as forge.pki.rsa.PrivateKey;
  cert.sign(signingKey, forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

// ---- ECDSA through the openssl CLI ------------------------------------------------------------------------------

function opensslTime(date: Date): string {
  // YYYYMMDDHHMMSSZ (GeneralizedTime) is accepted by `openssl ca -startdate/-enddate`.
  return date.toISOString().replace(/[-:T]/g, '').replace(/\.\d+Z$/, 'Z');
}

function opensslSign(spec: Spec, keyPem: string, issuer: { certPem: string; keyPem: string } | null): string {
  const dir = mkdtempSync(join(tmpdir(), 'ota-pki-'));
  try {
    writeFileSync(join(dir, 'key.pem'), keyPem);
    writeFileSync(join(dir, 'index.txt'), '');
    writeFileSync(join(dir, 'serial'), serialHex() + '\n');
    const san = spec.hosts.map((h) => (isIP(h) ? `IP:${h}` : `DNS:${h}`)).join(',');
    const ext = spec.ca
      ? 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n'
      : `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectKeyIdentifier=hash\nsubjectAltName=${san}\n`;
    writeFileSync(join(dir, 'ext.cnf'), '[ext]\n' + ext + (issuer ? 'authorityKeyIdentifier=keyid:always\n' : ''));
    writeFileSync(join(dir, 'ca.cnf'), [
      '[ca]', 'default_ca = d', '[d]', `database = ${join(dir, 'index.txt')}`, `new_certs_dir = ${dir}`,
      `serial = ${join(dir, 'serial')}`, 'default_md = sha256', 'policy = p', 'unique_subject = no', 'email_in_dn = no',
      '[p]', 'commonName = supplied', 'organizationName = optional', '',
    ].join('\n'));
    const subj = `/O=ota-agent test PKI/CN=${spec.commonName}`;
    execFileSync('openssl', ['req', '-new', '-key', join(dir, 'key.pem'), '-subj', subj, '-out', join(dir, 'req.pem')], { stdio: 'pipe' });
    const args = ['ca', '-batch', '-notext', '-config', join(dir, 'ca.cnf'), '-in', join(dir, 'req.pem'), '-out', join(dir, 'cert.pem'),
      '-startdate', opensslTime(spec.validity.notBefore), '-enddate', opensslTime(spec.validity.notAfter),
      '-extfile', join(dir, 'ext.cnf'), '-extensions', 'ext'];
    if (issuer) {
      writeFileSync(join(dir, 'issuer.pem'), issuer.certPem);
      writeFileSync(join(dir, 'issuer-key.pem'), issuer.keyPem);
      args.push('-cert', join(dir, 'issuer.pem'), '-keyfile', join(dir, 'issuer-key.pem'));
    } else {
      args.push('-selfsign', '-keyfile', join(dir, 'key.pem'));
    }
    execFileSync('openssl', args, { stdio: 'pipe' });
    const pem = readFileSync(join(dir, 'cert.pem'), 'utf8');
    return pem.slice(pem.indexOf('-----BEGIN CERTIFICATE-----'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- assembly ---------------------------------------------------------------------------------------------------

interface Keys {
  privatePem: string;
  publicPem: string;
}

function issue(kind: KeyKind, spec: Spec, keys: Keys, issuer: CertKey | null): CertKey {
  const certPem = kind === 'rsa'
    ? forgeSign(spec, keys.publicPem, issuer, keys.privatePem)
    : opensslSign(spec, keys.privatePem, issuer);
  // The chain a server sends stops below the root: the issuer's own chain, unless the issuer is self-signed.
  const issuerChain = issuer && !isSelfSigned(issuer.certPem) ? issuer.chainPem : '';
  return { certPem, certDer: derOf(certPem), keyPem: keys.privatePem, chainPem: certPem + issuerChain, commonName: spec.commonName };
}

function isSelfSigned(pem: string): boolean {
  const cert = new X509Certificate(pem);
  return cert.subject === cert.issuer && cert.checkIssued(cert);
}

const cache: { [kind: string]: TestPki } = {};

/** The test PKI of `kind`, generated on first use and cached for the rest of the process. */
export function testPki(kind: KeyKind = 'rsa'): TestPki {
  const cached = cache[kind];
  if (cached) return cached;
  const label = kind === 'rsa' ? 'RSA' : 'ECDSA';
  const now = Date.now();
  const valid = defaultValidity();
  const rootKeys = keyPair(kind);
  const intermediateKeys = keyPair(kind);
  const leafKeys = keyPair(kind);
  const otherRootKeys = keyPair(kind);
  const caValidity = { notBefore: new Date(now - 30 * DAY), notAfter: new Date(now + 3650 * DAY) };
  const root = issue(kind, { commonName: `ota-agent Test Root CA (${label})`, ca: true, hosts: [], validity: caValidity }, rootKeys, null);
  const intermediate = issue(kind, { commonName: `ota-agent Test Intermediate CA (${label})`, ca: true, hosts: [], validity: caValidity }, intermediateKeys, root);
  const leaf = issue(kind, { commonName: 'localhost', ca: false, hosts: TEST_HOSTS, validity: valid }, leafKeys, intermediate);
  const pki: TestPki = {
    kind,
    root,
    intermediate,
    leaf,
    expiredLeaf: issue(kind, { commonName: 'localhost', ca: false, hosts: TEST_HOSTS,
      validity: { notBefore: new Date(now - 40 * DAY), notAfter: new Date(now - 10 * DAY) } }, leafKeys, intermediate),
    notYetValidLeaf: issue(kind, { commonName: 'localhost', ca: false, hosts: TEST_HOSTS,
      validity: { notBefore: new Date(now + 10 * DAY), notAfter: new Date(now + 40 * DAY) } }, leafKeys, intermediate),
    wrongHostLeaf: issue(kind, { commonName: 'wrong.example.test', ca: false, hosts: ['wrong.example.test'], validity: valid }, leafKeys, intermediate),
    leafSignedLeaf: issue(kind, { commonName: 'leaf-signed.localhost', ca: false, hosts: TEST_HOSTS, validity: valid }, leafKeys, leaf),
    otherRoot: issue(kind, { commonName: `ota-agent Untrusted Root CA (${label})`, ca: true, hosts: [], validity: caValidity }, otherRootKeys, null),
    untrustedLeaf: null as unknown as CertKey,
  };
  pki.untrustedLeaf = issue(kind, { commonName: 'untrusted.localhost', ca: false, hosts: TEST_HOSTS, validity: valid }, leafKeys, pki.otherRoot);
  cache[kind] = pki;
  return pki;
}

/** A server's TLS identity: a private CA and a leaf it signed. Clients trust `caDer`. */
export interface ServerIdentity {
  /** The CA certificate, PEM and DER. */
  caPem: string;
  caDer: Uint8Array;
  /** The server certificate (leaf only; the CA is the root), its key, and the hosts it covers. */
  certPem: string;
  keyPem: string;
  hosts: string[];
  /** Where the PEM files live, when a directory was given. */
  dir?: string;
}

/** Options for createServerIdentity. */
export interface ServerIdentityOptions {
  /** Key algorithm; RSA by default, which needs no openssl binary. */
  keyKind?: KeyKind;
  /** Common name of the CA, e.g. to tell the API's CA from the CDN's in error messages. */
  caName?: string;
}

function identityCovers(certPem: string, hosts: string[], minRemainingMs: number): boolean {
  const cert = new X509Certificate(certPem);
  if (Date.parse(cert.validTo) - Date.now() < minRemainingMs || Date.parse(cert.validFrom) > Date.now()) return false;
  return hosts.every((h) => (isIP(h) ? cert.checkIP(h) !== undefined : cert.checkHost(h) !== undefined));
}

/**
 * A CA and a server certificate for `hosts`. With `dir`, reuses `ca.pem`, `server-cert.pem` and `server-key.pem`
 * found there while they are valid for a week more and cover every host; otherwise makes new ones and writes them
 * (plus `ca.der`). Without `dir`, results are cached in memory per host list.
 */
export function createServerIdentity(dir?: string, hosts: string[] = TEST_HOSTS, options: ServerIdentityOptions = {}): ServerIdentity {
  const kind = options.keyKind ?? 'rsa';
  const caName = options.caName ?? 'ota-agent mock backend CA';
  const memoKey = `${kind}|${caName}|${hosts.join(',')}`;
  if (dir) {
    const caPath = join(dir, 'ca.pem');
    const certPath = join(dir, 'server-cert.pem');
    const keyPath = join(dir, 'server-key.pem');
    if (existsSync(caPath) && existsSync(certPath) && existsSync(keyPath)) {
      const caPem = readFileSync(caPath, 'utf8');
      const certPem = readFileSync(certPath, 'utf8');
      if (identityCovers(certPem, hosts, 7 * DAY) && new X509Certificate(certPem).checkIssued(new X509Certificate(caPem))) {
        return { caPem, caDer: derOf(caPem), certPem, keyPem: readFileSync(keyPath, 'utf8'), hosts, dir };
      }
    }
    const made = makeIdentity(kind, caName, hosts);
    mkdirSync(dir, { recursive: true });
    writeFileSync(caPath, made.caPem);
    writeFileSync(join(dir, 'ca.der'), made.caDer);
    writeFileSync(certPath, made.certPem);
    writeFileSync(keyPath, made.keyPem, { mode: 0o600 });
    return { ...made, dir };
  }
  const memo = identityMemo[memoKey];
  if (memo) return memo;
  const made = makeIdentity(kind, caName, hosts);
  identityMemo[memoKey] = made;
  return made;
}

const identityMemo: { [key: string]: ServerIdentity } = {};

function makeIdentity(kind: KeyKind, caName: string, hosts: string[]): ServerIdentity {
  const now = Date.now();
  const ca = issue(kind, { commonName: caName, ca: true, hosts: [], validity: { notBefore: new Date(now - DAY), notAfter: new Date(now + 3650 * DAY) } }, keyPair(kind), null);
  const dnsName = hosts.find((h) => !isIP(h)) ?? hosts[0] ?? 'localhost';
  const leaf = issue(kind, { commonName: dnsName, ca: false, hosts, validity: { notBefore: new Date(now - DAY), notAfter: new Date(now + 825 * DAY) } }, keyPair(kind), ca);
  return { caPem: ca.certPem, caDer: ca.certDer, certPem: leaf.certPem, keyPem: leaf.keyPem, hosts };
}
