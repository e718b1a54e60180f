// The device's trust set, checked before either TLS transport uses it. node:tls (OpenSSL without partial-chain
// verification) only ever anchors a chain at a self-signed certificate, while mbedTLS anchors at any certificate in
// its CA list; a bundle holding an intermediate would make the two transports trust different servers. Refusing such
// an entry up front keeps them in agreement and names the mistake instead of blaming a server.
import { X509Certificate } from 'node:crypto';
import { otaError, type OtaError } from '../../util/errors.js';

function subjectName(cert: X509Certificate): string {
  return cert.subject.replace(/\n/g, ', ');
}

/** Null when every entry is a self-signed X.509 certificate (DER); else the `tls-bad-root` error for the first that is not. */
export function trustedRootsProblem(ca: Uint8Array[]): OtaError | null {
  for (let i = 0; i < ca.length; i++) {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(ca[i]);
    } catch (error) {
      return otaError('tls-bad-root', `Trusted root #${i} (${ca[i].length} bytes) is not an X.509 certificate; the device bundle must hold DER certificates.`, false,
        { index: i, bytes: ca[i].length }, error);
    }
    if (!cert.checkIssued(cert) || !cert.verify(cert.publicKey)) {
      return otaError('tls-bad-root', `Trusted root #${i} (${subjectName(cert)}) is not a root: it is issued by ${cert.issuer.replace(/\n/g, ', ')}, not self-signed. ` +
        'The device trusts root certificates only; put the root that issued it in the bundle and let the server send its intermediates.', false,
      { index: i, subject: subjectName(cert) });
    }
  }
  return null;
}
