import { mkdirSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { createServerIdentity, type ServerIdentity } from '../tools/pki.js';

/** The TLS identities of the two listeners and the bundle of both roots. */
export interface TlsIdentities {
  api: ServerIdentity;
  cdn: ServerIdentity;
  /** `<dir>/ca.pem`: both roots, what a client (or `ota` itself) trusts. */
  bundlePath: string;
}

/**
 * Loads or makes the test PKI under `dir`: one CA + server certificate for the API (`dir/api`) and another for
 * the CDN (`dir/cdn`), because the real CDN chains to a different root than the device API. Certificates cover
 * localhost, 127.0.0.1 and the listen host. With `reuseInProcess` (a throwaway data directory) the identities are
 * the process-wide cached ones, so tests that start many backends pay for key generation once.
 */
export function loadTlsIdentities(dir: string, host: string, reuseInProcess = false): TlsIdentities {
  const hosts = ['localhost', '127.0.0.1'];
  if (host !== '' && host !== '0.0.0.0' && host !== '::' && !hosts.includes(host)) hosts.push(host);
  if (isIP(host) === 6 && !hosts.includes('::1')) hosts.push('::1');
  const api = createServerIdentity(reuseInProcess ? undefined : join(dir, 'api'), hosts, { caName: 'ota-agent mock device API root CA' });
  const cdn = createServerIdentity(reuseInProcess ? undefined : join(dir, 'cdn'), hosts, { caName: 'ota-agent mock CDN root CA' });
  mkdirSync(dir, { recursive: true });
  const bundlePath = join(dir, 'ca.pem');
  writeFileSync(bundlePath, api.caPem + cdn.caPem);
  return { api, cdn, bundlePath };
}
