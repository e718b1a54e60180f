// Drives an MbedTlsSession over a TCP socket: received ciphertext is queued (the socket pauses past `readAhead`),
// fed to the session as it has room, and whatever the session produces is written to the socket. Reads pull, so a
// slow reader slows the server through TCP flow control; writes wait for 'drain' when the socket is full.
import { X509Certificate, createHash } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Connection, ConnectionInfo } from '../../http/transport.js';
import type { PeerFacts } from '../../http/transport-errors.js';
import { isOtaError, otaError, type OtaError } from '../../util/errors.js';
import { socketError } from '../transports/socket-connection.js';
import { notTlsError } from '../transports/connect-errors.js';
import { MBEDTLS, hexCode, mbedTlsErrorName, mbedTlsFailure } from './errors.js';
import { ianaSuiteName, type ResolvedOptions } from './options.js';
import type { MbedTlsSession } from './session.js';
import type { MbedTlsEngine } from './wasm.js';

/** Connection facts, plus what only mbedTLS can tell. */
export interface MbedTlsConnectionInfo extends ConnectionInfo {
  /** The suite as mbedTLS names it, e.g. "TLS1-3-AES-256-GCM-SHA384". */
  mbedtlsCipher: string;
  /** Largest record payload accepted (the record buffer, or the negotiated max_fragment_length). */
  maxInRecord: number;
  /** SHA-256 of the server's leaf certificate, hex. */
  peerSha256?: string;
  /** Whether SNI was sent. */
  sniSent: boolean;
}

/** Where the connection goes and what it was asked for, for error messages. */
export interface ConnectionTarget {
  host: string;
  port: number;
  /** The name verified (and sent as SNI when `sni` is not null). */
  expectedName: string;
  sni: string | null;
  options: ResolvedOptions;
}

function firstCn(name: string): string | undefined {
  const match = /(?:^|\n)CN=([^\n]*)/.exec(name);
  return match ? match[1] : undefined;
}

/** Facts about the chain the server sent, for verification errors. */
export function peerFacts(chain: Uint8Array[], target: ConnectionTarget): PeerFacts {
  const facts: PeerFacts = { host: target.host, port: target.port, expectedName: target.expectedName };
  try {
    if (chain.length === 0) return facts;
    const leaf = new X509Certificate(chain[0]);
    facts.subject = firstCn(leaf.subject);
    facts.validFrom = leaf.validFrom;
    facts.validTo = leaf.validTo;
    if (leaf.subjectAltName) facts.altNames = leaf.subjectAltName.split(', ').map((n) => n.replace(/^(DNS|IP Address):/, ''));
    facts.issuer = firstCn(new X509Certificate(chain[chain.length - 1]).issuer);
  } catch {
    // A certificate node cannot parse still gets the error; the message just names less.
  }
  return facts;
}

/** A TLS connection whose TLS runs in mbedTLS compiled to wasm. */
export class MbedTlsConnection implements Connection {
  info?: MbedTlsConnectionInfo;
  private pending: Buffer[] = [];
  private pendingOffset = 0;
  private pendingBytes = 0;
  /** Ciphertext bytes received so far (0 at a refusal before any server hello). */
  private received = 0;
  /** The first byte the server sent (-1 before any): a TLS record starts with a content type 20..24. */
  private firstByte = -1;
  private ended = false;
  private eofFed = false;
  private failure: OtaError | null = null;
  private wake: (() => void) | null = null;
  private closed = false;
  private reading = false;
  private handshaking = true;

  constructor(private readonly socket: Socket, private readonly session: MbedTlsSession, private readonly engine: MbedTlsEngine,
    private readonly target: ConnectionTarget) {
    socket.on('data', (chunk: Buffer) => {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      if (this.received === 0) this.firstByte = chunk[0];
      this.received += chunk.length;
      if (this.pendingBytes >= target.options.readAhead) socket.pause();
      this.notify();
    });
    socket.on('end', () => {
      this.ended = true;
      this.notify();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (!this.failure && !this.closed) this.failure = socketError(error, target.host, target.port);
      this.notify();
    });
    socket.on('close', () => {
      this.ended = true;
      this.notify();
    });
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = null;
    if (wake) wake();
  }

  private waitForInput(): Promise<void> {
    if (this.pending.length > 0 || this.ended || this.failure) return Promise.resolve();
    if (this.socket.isPaused()) this.socket.resume();
    return new Promise<void>((resolve) => { this.wake = resolve; });
  }

  /** Moves queued ciphertext into the session; signals end of stream once everything is in. */
  private feed(): void {
    while (this.pending.length > 0) {
      const head = this.pending[0];
      const n = this.session.feed(head, this.pendingOffset);
      if (n === 0) return;
      this.pendingOffset += n;
      this.pendingBytes -= n;
      if (this.pendingOffset === head.length) {
        this.pending.shift();
        this.pendingOffset = 0;
      }
    }
    if (this.pendingBytes < this.target.options.readAhead && this.socket.isPaused() && !this.ended) this.socket.resume();
    if (this.ended && !this.eofFed) {
      this.eofFed = true;
      this.session.end();
    }
  }

  /** Sends whatever the session produced; false when the socket asks to wait for 'drain'. */
  private flush(): boolean {
    let ok = true;
    for (let out = this.session.takeOutput(); out !== null; out = this.session.takeOutput()) {
      if (!this.socket.destroyed) ok = this.socket.write(out) && ok;
    }
    return ok;
  }

  /** The transport error for mbedTLS result `rc`. */
  private fail(rc: number): OtaError {
    const session = this.session;
    if (this.handshaking && this.firstByte >= 0 && (this.firstByte < 20 || this.firstByte > 24)) {
      // Same diagnosis as node:tls gives: a plain-HTTP server or a captive portal answered the ClientHello.
      this.failure = notTlsError(this.target.host, this.target.port, `${hexCode(rc)} ${mbedTlsErrorName(rc)}, first byte 0x${this.firstByte.toString(16).padStart(2, '0')}`);
      return this.failure;
    }
    const error = mbedTlsFailure(rc, {
      host: this.target.host,
      port: this.target.port,
      sni: this.target.sni,
      handshaking: this.handshaking,
      alertReceived: session.alertReceived(),
      alertSent: session.alertSent(),
      verifyFlags: session.verifyFlags(),
      peer: peerFacts(rc === MBEDTLS.X509_CERT_VERIFY_FAILED || rc === MBEDTLS.BAD_CERTIFICATE ? session.peerChain() : [], this.target),
      recordBuffer: this.target.options.recordBuffer,
      maxFragmentLength: this.target.options.maxFragmentLength,
      protocol: this.handshaking ? 'during the handshake' : session.version(),
    });
    if (this.handshaking && rc === MBEDTLS.CONN_EOF && this.received > 0) {
      (error.details as { [key: string]: unknown }).bytesReceived = this.received;
    }
    this.failure = error;
    return error;
  }

  /** Turns a wasm trap into an OtaError and retires the engine. */
  private trapped(error: unknown): OtaError {
    if (isOtaError(error)) return error;
    this.engine.broken = true;
    this.failure = otaError('tls-mbedtls-crashed', `The mbedTLS wasm module trapped while talking to ${this.target.host}:${this.target.port} (${String(error)}); the instance is discarded and the next connection gets a new one.`,
      true, { host: this.target.host, port: this.target.port }, error);
    return this.failure;
  }

  /** Runs the handshake to completion; rejects with the transport error. */
  handshake(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const step = (): void => {
        if (this.closed) return;
        try {
          for (;;) {
            if (this.failure) throw this.failure;
            this.feed();
            const rc = this.session.handshake();
            this.flush();
            if (rc === 0) {
              this.handshaking = false;
              this.info = this.describe();
              resolve();
              return;
            }
            if (rc === MBEDTLS.WANT_WRITE) continue;
            if (rc === MBEDTLS.WANT_READ) {
              if (this.pending.length > 0 || (this.ended && !this.eofFed)) continue;
              this.waitForInput().then(step, step);
              return;
            }
            throw this.fail(rc);
          }
        } catch (error) {
          const failure = this.trapped(error);
          this.dispose();
          reject(failure);
        }
      };
      step();
    });
  }

  private describe(): MbedTlsConnectionInfo {
    const chain = this.session.peerChain();
    const mbedtlsCipher = this.session.ciphersuite();
    const info: MbedTlsConnectionInfo = {
      protocol: this.session.version(),
      cipher: ianaSuiteName(mbedtlsCipher),
      mbedtlsCipher,
      servername: this.target.sni ?? undefined,
      alpn: this.session.alpn() || undefined,
      resumed: false,
      maxInRecord: this.session.maxInRecord(),
      sniSent: this.target.sni !== null,
    };
    // The same digest as node:tls reports: SHA-256 of the leaf's DER, lower-case hex.
    if (chain.length > 0) info.peerSha256 = createHash('sha256').update(chain[0]).digest('hex');
    return info;
  }

  /** Encrypts and sends all of `data`; resolves once the socket accepted it (waits for 'drain' under back-pressure). */
  write(data: Uint8Array): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed || !this.session.open) return Promise.reject(otaError('connection-closed', `Write to ${this.target.host}:${this.target.port} after close.`, false));
    let ok = true;
    try {
      for (let offset = 0; offset < data.length;) {
        const rc = this.session.write(data, offset);
        ok = this.flush() && ok;
        if (rc > 0) offset += rc;
        else if (rc !== MBEDTLS.WANT_WRITE) throw this.fail(rc);
      }
    } catch (error) {
      const failure = this.trapped(error);
      this.dispose();
      return Promise.reject(failure);
    }
    if (ok) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.on('drain', done);
      this.socket.on('close', done);
    });
  }

  /** The next decrypted bytes, or null at the end of the stream. */
  read(): Promise<Uint8Array | null> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed || !this.session.open) return Promise.resolve(null);
    if (this.reading) return Promise.reject(otaError('connection-busy', 'Only one read may be pending on a connection.', false));
    this.reading = true;
    return new Promise<Uint8Array | null>((resolve, reject) => {
      const finish = (value: Uint8Array | null): void => {
        this.reading = false;
        resolve(value);
      };
      const step = (): void => {
        if (this.closed || !this.session.open) {
          finish(null);
          return;
        }
        try {
          for (;;) {
            if (this.failure) throw this.failure;
            this.feed();
            const result = this.session.read();
            this.flush();
            if (result instanceof Uint8Array) {
              finish(result);
              return;
            }
            // Only close_notify ends the stream. A TCP end without it (CONN_EOF, at a record boundary or not) is a
            // truncation an attacker or a crashed server can cause: it must never look like a complete body.
            if (result === null) {
              this.dispose();
              finish(null);
              return;
            }
            if (result === MBEDTLS.WANT_WRITE) continue;
            if (result === MBEDTLS.WANT_READ) {
              if (this.pending.length > 0 || (this.ended && !this.eofFed)) continue;
              this.waitForInput().then(step, step);
              return;
            }
            throw this.fail(result);
          }
        } catch (error) {
          const failure = this.trapped(error);
          this.dispose();
          this.reading = false;
          reject(failure);
        }
      };
      step();
    });
  }

  /** Frees the session and closes the socket. */
  private dispose(): void {
    this.session.free();
    this.pending = [];
    this.pendingBytes = 0;
    if (!this.socket.destroyed) {
      this.socket.end();
      setTimeout(() => this.socket.destroy(), 1000).unref();
    }
  }

  /** Sends close_notify, closes the socket and frees the session; a pending read resolves with null. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.session.open && !this.failure && !this.engine.broken) {
      try {
        this.session.closeNotify();
        this.flush();
      } catch (error) {
        this.trapped(error);
      }
    }
    this.dispose();
    this.notify();
  }

  /** Aborts the connection at once (used on connect timeout). */
  destroy(): void {
    this.closed = true;
    this.session.free();
    this.socket.destroy();
    this.notify();
  }
}
