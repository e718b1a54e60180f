import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** Outcome of checking a signed CDN URL. */
export type SignatureCheck = 'valid' | 'missing' | 'forged' | 'expired';

/**
 * Signed, expiring CDN links in the real shape `/<a>/<b>/<id>?token=<t>&expires=<unix-s>`. The token is
 * `<nonce>.<mac>`: the MAC binds path, expiry and nonce; the nonce lets the backend remember (in memory) which
 * device a link was issued to, so faults can be scoped to a device on the CDN too.
 */
export class UrlSigner {
  private readonly issued: { [nonce: string]: string } = {};
  private order: string[] = [];

  /** `secretHex` is the persisted HMAC key; `maxRemembered` bounds the nonce-to-serial table. */
  constructor(private readonly secretHex: string, private readonly maxRemembered = 100_000) {}

  private mac(path: string, expires: number, nonce: string): string {
    return createHmac('sha256', Buffer.from(this.secretHex, 'hex')).update(`${path}\n${expires}\n${nonce}`).digest('base64url').slice(0, 32);
  }

  /** The query string (`token=…&expires=…`) that authorises `path` until `expires` (Unix seconds) for `serial`. */
  sign(path: string, expires: number, serial: string): string {
    const nonce = randomBytes(9).toString('base64url');
    this.issued[nonce] = serial;
    this.order.push(nonce);
    if (this.order.length > this.maxRemembered) {
      const dropped = this.order.slice(0, this.order.length - this.maxRemembered);
      this.order = this.order.slice(dropped.length);
      for (const old of dropped) delete this.issued[old];
    }
    return `token=${nonce}.${this.mac(path, expires, nonce)}&expires=${expires}`;
  }

  /** Checks `token`/`expires` of a request for `path` at `nowSeconds`. */
  verify(path: string, token: string | null, expiresText: string | null, nowSeconds: number): SignatureCheck {
    if (!token || !expiresText) return 'missing';
    if (!/^[0-9]{1,12}$/.test(expiresText)) return 'forged';
    const dot = token.indexOf('.');
    if (dot <= 0) return 'forged';
    const expected = Buffer.from(this.mac(path, Number(expiresText), token.slice(0, dot)));
    const given = Buffer.from(token.slice(dot + 1));
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return 'forged';
    return Number(expiresText) < nowSeconds ? 'expired' : 'valid';
  }

  /** The device serial a link was issued to, while remembered (not across restarts). */
  serialOf(token: string | null): string | undefined {
    if (!token) return undefined;
    const dot = token.indexOf('.');
    return dot > 0 ? this.issued[token.slice(0, dot)] : undefined;
  }
}
