import { TRANSPORT_ERRORS } from '../http/transport-errors.js';
import type { OtaError } from '../util/errors.js';

// Which failures mean "the backend could not be reached" (exit 3): no connection, no name, no TLS session. A
// certificate that fails verification is not among them: the server was reached and is not trusted (exit 1).

const UNREACHABLE: string[] = [
  TRANSPORT_ERRORS.connectTimeout, TRANSPORT_ERRORS.connectionRefused, TRANSPORT_ERRORS.connectionReset,
  TRANSPORT_ERRORS.hostNotFound, TRANSPORT_ERRORS.sniRejected, TRANSPORT_ERRORS.handshakeRefused,
  TRANSPORT_ERRORS.protocolVersion, TRANSPORT_ERRORS.peerClosedHandshake, 'backend-unreachable',
];

/** True when `error` says the backend could not be reached at all (connect, DNS, TLS handshake). */
export function isUnreachable(error: OtaError | null): boolean {
  return error !== null && UNREACHABLE.includes(error.code);
}
