// PEM bundles to the DER list a device transport trusts.

/** Every CERTIFICATE block of `pem` as DER bytes. */
export function pemToDerList(pem: string): Uint8Array[] {
  const out: Uint8Array[] = [];
  const pattern = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g;
  for (let match = pattern.exec(pem); match !== null; match = pattern.exec(pem)) {
    out.push(new Uint8Array(Buffer.from(match[1].replace(/\s+/g, ''), 'base64')));
  }
  return out;
}
