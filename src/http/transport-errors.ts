// The errors every transport reports, so the agent and the tests see the same codes whichever TLS stack is inside.
// Transports classify by TLS alert number and certificate-verification result, never by library message text
// (OpenSSL renamed its error strings between 3.0 and 3.5; mbedTLS has its own numbers).
import { otaError } from '../util/errors.js';
import type { OtaError } from '../util/errors.js';

/** Codes of transport failures. */
export const TRANSPORT_ERRORS = {
  connectTimeout: 'connect-timeout',
  connectionRefused: 'connection-refused',
  connectionReset: 'connection-reset',
  hostNotFound: 'host-not-found',
  unknownCa: 'tls-unknown-ca',
  nameMismatch: 'tls-name-mismatch',
  expired: 'tls-cert-expired',
  notYetValid: 'tls-cert-not-yet-valid',
  invalidChain: 'tls-invalid-chain',
  sniRejected: 'tls-sni-rejected',
  handshakeRefused: 'tls-handshake-refused',
  protocolVersion: 'tls-protocol-version',
  peerClosedHandshake: 'tls-closed-during-handshake',
  noRoots: 'tls-no-roots',
  insecureEnvironment: 'tls-insecure-environment',
  insecureOption: 'tls-insecure-option-refused',
  wrongKeyUsage: 'tls-cert-wrong-usage',
  clientCertRequired: 'tls-client-cert-required',
  peerNotTls: 'tls-peer-not-tls',
  badRecordMac: 'tls-bad-record-mac',
} as const;

/** TLS alert names by number (RFC 8446 §6.2), for messages. */
const ALERT_NAMES: { [alert: number]: string } = {
  0: 'close_notify', 10: 'unexpected_message', 20: 'bad_record_mac', 22: 'record_overflow', 40: 'handshake_failure',
  42: 'bad_certificate', 43: 'unsupported_certificate', 44: 'certificate_revoked', 45: 'certificate_expired',
  46: 'certificate_unknown', 47: 'illegal_parameter', 48: 'unknown_ca', 49: 'access_denied', 50: 'decode_error',
  51: 'decrypt_error', 70: 'protocol_version', 71: 'insufficient_security', 80: 'internal_error',
  86: 'inappropriate_fallback', 90: 'user_canceled', 109: 'missing_extension', 110: 'unsupported_extension',
  112: 'unrecognized_name', 113: 'bad_certificate_status_response', 115: 'unknown_psk_identity',
  116: 'certificate_required', 120: 'no_application_protocol',
};

/** The RFC name of a TLS alert number, e.g. 40 -> "handshake_failure". */
export function alertName(alert: number): string {
  const name = ALERT_NAMES[alert];
  return name !== undefined ? name : 'alert ' + alert;
}

function target(host: string, port: number): string {
  return host + ':' + port;
}

/**
 * The error for a fatal alert the server sent. During the handshake, 112/109 name SNI outright; 40 and 80 are what
 * servers send when they have no certificate for the (missing) name, so they name SNI as the likely cause. After it
 * (`afterHandshake`), only 116 is about this client (TLS 1.3 asks for the client certificate then); any other alert is
 * the server giving up on a working connection, which a retry may not meet again.
 */
export function serverAlertError(alert: number, host: string, port: number, sniSent: string | null, afterHandshake?: boolean): OtaError {
  const details = { host: host, port: port, alert: alert, alertName: alertName(alert), sni: sniSent };
  const sniText = sniSent !== null ? 'SNI "' + sniSent + '" was sent' : 'no SNI was sent';
  if (afterHandshake === true && alert !== 116) {
    return otaError(TRANSPORT_ERRORS.handshakeRefused, 'TLS connection to ' + target(host, port) + ' aborted by the server with alert ' + alert + ' (' +
      alertName(alert) + ') after the handshake had succeeded: the server failed or gave up mid-connection; retry, resuming from the bytes kept.',
    true, { host: host, port: port, alert: alert, alertName: alertName(alert), sni: sniSent, afterHandshake: true });
  }
  if (alert === 112 || alert === 109) {
    return otaError(TRANSPORT_ERRORS.sniRejected, 'TLS handshake with ' + target(host, port) + ' refused by the server with alert ' + alert +
      ' (' + alertName(alert) + '): the server requires SNI naming a host it serves, and ' + sniText +
      '. Connect by DNS name (SNI is never sent for an IP literal) and make sure the TLS stack has SNI enabled.', false, details);
  }
  if (alert === 40 || alert === 80) {
    return otaError(TRANSPORT_ERRORS.handshakeRefused, 'TLS handshake with ' + target(host, port) + ' refused by the server with alert ' + alert +
      ' (' + alertName(alert) + '); ' + sniText + '. ' + (sniSent === null
        ? 'A missing SNI is the likely cause: servers with several certificates refuse clients that do not name the host. Connect by DNS name with SNI enabled.'
        : 'The server found no acceptable certificate or cipher for this client, or (TLS 1.2) it demands a client certificate, which this client never sends: ' +
          'check the name, the TLS versions and the cipher suites both sides allow.'),
    false, details);
  }
  if (alert === 116) {
    return otaError(TRANSPORT_ERRORS.clientCertRequired, 'TLS connection to ' + target(host, port) + ' refused with alert 116 (certificate_required): ' +
      'the server requires a client certificate, and this client never sends one. Point the device at an endpoint that does not demand mutual TLS.', false, details);
  }
  if (alert === 70) {
    return otaError(TRANSPORT_ERRORS.protocolVersion, 'TLS handshake with ' + target(host, port) + ' refused: alert 70 (protocol_version). ' +
      'Client and server share no TLS version; this client allows TLS 1.2 and 1.3.', false, details);
  }
  return otaError(TRANSPORT_ERRORS.handshakeRefused, 'TLS handshake with ' + target(host, port) + ' failed: the server sent alert ' + alert +
    ' (' + alertName(alert) + '); ' + sniText + '.', false, details);
}

/** The error for a peer that closed the connection during the handshake without an alert. */
export function closedDuringHandshakeError(host: string, port: number, sniSent: string | null): OtaError {
  return otaError(TRANSPORT_ERRORS.peerClosedHandshake, 'The server at ' + target(host, port) + ' closed the connection during the TLS handshake without an alert; ' +
    (sniSent === null
      ? 'no SNI was sent, and a missing SNI is the likely cause (servers that select a certificate by name often just close). Connect by DNS name with SNI enabled.'
      : 'SNI "' + sniSent + '" was sent; a server that does not serve that name, or one overloaded, closes like this. Check the host name.'),
  true, { host: host, port: port, sni: sniSent });
}

/** Facts about the peer certificate chain for verification errors. */
export interface PeerFacts {
  host: string;
  port: number;
  /** The name verified (SNI or host). */
  expectedName: string;
  /** Subject CN of the leaf, when known. */
  subject?: string;
  /** Names the leaf covers (SAN), when known. */
  altNames?: string[];
  /** Issuer CN of the topmost certificate the server sent, when known. */
  issuer?: string;
  validFrom?: string;
  validTo?: string;
}

/** Kinds of certificate verification failure, as the transports classify them. */
export type VerifyFailure = 'unknown-ca' | 'name-mismatch' | 'expired' | 'not-yet-valid' | 'invalid-chain' | 'wrong-usage';

/** The error for a certificate chain that failed verification. */
export function verifyFailureError(kind: VerifyFailure, facts: PeerFacts, raw: string): OtaError {
  const where = target(facts.host, facts.port);
  const details: { [key: string]: unknown } = { host: facts.host, port: facts.port, expectedName: facts.expectedName, verifyResult: raw };
  if (facts.subject !== undefined) details.subject = facts.subject;
  if (facts.issuer !== undefined) details.issuer = facts.issuer;
  if (facts.altNames !== undefined) details.altNames = facts.altNames;
  if (kind === 'unknown-ca') {
    return otaError(TRANSPORT_ERRORS.unknownCa, 'The certificate of ' + where + ' chains to "' + (facts.issuer !== undefined ? facts.issuer : 'an unknown issuer') +
      '", which is not among the device\'s trusted roots (' + raw + '). Add that root to the device bundle if the server is genuine, or check for an intercepting proxy.', false, details);
  }
  if (kind === 'name-mismatch') {
    return otaError(TRANSPORT_ERRORS.nameMismatch, 'The certificate of ' + where + ' is for ' +
      (facts.altNames !== undefined && facts.altNames.length > 0 ? facts.altNames.join(', ') : (facts.subject !== undefined ? '"' + facts.subject + '"' : 'another name')) +
      ', not for "' + facts.expectedName + '" (' + raw + '). Use the host name the certificate covers, or fix the server certificate.', false, details);
  }
  if (kind === 'expired') {
    return otaError(TRANSPORT_ERRORS.expired, 'The certificate of ' + where + ' expired' + (facts.validTo !== undefined ? ' on ' + facts.validTo : '') +
      ' (' + raw + '). Renew the server certificate, or check the device clock if it runs far ahead.', false, details);
  }
  if (kind === 'not-yet-valid') {
    return otaError(TRANSPORT_ERRORS.notYetValid, 'The certificate of ' + where + ' is not valid yet' + (facts.validFrom !== undefined ? ' (from ' + facts.validFrom + ')' : '') +
      ' (' + raw + '). The device clock is probably wrong (e.g. still at 1970): set the time before connecting.', false, details);
  }
  if (kind === 'wrong-usage') {
    return otaError(TRANSPORT_ERRORS.wrongKeyUsage, 'The certificate of ' + where + ' is not allowed for TLS server authentication: its key usage or extended key usage ' +
      'excludes it (' + raw + '). The server uses a certificate issued for another purpose (e.g. clientAuth only); fix the server certificate.', false, details);
  }
  return otaError(TRANSPORT_ERRORS.invalidChain, 'The certificate chain of ' + where + ' is invalid: a certificate in it signed another without being allowed to (not a CA, or no keyCertSign usage) (' + raw +
    '). The server is misconfigured or the chain is forged; fix the server chain.', false, details);
}
