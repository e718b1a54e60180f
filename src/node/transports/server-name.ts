// The name a TLS connection verifies and sends as SNI, decided the same way by every Node transport.
import { isIP } from 'node:net';
import type { ConnectOptions } from '../../http/transport.js';
import { otaError, type OtaError } from '../../util/errors.js';

/** The name to verify, and the SNI to send (null for an IP literal: SNI carries DNS names only). */
export interface ServerName {
  expectedName: string;
  sni: string | null;
}

/**
 * `servername`, else the host, without a trailing dot (RFC 6066 §3: SNI never carries one, and "host." names the same
 * host as "host"); an IP literal is verified against the certificate's IP SANs and never sent. An empty name or an
 * IP as `servername` is refused, so no transport silently verifies something other than what it was asked to.
 */
export function serverName(options: ConnectOptions): ServerName | OtaError {
  const where = `${options.host}:${options.port}`;
  if (options.servername !== undefined && isIP(options.servername)) {
    return otaError('tls-bad-servername', `servername "${options.servername}" is an IP literal; SNI carries DNS names only. Pass the DNS name or leave servername out.`, false);
  }
  let name = options.servername ?? options.host;
  if (name.length > 1 && name.charAt(name.length - 1) === '.') name = name.slice(0, -1);
  if (name === '' || name === '.') {
    return otaError('tls-hostname-not-set', `No host name to verify the server ${where} against (servername is empty); pass the DNS name the certificate covers.`, false,
      { host: options.host, port: options.port });
  }
  return { expectedName: name, sni: isIP(name) ? null : name };
}
