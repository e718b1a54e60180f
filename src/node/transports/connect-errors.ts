// Errors of the connect phase shared by the TCP and TLS transports.
import { otaError, type OtaError } from '../../util/errors.js';
import { TRANSPORT_ERRORS } from '../../http/transport-errors.js';

/** Maps a socket error raised while connecting (before any TLS) to an OtaError. */
export function connectError(error: NodeJS.ErrnoException, host: string, port: number): OtaError {
  const details = { host, port, errno: error.code };
  if (error.code === 'ECONNREFUSED') {
    return otaError(TRANSPORT_ERRORS.connectionRefused, `Nothing accepts connections at ${host}:${port} (ECONNREFUSED); check the host and port, or retry when the server is up.`, true, details, error);
  }
  if (error.code === 'ENOTFOUND' || error.code === 'EAI_AGAIN') {
    return otaError(TRANSPORT_ERRORS.hostNotFound, `The host name "${host}" did not resolve (${error.code}); check the URL and the network's DNS.`, true, details, error);
  }
  if (error.code === 'ECONNRESET' || error.code === 'EPIPE') {
    return otaError(TRANSPORT_ERRORS.connectionReset, `The connection to ${host}:${port} was reset while connecting (${error.code}); retry later.`, true, details, error);
  }
  return otaError('connect-failed', `Could not connect to ${host}:${port}: ${error.message}.`, true, details, error);
}

/** The error for a connect that did not finish within `timeoutMs`. */
export function connectTimeoutError(host: string, port: number, timeoutMs: number, stage: string): OtaError {
  return otaError(TRANSPORT_ERRORS.connectTimeout, `Connecting to ${host}:${port} took longer than ${timeoutMs} ms (stuck in ${stage}); check the network path, or retry with a longer timeout.`, true, { host, port, timeoutMs, stage });
}

/** The error for a peer that answered the handshake with something that is not TLS. Retryable: a portal goes away. */
export function notTlsError(host: string, port: number, detail: string): OtaError {
  return otaError(TRANSPORT_ERRORS.peerNotTls, `${host}:${port} did not answer the TLS handshake with TLS (${detail}); it is likely a plain-HTTP ` +
    'server or a captive portal. Check the URL: https:// needs a TLS port, and a plain-HTTP server needs an http:// URL.', true, { host, port, errno: detail });
}

/**
 * The error for a record whose MAC/AEAD tag did not verify: the bytes were corrupted or altered on the way. Nothing
 * of the record is delivered. Retryable: a flaky link (or a meddling middlebox) may not do it again.
 */
export function badRecordMacError(host: string, port: number, detail: string): OtaError {
  return otaError(TRANSPORT_ERRORS.badRecordMac, `A TLS record from ${host}:${port} failed its integrity check (${detail}): the data was corrupted or altered ` +
    'between the server and the device, and was discarded. Retry, resuming from the bytes kept; if it repeats, check the network path for a middlebox.', true, { host, port, errno: detail });
}
