import { otaError } from '../util/errors.js';
import type { OtaError } from '../util/errors.js';

// Espruino reports socket failures as negative codes (libs/network/jswrap_net.c); mbedTLS codes pass through.

/** mbedTLS PEER_CLOSE_NOTIFY (-0x7880): the server closed TLS cleanly; Espruino reports it as an error, then close. */
export const CLOSE_NOTIFY = -30848;

const KNOWN: { [code: string]: [string, string] } = {
  '-1': ['connection-closed', 'the socket was closed before the exchange finished'],
  '-2': ['out-of-memory', 'Espruino ran out of variables for the socket; free memory (smaller buffers, fewer globals) and retry'],
  '-3': ['connect-timeout', 'the connection timed out; check the network and the host'],
  '-6': ['dns-failed', 'the host name did not resolve; check the URL and the WiFi connection'],
  '-9': ['connection-reset', 'the peer reset the connection'],
  '-13': ['tls-handshake-failed', 'the TLS handshake failed; Espruino\'s mbedTLS 2.1.1 offers only TLS 1.2 with RSA or DHE-RSA key exchange, so the server must allow one of them'],
  '-14': ['tls-invalid-data', 'TLS received invalid data (often a transient corruption or a record larger than the buffer)'],
  '-15': ['no-response', 'the server sent no response'],
};

/**
 * The OtaError for an Espruino socket error code, or null when the code is a normal end of stream (close-notify).
 * Every network failure is retryable: the agent backs off and tries again.
 */
export function socketError(code: number, message: string, host: string): OtaError | null {
  if (code === CLOSE_NOTIFY) return null;
  const known = KNOWN[String(code)];
  if (known !== undefined) {
    return otaError(known[0], 'Connection to ' + host + ': ' + known[1] + ' (Espruino socket error ' + code + ').', true,
      { host: host, socketCode: code });
  }
  return otaError('socket-error', 'Connection to ' + host + ' failed with Espruino socket error ' + code + ' (' + message +
    '); a negative code below -1000 is an mbedTLS error code.', true, { host: host, socketCode: code });
}
