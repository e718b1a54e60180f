// The X.509 keyUsage check OpenSSL leaves out of TLS client verification. A device running mbedTLS refuses a server
// leaf whose keyUsage extension lacks the bit the negotiated key exchange needs (mbedtls_ssl_check_cert_usage); node:tls
// accepts it, so a simulator would pass where the device fails in the field. Node exposes no keyUsage bits (only the
// extended key usage), so this reads the extension from the DER itself.

/** keyUsage bits as they appear in the first byte of the BIT STRING (RFC 5280 §4.2.1.3). */
export const KEY_USAGE = { digitalSignature: 0x80, keyEncipherment: 0x20 } as const;

interface Tlv {
  tag: number;
  start: number;
  end: number;
}

// One DER element at `at` (inside `limit`), or null when the bytes do not frame.
function tlv(der: Uint8Array, at: number, limit: number): Tlv | null {
  if (at + 2 > limit) return null;
  const tag = der[at];
  let length = der[at + 1];
  let start = at + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4 || start + count > limit) return null;
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + der[start + i];
    start += count;
  }
  const end = start + length;
  return end <= limit ? { tag, start, end } : null;
}

const KEY_USAGE_OID = [0x06, 0x03, 0x55, 0x1d, 0x0f];

/**
 * The first byte of the certificate's keyUsage BIT STRING (digitalSignature = 0x80, keyEncipherment = 0x20), or null
 * when the certificate has no keyUsage extension (then every usage is allowed) or cannot be read.
 */
export function keyUsageBits(der: Uint8Array): number | null {
  const cert = tlv(der, 0, der.length);
  if (!cert || cert.tag !== 0x30) return null;
  const tbs = tlv(der, cert.start, cert.end);
  if (!tbs || tbs.tag !== 0x30) return null;
  for (let at = tbs.start; at < tbs.end;) {
    const field = tlv(der, at, tbs.end);
    if (!field) return null;
    at = field.end;
    if (field.tag !== 0xa3) continue;
    const list = tlv(der, field.start, field.end);
    if (!list || list.tag !== 0x30) return null;
    for (let e = list.start; e < list.end;) {
      const ext = tlv(der, e, list.end);
      if (!ext || ext.tag !== 0x30) return null;
      e = ext.end;
      let matches = ext.start + KEY_USAGE_OID.length <= ext.end;
      for (let i = 0; matches && i < KEY_USAGE_OID.length; i++) matches = der[ext.start + i] === KEY_USAGE_OID[i];
      if (!matches) continue;
      let inner = tlv(der, ext.start + KEY_USAGE_OID.length, ext.end);
      if (inner && inner.tag === 0x01) inner = tlv(der, inner.end, ext.end);
      if (!inner || inner.tag !== 0x04) return null;
      const bits = tlv(der, inner.start, inner.end);
      if (!bits || bits.tag !== 0x03) return null;
      // A BIT STRING with no bits set is encoded as just the unused-bits byte.
      return bits.end - bits.start >= 2 ? der[bits.start + 1] : 0;
    }
    return null;
  }
  return null;
}

/**
 * Why the leaf may not serve this connection, or null when it may: TLS 1.3 and (EC)DHE suites need
 * digitalSignature (the server signs the handshake), TLS 1.2 RSA key transport needs keyEncipherment.
 */
export function keyUsageProblem(leafDer: Uint8Array, protocol: string | null, cipherName: string): string | null {
  const bits = keyUsageBits(leafDer);
  if (bits === null) return null;
  const signs = protocol === 'TLSv1.3' || /^(TLS_)?(ECDHE|DHE)[-_]/.test(cipherName);
  const needed = signs ? KEY_USAGE.digitalSignature : KEY_USAGE.keyEncipherment;
  if ((bits & needed) !== 0) return null;
  return `KEY_USAGE: the leaf's keyUsage (0x${bits.toString(16).padStart(2, '0')}) lacks ${signs ? 'digitalSignature' : 'keyEncipherment'}, ` +
    `which ${protocol ?? 'this TLS version'} with ${cipherName} needs`;
}
