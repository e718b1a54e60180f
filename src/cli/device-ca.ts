import { readFileSync } from 'node:fs';
import { UsageError } from './args.js';
import { readProblem } from '../tools/file-checks.js';
import { trustedRootsProblem } from '../node/transports/trusted-roots.js';

// PEM bundles to the DER list a device transport trusts, checked up front: a file that holds no certificate would
// otherwise fail much later, at the first TLS handshake, as "no roots", and be retried with backoff.

/** Every CERTIFICATE block of `pem` as DER bytes. */
export function pemToDerList(pem: string): Uint8Array[] {
  const out: Uint8Array[] = [];
  const pattern = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g;
  for (let match = pattern.exec(pem); match !== null; match = pattern.exec(pem)) {
    out.push(new Uint8Array(Buffer.from(match[1].replace(/\s+/g, ''), 'base64')));
  }
  return out;
}

/** Reads a text file named by `--flag`; a missing or unreadable file is a usage error naming the flag. */
export function readOptionFile(path: string, flag: string, what: string): string {
  const problem = readProblem(path);
  if (problem !== null) throw new UsageError(`--${flag} ${problem}; pass the path of ${what}`);
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(`--${flag} ${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)}); pass a readable file holding ${what}`);
  }
}

/** The trusted roots in the PEM file at `path` (`--flag`), each parsed as an X.509 certificate; usage errors otherwise. */
export function loadCaFile(path: string, flag: string): Uint8Array[] {
  const what = 'a PEM file of CA certificates (-----BEGIN CERTIFICATE-----), e.g. the ca.pem of `ota serve`';
  const text = readOptionFile(path, flag, what);
  const ders = pemToDerList(text);
  if (ders.length === 0) {
    const other = /-----BEGIN ([A-Z0-9 ]+)-----/.exec(text);
    throw new UsageError(`--${flag} ${path} holds ${other !== null ? `a ${other[1]}, not a certificate` : 'no PEM certificate'}; pass ${what}`);
  }
  // The transports' own check, up front: an unparsable block, or a server's chain file (leaf + intermediates) passed
  // by mistake, would otherwise fail at every connect.
  const problem = trustedRootsProblem(ders);
  if (problem !== null) {
    const details = problem.details as { index: number; bytes?: number };
    const which = `certificate ${details.index + 1} of ${ders.length}`;
    throw new UsageError(details.bytes !== undefined
      ? `--${flag} ${path}: ${which} is not a valid X.509 certificate (bad base64 or DER); pass ${what}`
      : `--${flag} ${path}: ${which} ${problem.message.replace(/^Trusted root #\d+ /, '')}`);
  }
  return ders;
}
