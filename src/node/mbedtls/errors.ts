// mbedTLS result codes and verify flags mapped to the transport errors every transport reports
// (src/http/transport-errors.ts), with the mbedTLS code, its name, the alerts and the verify flags in `details`.
import {
  TRANSPORT_ERRORS, alertName, closedDuringHandshakeError, serverAlertError, verifyFailureError, type PeerFacts, type VerifyFailure,
} from '../../http/transport-errors.js';
import { otaError, type OtaError } from '../../util/errors.js';
import { badRecordMacError } from '../transports/connect-errors.js';

/** Error codes only this transport can produce (the device-parity failures node:tls has no equivalent for). */
export const MBEDTLS_ERRORS = {
  /** A record larger than the input buffer (MBEDTLS_SSL_IN_CONTENT_LEN) arrived. */
  recordTooLarge: 'tls-record-too-large',
  /** The server answered with an extension mbedTLS refuses (e.g. max_fragment_length under TLS 1.3). */
  extensionRejected: 'tls-extension-rejected',
  /** mbedTLS was asked to verify a certificate with no host name set (CVE-2025-27809's guard). */
  hostnameNotSet: 'tls-hostname-not-set',
  /** The peer ended the TCP stream without close_notify after the handshake (truncation). */
  peerClosed: 'tls-peer-closed',
  /** A transport option is invalid. */
  badOption: 'mbedtls-bad-option',
  /** Any other mbedTLS failure; `details.mbedtls` names it. */
  failed: 'tls-mbedtls-error',
} as const;

/** mbedTLS result codes this transport handles by number. */
export const MBEDTLS = {
  WANT_READ: -0x6900,
  WANT_WRITE: -0x6880,
  BAD_INPUT_DATA: -0x7100,
  CONN_EOF: -0x7280,
  UNSUPPORTED_EXTENSION: -0x7500,
  FATAL_ALERT_MESSAGE: -0x7780,
  PEER_CLOSE_NOTIFY: -0x7880,
  BAD_PROTOCOL_VERSION: -0x6E80,
  HANDSHAKE_FAILURE: -0x6E00,
  NO_USABLE_CIPHERSUITE: -0x7480,
  CERTIFICATE_VERIFICATION_WITHOUT_HOSTNAME: -0x5D80,
  X509_CERT_VERIFY_FAILED: -0x2700,
  BAD_CERTIFICATE: -0x7A00,
  INVALID_MAC: -0x7180,
} as const;

// High-level (SSL, X509) names by code, from include/mbedtls/ssl.h and x509.h of 3.6.
const HIGH_NAMES: { [code: number]: string } = {
  [-0x7000]: 'SSL_CRYPTO_IN_PROGRESS', [-0x7080]: 'SSL_FEATURE_UNAVAILABLE', [-0x7100]: 'SSL_BAD_INPUT_DATA',
  [-0x7180]: 'SSL_INVALID_MAC', [-0x7200]: 'SSL_INVALID_RECORD', [-0x7280]: 'SSL_CONN_EOF', [-0x7300]: 'SSL_DECODE_ERROR',
  [-0x7400]: 'SSL_NO_RNG', [-0x7480]: 'SSL_NO_CLIENT_CERTIFICATE', [-0x7500]: 'SSL_UNSUPPORTED_EXTENSION',
  [-0x7580]: 'SSL_NO_APPLICATION_PROTOCOL', [-0x7680]: 'SSL_CA_CHAIN_REQUIRED', [-0x7700]: 'SSL_UNEXPECTED_MESSAGE',
  [-0x7780]: 'SSL_FATAL_ALERT_MESSAGE', [-0x7800]: 'SSL_UNRECOGNIZED_NAME', [-0x7880]: 'SSL_PEER_CLOSE_NOTIFY',
  [-0x7A00]: 'SSL_BAD_CERTIFICATE', [-0x7F00]: 'SSL_ALLOC_FAILED', [-0x6E80]: 'SSL_BAD_PROTOCOL_VERSION',
  [-0x6E00]: 'SSL_HANDSHAKE_FAILURE', [-0x6D00]: 'SSL_PK_TYPE_MISMATCH', [-0x6C00]: 'SSL_INTERNAL_ERROR',
  [-0x6B80]: 'SSL_COUNTER_WRAPPING', [-0x6A00]: 'SSL_BUFFER_TOO_SMALL', [-0x6900]: 'SSL_WANT_READ',
  [-0x6880]: 'SSL_WANT_WRITE', [-0x6800]: 'SSL_TIMEOUT', [-0x6700]: 'SSL_UNEXPECTED_RECORD',
  [-0x6600]: 'SSL_ILLEGAL_PARAMETER', [-0x5F00]: 'SSL_VERSION_MISMATCH', [-0x5E80]: 'SSL_BAD_CONFIG',
  [-0x5D80]: 'SSL_CERTIFICATE_VERIFICATION_WITHOUT_HOSTNAME', [-0x2080]: 'X509_FEATURE_UNAVAILABLE',
  [-0x2100]: 'X509_UNKNOWN_OID', [-0x2180]: 'X509_INVALID_FORMAT', [-0x2200]: 'X509_INVALID_VERSION',
  [-0x2280]: 'X509_INVALID_SERIAL', [-0x2300]: 'X509_INVALID_ALG', [-0x2380]: 'X509_INVALID_NAME',
  [-0x2400]: 'X509_INVALID_DATE', [-0x2480]: 'X509_INVALID_SIGNATURE', [-0x2500]: 'X509_INVALID_EXTENSIONS',
  [-0x2580]: 'X509_UNKNOWN_VERSION', [-0x2600]: 'X509_UNKNOWN_SIG_ALG', [-0x2680]: 'X509_SIG_MISMATCH',
  [-0x2700]: 'X509_CERT_VERIFY_FAILED', [-0x2780]: 'X509_CERT_UNKNOWN_FORMAT', [-0x2800]: 'X509_BAD_INPUT_DATA',
  [-0x2880]: 'X509_ALLOC_FAILED', [-0x3000]: 'X509_FATAL_ERROR',
};

/** "MBEDTLS_ERR_SSL_BAD_INPUT_DATA" for -0x7100; combined codes (high + low level) name the high part. */
export function mbedTlsErrorName(code: number): string {
  if (code >= 0) return 'OK';
  const high = -((-code) & 0xff80);
  const name = HIGH_NAMES[high];
  const low = (-code) & 0x7f;
  const text = name !== undefined ? 'MBEDTLS_ERR_' + name : 'mbedTLS error';
  return low !== 0 && high !== 0 ? text + ' + low-level -0x' + low.toString(16).toUpperCase() : (name !== undefined ? text : text + ' -0x' + (-code).toString(16).toUpperCase());
}

/** "-0x7100" */
export function hexCode(code: number): string {
  return (code < 0 ? '-0x' : '0x') + Math.abs(code).toString(16).toUpperCase();
}

// MBEDTLS_X509_BADCERT_* flags (include/mbedtls/x509.h).
const FLAG_NAMES: [number, string][] = [
  [0x01, 'EXPIRED'], [0x02, 'REVOKED'], [0x04, 'CN_MISMATCH'], [0x08, 'NOT_TRUSTED'], [0x40, 'MISSING'],
  [0x80, 'SKIP_VERIFY'], [0x0100, 'OTHER'], [0x0200, 'FUTURE'], [0x0800, 'KEY_USAGE'], [0x1000, 'EXT_KEY_USAGE'],
  [0x2000, 'NS_CERT_TYPE'], [0x4000, 'BAD_MD'], [0x8000, 'BAD_PK'], [0x010000, 'BAD_KEY'],
];

/** Names of the BADCERT flags set in `flags`, e.g. ["NOT_TRUSTED"]. */
export function verifyFlagNames(flags: number): string[] {
  const names: string[] = [];
  for (const [bit, name] of FLAG_NAMES) if (((flags >>> 0) & bit) !== 0) names.push(name);
  return names;
}

/** Which kind of verification failure the flags describe: trust first, then the name, then the dates. */
export function classifyVerifyFlags(flags: number): VerifyFailure {
  const f = flags >>> 0;
  if (f & 0x08) return 'unknown-ca';
  if (f & 0x04) return 'name-mismatch';
  if (f & 0x01) return 'expired';
  if (f & 0x0200) return 'not-yet-valid';
  // KEY_USAGE, EXT_KEY_USAGE, NS_CERT_TYPE: the leaf is not for TLS server authentication with this suite.
  if (f & 0x3800) return 'wrong-usage';
  return 'invalid-chain';
}

/** What the transport knows about a failed call, for classifying it. */
export interface FailureContext {
  host: string;
  port: number;
  /** The SNI sent, or null when SNI is off. */
  sni: string | null;
  /** True while the handshake has not finished. */
  handshaking: boolean;
  alertReceived: number;
  alertSent: number;
  verifyFlags: number;
  /** Facts about the server's certificate, for verification errors. */
  peer: PeerFacts;
  /** The input record buffer and the max_fragment_length asked for, for record-size errors. */
  recordBuffer: number;
  maxFragmentLength: number | null;
  protocol: string;
}

/** Maps an mbedTLS failure to the transport error a node:tls connection would report for the same cause. */
export function mbedTlsFailure(code: number, context: FailureContext): OtaError {
  const mbedtls = {
    mbedtlsCode: code, mbedtlsHex: hexCode(code), mbedtls: mbedTlsErrorName(code),
    alertReceived: context.alertReceived >= 0 ? context.alertReceived : undefined,
    alertSent: context.alertSent >= 0 ? context.alertSent : undefined,
  };
  const attach = (error: OtaError): OtaError => {
    error.details = Object.assign({}, error.details, mbedtls);
    return error;
  };
  const where = context.host + ':' + context.port;
  // BAD_CERTIFICATE with flags set is mbedtls_ssl_check_cert_usage refusing the leaf's (extended) key usage.
  if (code === MBEDTLS.X509_CERT_VERIFY_FAILED || (code === MBEDTLS.BAD_CERTIFICATE && (context.verifyFlags >>> 0) !== 0)) {
    const flags = context.verifyFlags >>> 0;
    const raw = 'mbedTLS verify flags 0x' + flags.toString(16) + ' ' + verifyFlagNames(flags).join('|');
    const error = attach(verifyFailureError(classifyVerifyFlags(flags), context.peer, raw));
    (error.details as { [key: string]: unknown }).verifyFlags = flags;
    (error.details as { [key: string]: unknown }).verifyFlagNames = verifyFlagNames(flags);
    return error;
  }
  if (code === MBEDTLS.FATAL_ALERT_MESSAGE && context.alertReceived >= 0) {
    return attach(serverAlertError(context.alertReceived, context.host, context.port, context.sni, !context.handshaking));
  }
  if (code === MBEDTLS.CONN_EOF && context.handshaking) {
    return attach(closedDuringHandshakeError(context.host, context.port, context.sni));
  }
  if (code === MBEDTLS.CERTIFICATE_VERIFICATION_WITHOUT_HOSTNAME) {
    return attach(otaError(MBEDTLS_ERRORS.hostnameNotSet, 'mbedTLS refused to verify the certificate of ' + where +
      ' because no host name was set (MBEDTLS_ERR_SSL_CERTIFICATE_VERIFICATION_WITHOUT_HOSTNAME). Every connection must call mbedtls_ssl_set_hostname: pass servername.', false, { host: context.host, port: context.port }));
  }
  if (code === MBEDTLS.BAD_INPUT_DATA) {
    const details = { host: context.host, port: context.port, recordBuffer: context.recordBuffer, maxFragmentLength: context.maxFragmentLength,
      protocol: context.protocol, stage: context.handshaking ? 'handshake' : 'data' };
    if (context.handshaking) {
      // mbedTLS 3.6 reassembles each handshake message inside the input buffer, so a certificate chain larger than
      // the buffer fails here even when every record is small (max_fragment_length does not help).
      return attach(otaError(MBEDTLS_ERRORS.recordTooLarge, 'During the handshake with ' + where + ' a TLS record or handshake message larger than the ' +
        context.recordBuffer + '-byte input buffer (MBEDTLS_SSL_IN_CONTENT_LEN) arrived; mbedTLS must hold each whole handshake message in that buffer, ' +
        'so the usual cause is the server\'s certificate chain. ' + (context.recordBuffer < 16384
        ? 'Enlarge the buffer (at most 16384) or have the server send a shorter chain' + (context.maxFragmentLength !== null
          ? '; max_fragment_length ' + context.maxFragmentLength + ' shrinks records, not handshake messages.' : '.')
        : 'A message over 16 KiB fits no mbedTLS build: the server must send a shorter chain (fewer or smaller certificates).'), false, details));
    }
    return attach(otaError(MBEDTLS_ERRORS.recordTooLarge, 'A TLS record from ' + where + ' is larger than the ' + context.recordBuffer +
      '-byte input record buffer (MBEDTLS_SSL_IN_CONTENT_LEN), so mbedTLS cannot take it (' + context.protocol + (context.maxFragmentLength !== null
        ? ', max_fragment_length ' + context.maxFragmentLength + ' was asked for but the server did not honour it' : ', no max_fragment_length negotiated') +
      '). Enlarge the buffer to 16384, negotiate max_fragment_length (TLS 1.2 only), or cap the server\'s record size.', false, details));
  }
  if (code === MBEDTLS.UNSUPPORTED_EXTENSION) {
    return attach(otaError(MBEDTLS_ERRORS.extensionRejected, 'The handshake with ' + where + ' failed: the server answered with an extension mbedTLS does not accept here' +
      (context.maxFragmentLength !== null ? ' (most likely max_fragment_length, which mbedTLS 3.6 refuses under TLS 1.3)' : '') +
      '; mbedTLS sent alert ' + (context.alertSent >= 0 ? context.alertSent + ' (' + alertName(context.alertSent) + ')' : '110 (unsupported_extension)') +
      '. Drop max_fragment_length or limit this connection to TLS 1.2.', false, { host: context.host, port: context.port, maxFragmentLength: context.maxFragmentLength }));
  }
  if (code === MBEDTLS.BAD_PROTOCOL_VERSION) {
    return attach(otaError(TRANSPORT_ERRORS.protocolVersion, 'TLS handshake with ' + where + ' failed: client and server share no TLS version (mbedTLS ' +
      mbedTlsErrorName(code) + '); this client allows TLS 1.2 and 1.3.', false, { host: context.host, port: context.port }));
  }
  if (code === MBEDTLS.CONN_EOF) {
    // Only close_notify proves the sender finished: without it the bytes read so far may have been cut short by an
    // attacker or a crashed server, so this is never a clean end of stream. Retryable: resume from the bytes kept.
    return attach(otaError(MBEDTLS_ERRORS.peerClosed, 'The server at ' + where + ' ended the TLS connection without close_notify (' + context.protocol +
      '), so the data received may be truncated. Retry, resuming from the bytes kept; if it happens every time, the server (or something ' +
      'on the path) closes TLS connections uncleanly.', true, { host: context.host, port: context.port }));
  }
  if (code === MBEDTLS.INVALID_MAC) {
    return attach(badRecordMacError(context.host, context.port, hexCode(code) + ' ' + mbedTlsErrorName(code)));
  }
  return attach(otaError(MBEDTLS_ERRORS.failed, 'TLS ' + (context.handshaking ? 'handshake' : 'connection') + ' with ' + where + ' failed in mbedTLS with ' +
    hexCode(code) + ' (' + mbedTlsErrorName(code) + ')' + (context.alertSent >= 0 ? '; mbedTLS sent alert ' + context.alertSent + ' (' + alertName(context.alertSent) + ')' : '') + '.',
  !context.handshaking, { host: context.host, port: context.port }));
}
