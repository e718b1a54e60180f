import { createHmac, createSecretKey, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';

/** Outcome of checking a signed CDN URL. */
export type SignatureCheck = 'valid' | 'missing' | 'forged' | 'expired';

/**
 * Signed, expiring CDN links in the real shape `/<a>/<b>/<id>?token=<t>&expires=<unix-s>`. The token is
 * `<nonce>.<mac>`: the MAC binds path, expiry and nonce; the nonce lets the backend remember (in memory) which
 * device a link was issued to, so faults can be scoped to a device on the CDN too.
 */
export class UrlSigner {
  private readonly issued = new Map<string, string>();
  /** Ring of the remembered nonces, oldest overwritten first. */
  private readonly ring: (string | undefined)[];
  private ringAt = 0;
  private readonly key: KeyObject;
  // Nonces are a random per-process prefix plus a counter: unique without a random draw per link.
  private readonly prefix = randomBytes(6).toString('base64url');
  private counter = 0;

  /** `secretHex` is the persisted HMAC key; `maxRemembered` bounds the nonce-to-serial table. */
  constructor(secretHex: string, maxRemembered = 100_000) {
    this.key = createSecretKey(Buffer.from(secretHex, 'hex'));
    this.ring = new Array(maxRemembered);
  }

  private mac(path: string, expires: number, nonce: string): string {
    return createHmac('sha256', this.key).update(`${path}\n${expires}\n${nonce}`).digest('base64url').slice(0, 32);
  }

  /** The query string (`token=…&expires=…`) that authorises `path` until `expires` (Unix seconds) for `serial`. */
  sign(path: string, expires: number, serial: string): string {
    const nonce = this.prefix + (this.counter++).toString(36);
    const old = this.ring[this.ringAt];
    if (old !== undefined) this.issued.delete(old);
    this.ring[this.ringAt] = nonce;
    this.ringAt = (this.ringAt + 1) % this.ring.length;
    this.issued.set(nonce, serial);
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
    return dot > 0 ? this.issued.get(token.slice(0, dot)) : undefined;
  }
}
