import { otaError } from '../util/errors.js';
import type { OtaError } from '../util/errors.js';

// Espruino reports socket failures as negative codes (libs/network/jswrap_net.c); mbedTLS codes pass through.

/** mbedTLS PEER_CLOSE_NOTIFY (-0x7880): the server closed TLS cleanly; Espruino reports it as an error, then close. */
export const CLOSE_NOTIFY = -30848;

// Two functions rather than one table: the Espruino build strips written-out messages (scripts/build/strip-messages.mjs),
// after which the texts are unused and dropped, and a switch builds nothing at load (a table costs variable blocks).

/** The code of a socket error Espruino documents, or null. */
function knownCode(code: number): string | null {
  switch (code) {
    case -1: return 'connection-closed';
    case -2: return 'out-of-memory';
    case -3: return 'connect-timeout';
    case -6: return 'dns-failed';
    case -9: return 'connection-reset';
    case -13: return 'tls-handshake-failed';
    case -14: return 'tls-invalid-data';
    case -15: return 'no-response';
    default: return null;
  }
}

/** What a documented socket error means and what to do. */
function knownText(code: number): string {
  switch (code) {
    case -1: return 'the socket was closed before the exchange finished';
    case -2: return 'Espruino ran out of variables for the socket; free memory (smaller buffers, fewer globals) and retry';
    case -3: return 'the connection timed out; check the network and the host';
    case -6: return 'the host name did not resolve; check the URL and the WiFi connection';
    case -9: return 'the peer reset the connection';
    case -13: return 'the TLS handshake failed; Espruino\'s mbedTLS 2.1.1 offers only TLS 1.2 with RSA or DHE-RSA key exchange, so the server must allow one of them';
    case -14: return 'TLS received invalid data (often a transient corruption or a record larger than the buffer)';
    default: return 'the server sent no response';
  }
}

/**
 * The OtaError for an Espruino socket error code, or null when the code is a normal end of stream (close-notify).
 * Every network failure is retryable: the agent backs off and tries again.
 */
export function socketError(code: number, message: string, host: string): OtaError | null {
  if (code === CLOSE_NOTIFY) return null;
  const known = knownCode(code);
  if (known !== null) {
    return otaError(known, 'Connection to ' + host + ': ' + knownText(code) + ' (Espruino socket error ' + code + ').', true,
      { host: host, socketCode: code });
  }
  return otaError('socket-error', 'Connection to ' + host + ' failed with Espruino socket error ' + code + ' (' + message +
    '); a negative code below -1000 is an mbedTLS error code.', true, { host: host, socketCode: code });
}
