// A byte pipe to a host. TLS lives inside the transport, so the core never learns which stack it holds.

/** How to reach a host. */
export interface ConnectOptions {
  host: string;
  port: number;
  tls: boolean;
  /** SNI and the name verified; defaults to `host` unless it is an IP literal. */
  servername?: string;
  /** The device's trusted roots (DER). With tls, the only roots trusted: never a system store. */
  ca?: Uint8Array[];
  timeoutMs: number;
}

/** Facts about an open connection, for logs and tests. */
export interface ConnectionInfo {
  protocol?: string;
  cipher?: string;
  servername?: string;
  alpn?: string;
  resumed?: boolean;
}

/** An open byte stream. Reads pull, so a slow consumer slows the sender (back-pressure). */
export interface Connection {
  write(data: Uint8Array): Promise<void>;
  /**
   * The next bytes, or null at end of stream. The bytes may live in a buffer the transport recycles: they are valid
   * until the next read() or close(), so a reader that keeps them longer copies them (the HTTP client never does, and
   * never reads on while a body sink's promise is pending). A chunk is a view: its `.buffer` is the whole, larger,
   * recycled buffer, so pass on `new Uint8Array(chunk)` (a copy of exactly the chunk), never `chunk.buffer`.
   */
  read(): Promise<Uint8Array | null>;
  /**
   * Optional fast path: the next bytes if the transport already holds some, else undefined (then call read(), which
   * also reports end of stream and errors). Same validity rule as read().
   */
  readNow?(): Uint8Array | undefined;
  close(): void;
  info?: ConnectionInfo;
}

/** Opens connections. One implementation per file under src/node/transports and src/espruino. */
export interface Transport {
  connect(options: ConnectOptions): Promise<Connection>;
}
