import type { Connection, ConnectOptions, Transport } from '../http/transport.js';
import type { OtaError } from '../util/errors.js';

// A Transport whose parked reads can be failed from outside. Stopping an agent takes effect at its next chunk; a
// stalled server sends none, so without this a stop waits for the HTTP idle timeout (30 s). Only a parked read is
// failed: while a read is parked no body sink holds a view of the connection's buffers, so nothing written to flash
// can be torn. The HTTP client then closes the connection itself.

/** A connection wrapper that can fail its parked read. */
class InterruptibleConnection implements Connection {
  private parked: ((error: OtaError) => void) | null = null;
  readonly info: Connection['info'];

  constructor(private readonly inner: Connection, private readonly forget: (c: InterruptibleConnection) => void) {
    this.info = inner.info;
    if (typeof inner.readNow === 'function') this.readNow = () => (inner.readNow as () => Uint8Array | undefined)();
  }

  /** The inner connection's fast path, when it has one. */
  readNow?: () => Uint8Array | undefined;

  /** Writes through. */
  write(data: Uint8Array): Promise<void> {
    return this.inner.write(data);
  }

  /** Reads through; interrupt() fails it while it is parked. */
  read(): Promise<Uint8Array | null> {
    return new Promise<Uint8Array | null>((resolve, reject) => {
      let done = false;
      this.parked = (error) => {
        if (done) return;
        done = true;
        this.parked = null;
        reject(error);
      };
      this.inner.read().then((chunk) => {
        if (done) return;
        done = true;
        this.parked = null;
        resolve(chunk);
      }, (error: unknown) => {
        if (done) return;
        done = true;
        this.parked = null;
        reject(error);
      });
    });
  }

  /** Fails the parked read with `error`; false when no read is parked. */
  interrupt(error: OtaError): boolean {
    if (this.parked === null) return false;
    this.parked(error);
    return true;
  }

  /** Closes the inner connection. */
  close(): void {
    this.forget(this);
    this.inner.close();
  }
}

/** Wraps `inner`; interrupt() fails the parked reads of every open connection. */
export class InterruptibleTransport implements Transport {
  private readonly open = new Set<InterruptibleConnection>();

  constructor(private readonly inner: Transport) {}

  /** Connects through the inner transport. */
  async connect(options: ConnectOptions): Promise<Connection> {
    const connection = new InterruptibleConnection(await this.inner.connect(options), (c) => { this.open.delete(c); });
    this.open.add(connection);
    return connection;
  }

  /** Fails every parked read with `error`; returns how many there were. */
  interrupt(error: OtaError): number {
    let count = 0;
    for (const connection of this.open) if (connection.interrupt(error)) count++;
    return count;
  }
}
