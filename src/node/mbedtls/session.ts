// A sans-IO TLS client session inside an MbedTlsEngine: ciphertext goes in with feed() and comes out with
// takeOutput(); plaintext goes through read()/write(). No sockets, no timers: the transport drives it.
import { otaError } from '../../util/errors.js';
import { MBEDTLS, hexCode, mbedTlsErrorName } from './errors.js';
import type { ResolvedOptions } from './options.js';
import type { MbedTlsEngine } from './wasm.js';

/** What one session is configured with. */
export interface SessionConfig {
  /** Trusted roots, DER. */
  ca: Uint8Array[];
  /** SNI and the name the certificate must carry; never empty. */
  hostname: string;
  options: ResolvedOptions;
}

/** One TLS client session. Call free() exactly once when done (close, error or end of stream). */
export class MbedTlsSession {
  private ptr: number;

  /** Creates and configures the session; throws an OtaError if mbedTLS refuses the configuration. */
  constructor(private readonly engine: MbedTlsEngine, config: SessionConfig) {
    const x = engine.exports;
    this.ptr = x.ota_session_new();
    if (this.ptr === 0) throw otaError('mbedtls-out-of-memory', 'The mbedTLS instance could not allocate a session.', true);
    try {
      for (let i = 0; i < config.ca.length; i++) {
        const der = engine.allocBytes(config.ca[i]);
        const rc = x.ota_add_ca(this.ptr, der, config.ca[i].length);
        engine.free(der);
        if (rc !== 0) {
          throw otaError('tls-bad-root', `Trusted root #${i} is not a certificate mbedTLS can parse (${hexCode(rc)} ${mbedTlsErrorName(rc)}); the device bundle must hold DER X.509 certificates.`, false,
            { index: i, mbedtlsCode: rc, mbedtls: mbedTlsErrorName(rc) });
        }
      }
      for (const id of config.options.suites) this.check(x.ota_add_ciphersuite(this.ptr, id), 'ciphersuite 0x' + id.toString(16));
      for (const id of config.options.groups) this.check(x.ota_add_group(this.ptr, id), 'group ' + id);
      const name = engine.allocString(config.hostname);
      const o = config.options;
      const rc = x.ota_setup(this.ptr, name, o.minMinor, o.maxMinor, o.mflCode, o.recordBuffer, o.sni ? 1 : 0);
      engine.free(name);
      this.check(rc, 'setup');
    } catch (error) {
      this.free();
      throw error;
    }
  }

  private check(rc: number, what: string): void {
    if (rc !== 0) {
      throw otaError('mbedtls-setup-failed', `mbedTLS refused the session's ${what} (${hexCode(rc)} ${mbedTlsErrorName(rc)}).`, false, { mbedtlsCode: rc, mbedtls: mbedTlsErrorName(rc) });
    }
  }

  private get p(): number {
    if (this.ptr === 0) throw otaError('mbedtls-session-freed', 'The mbedTLS session was used after it was freed.', false);
    return this.ptr;
  }

  /** Copies as much of `data` (from `offset`) into the session as fits; returns the bytes taken. */
  feed(data: Uint8Array, offset: number = 0): number {
    const x = this.engine.exports;
    const space = x.ota_in_space(this.p);
    const n = Math.min(space, data.length - offset);
    if (n <= 0) return 0;
    const at = x.ota_in_ptr(this.p);
    this.engine.view(at, n).set(data.subarray(offset, offset + n));
    x.ota_in_commit(this.p, n);
    return n;
  }

  /** Room for more ciphertext. */
  inputSpace(): number {
    return this.engine.exports.ota_in_space(this.p);
  }

  /** Tells the session the peer's byte stream ended. */
  end(): void {
    this.engine.exports.ota_in_eof(this.p);
  }

  /** Ciphertext to send (a copy), or null when there is none. */
  takeOutput(): Uint8Array | null {
    const x = this.engine.exports;
    const len = x.ota_out_len(this.p);
    if (len === 0) return null;
    const bytes = this.engine.copyOut(x.ota_out_ptr(this.p), len);
    x.ota_out_consume(this.p, len);
    return bytes;
  }

  /** Advances the handshake: 0 when done, MBEDTLS.WANT_READ/WANT_WRITE to call again, or an error code. */
  handshake(): number {
    return this.engine.exports.ota_handshake(this.p);
  }

  /** True once the handshake finished. */
  handshakeDone(): boolean {
    return this.engine.exports.ota_handshake_over(this.p) === 1;
  }

  /**
   * Decrypted bytes (a copy), null at close_notify, or a negative code (WANT_READ, WANT_WRITE, CONN_EOF for a stream
   * that ended without close_notify, or an error).
   */
  read(max: number = 16384): Uint8Array | null | number {
    const x = this.engine.exports;
    const rc = x.ota_read(this.p, max);
    if (rc > 0) return this.engine.copyOut(x.ota_io_ptr(this.p), rc);
    if (rc === 0 || rc === MBEDTLS.PEER_CLOSE_NOTIFY) return null;
    return rc;
  }

  /** Encrypts up to 16 KiB of `data` from `offset`: bytes consumed, or a negative code (WANT_WRITE: retry the same bytes). */
  write(data: Uint8Array, offset: number = 0): number {
    const x = this.engine.exports;
    const n = Math.min(x.ota_io_cap(), data.length - offset);
    this.engine.view(x.ota_io_ptr(this.p), n).set(data.subarray(offset, offset + n));
    return x.ota_write(this.p, n);
  }

  /** Queues close_notify (take it with takeOutput). */
  closeNotify(): number {
    return this.engine.exports.ota_close_notify(this.p);
  }

  /** The negotiated version, e.g. "TLSv1.3". */
  version(): string {
    return this.engine.string(this.engine.exports.ota_version(this.p));
  }

  /** The negotiated suite's mbedTLS name. */
  ciphersuite(): string {
    return this.engine.string(this.engine.exports.ota_ciphersuite(this.p));
  }

  /** The negotiated ALPN protocol, or "". */
  alpn(): string {
    return this.engine.string(this.engine.exports.ota_alpn(this.p));
  }

  /** MBEDTLS_X509_BADCERT_* flags of the server certificate (unsigned). */
  verifyFlags(): number {
    return this.engine.exports.ota_verify_result(this.p) >>> 0;
  }

  /** Fatal alert received from the server, or -1. */
  alertReceived(): number {
    return this.engine.exports.ota_alert_received(this.p);
  }

  /** Fatal alert sent to the server, or -1. */
  alertSent(): number {
    return this.engine.exports.ota_alert_sent(this.p);
  }

  /** The largest record payload the session accepts now (buffer or negotiated fragment length). */
  maxInRecord(): number {
    return this.engine.exports.ota_max_in_record(this.p);
  }

  /** The certificates the server sent (DER copies), leaf first. */
  peerChain(): Uint8Array[] {
    const x = this.engine.exports;
    const chain: Uint8Array[] = [];
    for (let i = 0; i < 16; i++) {
      const ptr = x.ota_peer_cert(this.p, i);
      if (ptr === 0) break;
      chain.push(this.engine.copyOut(ptr, x.ota_peer_cert_len(this.p, i)));
    }
    return chain;
  }

  /** Frees the session's memory inside the engine; later calls throw. Safe to call twice. */
  free(): void {
    if (this.ptr === 0) return;
    const ptr = this.ptr;
    this.ptr = 0;
    if (!this.engine.broken) this.engine.exports.ota_session_free(ptr);
  }

  /** True until free(). */
  get open(): boolean {
    return this.ptr !== 0;
  }
}
