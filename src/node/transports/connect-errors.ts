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
