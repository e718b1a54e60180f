// TLS transport over node:tls with the device's rules: SNI always sent, only the device's roots trusted, TLS 1.2+,
// certificate and host-name verification that no option turns off, specific errors classified by alert number and
// verify result.
import { X509Certificate, createHash } from 'node:crypto';
import { checkServerIdentity, connect as tlsConnect, createSecureContext, type ConnectionOptions, type DetailedPeerCertificate, type PeerCertificate, type SecureContext, type TLSSocket } from 'node:tls';
import type { Connection, ConnectionInfo, ConnectOptions, Transport } from '../../http/transport.js';
import { isOtaError, otaError, type OtaError } from '../../util/errors.js';
import {
  TRANSPORT_ERRORS, closedDuringHandshakeError, serverAlertError, verifyFailureError, type PeerFacts, type VerifyFailure,
} from '../../http/transport-errors.js';
import { keyUsageProblem } from './key-usage.js';
import { serverName } from './server-name.js';
import { trustedRootsProblem } from './trusted-roots.js';
import { badRecordMacError, connectError, connectTimeoutError, notTlsError } from './connect-errors.js';
import { DEFAULT_READ_AHEAD, READ_CHUNK, ReadPool, SocketConnection, socketError } from './socket-connection.js';

/** Connection facts of the node:tls transport (tls.md §7): the common ones plus SNI and the peer's leaf. */
export interface NodeTlsConnectionInfo extends ConnectionInfo {
  /** Whether SNI was sent (false only for an IP-literal host or the test-only omitSni). */
  sniSent: boolean;
  /** SHA-256 of the server's leaf certificate (DER), lower-case hex without colons. */
  peerSha256?: string;
}

/** A resumable session, with the leaf it was verified against (resumed TLS 1.3 sessions do not carry it). */
interface RememberedSession {
  session: Buffer;
  peerSha256: string | undefined;
}

/** TLS versions this transport may negotiate; nothing below 1.2 exists here. */
export type TlsVersion = 'TLSv1.2' | 'TLSv1.3';

/** Options of the node:tls transport. */
export interface NodeTlsTransportOptions {
  /** Roots (DER) used when ConnectOptions.ca is absent, e.g. the bundled device roots. */
  ca?: Uint8Array[];
  /** Lowest version offered (default TLSv1.2). */
  minVersion?: TlsVersion;
  /** Highest version offered (default TLSv1.3). */
  maxVersion?: TlsVersion;
  /** Resume TLS sessions per (roots, name, port) (default true). */
  resumeSessions?: boolean;
  /** Bytes buffered ahead of the reader before the socket pauses (default 256 KiB). */
  readAhead?: number;
  /**
   * Read into recycled buffers (default true): no allocation per read, flat peak memory. A chunk from read() is then
   * valid only until the next read() or close(); pass false for readers that keep chunks longer.
   */
  recycleBuffers?: boolean;
  /**
   * TEST ONLY. Reproduces broken devices; refused unless the environment sets OTA_ALLOW_TEST_ONLY_INSECURE=1.
   * `omitSni` sends no SNI (the name is still verified against the host).
   */
  testOnlyInsecure?: { omitSni?: boolean };
}

/** The environment variable that must be "1" for `testOnlyInsecure` to be accepted. */
export const TEST_ONLY_INSECURE_ENV = 'OTA_ALLOW_TEST_ONLY_INSECURE';

// Alert names as OpenSSL spells them in its error codes, by alert number. Both the 3.0 ("SSLV3_ALERT_", "TLSV1_ALERT_")
// and 3.5 ("SSL/TLS_ALERT_") prefixes end in these names, so the number survives the renaming.
const ALERT_BY_NAME: { [name: string]: number } = {
  UNEXPECTED_MESSAGE: 10, BAD_RECORD_MAC: 20, RECORD_OVERFLOW: 22, HANDSHAKE_FAILURE: 40, BAD_CERTIFICATE: 42,
  UNSUPPORTED_CERTIFICATE: 43, CERTIFICATE_REVOKED: 44, CERTIFICATE_EXPIRED: 45, CERTIFICATE_UNKNOWN: 46,
  ILLEGAL_PARAMETER: 47, UNKNOWN_CA: 48, ACCESS_DENIED: 49, DECODE_ERROR: 50, DECRYPT_ERROR: 51, PROTOCOL_VERSION: 70,
  INSUFFICIENT_SECURITY: 71, INTERNAL_ERROR: 80, INAPPROPRIATE_FALLBACK: 86, USER_CANCELLED: 90, MISSING_EXTENSION: 109,
  UNSUPPORTED_EXTENSION: 110, UNRECOGNIZED_NAME: 112, BAD_CERTIFICATE_STATUS_RESPONSE: 113, UNKNOWN_PSK_IDENTITY: 115,
  CERTIFICATE_REQUIRED: 116, NO_APPLICATION_PROTOCOL: 120,
};

// OpenSSL's reasons when the first bytes back do not frame as a TLS record: a plain-HTTP server (or a captive portal)
// answered the ClientHello with text.
const NOT_TLS_CODES = ['ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_PACKET_LENGTH_TOO_LONG', 'ERR_SSL_HTTP_REQUEST', 'ERR_SSL_RECORD_LAYER_FAILURE'];

/** The alert number a node:tls handshake error carries, or -1. */
export function alertFromError(error: NodeJS.ErrnoException): number {
  const code = typeof error.code === 'string' ? error.code : '';
  const match = /^ERR_SSL_.*ALERT_([A-Z_]+)$/.exec(code);
  if (match && ALERT_BY_NAME[match[1]] !== undefined) return ALERT_BY_NAME[match[1]];
  // OpenSSL appends the alert number itself to the reason ("... SSL alert number 40").
  const numbered = /alert number (\d+)/.exec(String(error.message));
  return numbered ? Number(numbered[1]) : -1;
}

/** Which verify failure an OpenSSL verify code (or Node's host-name check) stands for, or null. */
export function classifyVerifyCode(code: string): VerifyFailure | null {
  switch (code) {
    case 'UNABLE_TO_GET_ISSUER_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'CERT_UNTRUSTED':
    case 'CERT_SIGNATURE_FAILURE':
      return 'unknown-ca';
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
    case 'HOSTNAME_MISMATCH':
    case 'IP_ADDRESS_MISMATCH':
      return 'name-mismatch';
    case 'CERT_HAS_EXPIRED':
      return 'expired';
    case 'CERT_NOT_YET_VALID':
      return 'not-yet-valid';
    // A leaf (or intermediate) whose extended key usage does not include serverAuth.
    case 'INVALID_PURPOSE':
      return 'wrong-usage';
    // OpenSSL 3 reports a signer without CA:TRUE or keyCertSign with codes Node has no name for ("UNSPECIFIED");
    // every other outcome (trust, name, dates) has a named code above.
    case 'INVALID_CA':
    case 'PATH_LENGTH_EXCEEDED':
    case 'INVALID_NON_CA':
    case 'UNSPECIFIED':
      return 'invalid-chain';
    default:
      return null;
  }
}

function derToPem(der: Uint8Array): string {
  const base64 = Buffer.from(der).toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < base64.length; i += 64) lines.push(base64.slice(i, i + 64));
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}

function cn(name: { CN?: string | string[] } | undefined): string | undefined {
  if (!name || name.CN === undefined) return undefined;
  return Array.isArray(name.CN) ? name.CN.join(', ') : name.CN;
}

function peerFacts(socket: TLSSocket, host: string, port: number, expectedName: string): PeerFacts {
  const facts: PeerFacts = { host, port, expectedName };
  const leaf = socket.getPeerCertificate(true) as DetailedPeerCertificate | undefined;
  if (!leaf || !leaf.subject) return facts;
  facts.subject = cn(leaf.subject);
  facts.validFrom = leaf.valid_from;
  facts.validTo = leaf.valid_to;
  if (leaf.subjectaltname) facts.altNames = leaf.subjectaltname.split(', ').map((n) => n.replace(/^(DNS|IP Address):/, ''));
  // The issuer to name is the one above the topmost certificate the server sent: the root the device lacks.
  let top: DetailedPeerCertificate = leaf;
  for (let depth = 0; depth < 10 && top.issuerCertificate && top.issuerCertificate !== top; depth++) top = top.issuerCertificate;
  facts.issuer = cn(top.issuer);
  return facts;
}

/** Connections over node:tls that verify the server against the device's roots only. */
export class NodeTlsTransport implements Transport {
  private readonly contexts: { [key: string]: SecureContext } = {};
  private readonly sessions: { [key: string]: RememberedSession } = {};
  private sessionKeys: string[] = [];
  private readonly omitSni: boolean;

  constructor(private readonly options: NodeTlsTransportOptions = {}) {
    this.omitSni = false;
    if (options.testOnlyInsecure) {
      if (process.env[TEST_ONLY_INSECURE_ENV] !== '1') {
        throw otaError(TRANSPORT_ERRORS.insecureOption, `testOnlyInsecure is for tests reproducing broken devices; it is refused unless ${TEST_ONLY_INSECURE_ENV}=1 is set.`, false);
      }
      this.omitSni = options.testOnlyInsecure.omitSni === true;
    }
    const min = options.minVersion ?? 'TLSv1.2';
    const max = options.maxVersion ?? 'TLSv1.3';
    if ((min !== 'TLSv1.2' && min !== 'TLSv1.3') || (max !== 'TLSv1.2' && max !== 'TLSv1.3') || (min === 'TLSv1.3' && max === 'TLSv1.2')) {
      throw otaError('tls-bad-version-range', `TLS versions must satisfy TLSv1.2 <= min <= max <= TLSv1.3; got ${String(min)}..${String(max)}.`, false);
    }
  }

  private context(ca: Uint8Array[]): { key: string; context: SecureContext } {
    const hash = createHash('sha256');
    for (const der of ca) hash.update(der);
    const key = `${this.options.minVersion ?? 'TLSv1.2'}|${this.options.maxVersion ?? 'TLSv1.3'}|${hash.digest('hex')}`;
    let context = this.contexts[key];
    if (!context) {
      // OpenSSL skips a root it cannot parse without a word, and the connection would then fail as "unknown CA",
      // blaming the server for a broken bundle (mbedTLS refuses it the same way).
      const problem = trustedRootsProblem(ca);
      if (problem !== null) throw problem;
      const pems = ca.map((der) => derToPem(new Uint8Array(new X509Certificate(der).raw)));
      // `ca` replaces OpenSSL's and Node's default stores: the device trusts exactly its bundle.
      context = createSecureContext({ ca: pems, minVersion: this.options.minVersion ?? 'TLSv1.2', maxVersion: this.options.maxVersion ?? 'TLSv1.3' });
      this.contexts[key] = context;
    }
    return { key, context };
  }

  // Only sessions of connections that passed every check are kept: Node skips the host-name check when it resumes a
  // session, so a session from a connection refused for its name would let the retry through.
  private remember(key: string, session: Buffer, peerSha256: string | undefined): void {
    if (this.sessionKeys.indexOf(key) < 0) {
      this.sessionKeys.push(key);
      if (this.sessionKeys.length > 64) delete this.sessions[this.sessionKeys.shift() as string];
    }
    this.sessions[key] = { session, peerSha256 };
  }

  /** Opens a verified TLS connection (or rejects with a specific, actionable OtaError). */
  connect(options: ConnectOptions): Promise<Connection> {
    const host = options.host;
    const port = options.port;
    if (!options.tls) {
      return Promise.reject(otaError('transport-tls-only', `NodeTlsTransport only opens TLS connections; use the TCP transport for http://${host}:${port}.`, false));
    }
    if (process.env.NODE_TLS_REJECT_UNAUTHORIZED === '0') {
      return Promise.reject(otaError(TRANSPORT_ERRORS.insecureEnvironment, 'NODE_TLS_REJECT_UNAUTHORIZED=0 is set, which disables certificate checks process-wide; the TLS transport refuses to run. Unset it.', false));
    }
    const ca = options.ca ?? this.options.ca;
    if (!ca || ca.length === 0) {
      return Promise.reject(otaError(TRANSPORT_ERRORS.noRoots, `No trusted roots given for ${host}:${port}; pass the device bundle as ca (the system store is never used).`, false));
    }
    const name = serverName(options);
    if (isOtaError(name)) return Promise.reject(name);
    const expectedName = name.expectedName;
    const sni = this.omitSni ? null : name.sni;
    let key: string;
    let context: SecureContext;
    try {
      ({ key, context } = this.context(ca));
    } catch (error) {
      return Promise.reject(error);
    }
    const sessionKey = `${key}|${expectedName}|${port}`;
    const resume = this.options.resumeSessions !== false;
    const readAhead = this.options.readAhead ?? DEFAULT_READ_AHEAD;
    const pool = this.options.recycleBuffers === false ? null : new ReadPool(READ_CHUNK, Math.ceil(readAhead / READ_CHUNK) + 2);
    return new Promise<Connection>((resolve, reject) => {
      let settled = false;
      let tcpConnected = false;
      // tls.connect documents `onread` (as net.connect does); @types/node lacks it on ConnectionOptions.
      const connectOptions: ConnectionOptions & { onread?: ReturnType<ReadPool['onread']> } = {
        onread: pool ? pool.onread() : undefined,
        host,
        port,
        servername: sni ?? undefined,
        secureContext: context,
        ALPNProtocols: ['http/1.1'],
        session: resume && this.sessions[sessionKey] !== undefined ? this.sessions[sessionKey].session : undefined,
        // Verification is decided below, in one place, so the error can name the issuer and the names involved;
        // there is no path that lets an unverified socket through.
        rejectUnauthorized: false,
        checkServerIdentity: (name, cert) => checkServerIdentity(name, cert),
      };
      const socket = tlsConnect(connectOptions);
      socket.setNoDelay(true);
      const fail = (error: OtaError): void => {
        if (settled) return;
        settled = true;
        delete this.sessions[sessionKey];
        clearTimeout(timer);
        socket.destroy();
        reject(error);
      };
      const timer = setTimeout(() => {
        fail(connectTimeoutError(host, port, options.timeoutMs, tcpConnected ? 'TLS handshake' : 'TCP connect'));
      }, options.timeoutMs);
      // TLS 1.2 delivers the session during the handshake, before the checks below: hold it until they pass.
      let verified = false;
      let verifiedSha: string | undefined;
      let early: Buffer | null = null;
      if (resume) {
        socket.on('session', (session: Buffer) => {
          if (verified) this.remember(sessionKey, session, verifiedSha);
          else early = session;
        });
      }
      socket.once('connect', () => { tcpConnected = true; });
      socket.on('error', (error: NodeJS.ErrnoException) => {
        if (settled) return;
        const alert = alertFromError(error);
        if (alert >= 0) fail(serverAlertError(alert, host, port, sni));
        else if (tcpConnected && (error.code === 'ECONNRESET' || error.code === 'EPIPE')) fail(closedDuringHandshakeError(host, port, sni));
        else if (!tcpConnected) fail(connectError(error, host, port));
        else if (NOT_TLS_CODES.indexOf(String(error.code)) >= 0) fail(notTlsError(host, port, String(error.code)));
        else fail(otaError('tls-handshake-failed', `TLS handshake with ${host}:${port} failed (${error.code ?? 'no code'}): ${error.message}.`, true, { host, port, errno: error.code }, error));
      });
      socket.once('close', () => {
        if (!settled) fail(tcpConnected ? closedDuringHandshakeError(host, port, sni) : connectError(Object.assign(new Error('socket closed'), { code: 'ECONNRESET' }), host, port));
      });
      socket.once('secureConnect', () => {
        if (settled) return;
        if (socket.authorized !== true) {
          const raw = String(socket.authorizationError ?? 'not authorized');
          const kind = classifyVerifyCode(raw);
          const facts = peerFacts(socket, host, port, expectedName);
          fail(kind ? verifyFailureError(kind, facts, raw)
            : otaError('tls-verify-failed', `The certificate of ${host}:${port} failed verification (${raw}).`, false, { host, port, verifyResult: raw }));
          return;
        }
        const resumed = socket.isSessionReused();
        if (resumed) {
          // Node does not run checkServerIdentity on a resumed session; run it here whenever the certificate is known.
          const cert = socket.getPeerCertificate(true);
          const nameError = cert && cert.raw ? checkServerIdentity(expectedName, cert) : undefined;
          if (nameError) {
            fail(verifyFailureError('name-mismatch', peerFacts(socket, host, port, expectedName), String((nameError as NodeJS.ErrnoException).code ?? nameError.message)));
            return;
          }
        }
        const cipher = socket.getCipher();
        // getPeerCertificate, not getPeerX509Certificate: after the latter, Node 20's getPeerCertificate(true)
        // returns an empty object, and the error below would no longer name the certificate.
        const leaf = socket.getPeerCertificate(false) as PeerCertificate | undefined;
        const leafDer = leaf && leaf.raw ? new Uint8Array(leaf.raw) : null;
        const usage = leafDer ? keyUsageProblem(leafDer, socket.getProtocol(), cipher ? cipher.name : '') : null;
        if (usage !== null) {
          fail(verifyFailureError('wrong-usage', peerFacts(socket, host, port, expectedName), usage));
          return;
        }
        settled = true;
        clearTimeout(timer);
        socket.removeAllListeners('error');
        socket.removeAllListeners('close');
        const remembered = this.sessions[sessionKey];
        verifiedSha = leafDer ? createHash('sha256').update(leafDer).digest('hex') : (resumed && remembered !== undefined ? remembered.peerSha256 : undefined);
        verified = true;
        if (early !== null) this.remember(sessionKey, early, verifiedSha);
        const info: NodeTlsConnectionInfo = {
          protocol: socket.getProtocol() ?? undefined,
          cipher: cipher ? cipher.name : undefined,
          servername: sni ?? undefined,
          alpn: socket.alpnProtocol || undefined,
          resumed,
          sniSent: sni !== null,
        };
        if (verifiedSha !== undefined) info.peerSha256 = verifiedSha;
        // An alert after the handshake: a TLS 1.3 server refusing the missing client certificate, or one aborting mid-body.
        const mapError = (error: NodeJS.ErrnoException): OtaError => {
          const alert = alertFromError(error);
          if (alert >= 0) return serverAlertError(alert, host, port, sni, true);
          // OpenSSL 3.0 and 3.5 both spell it ERR_SSL_DECRYPTION_FAILED_OR_BAD_RECORD_MAC / ERR_SSL_BAD_RECORD_MAC.
          if (/BAD_RECORD_MAC$/.test(String(error.code))) return badRecordMacError(host, port, String(error.code));
          return socketError(error, host, port);
        };
        resolve(new SocketConnection(socket, host, port, readAhead, info, pool, mapError));
      });
    });
  }
}
