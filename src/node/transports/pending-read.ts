// The one read a Connection may have outstanding. Both Node connections (sockets and in-memory pipes) queue what
// arrives while nobody reads and park a read that finds the queue empty; this is the parked read.
import { otaError, type OtaError } from '../../util/errors.js';

/** A read waiting for the next chunk, the end of the stream, or its failure. */
export class PendingRead {
  private waiter: { resolve: (value: Uint8Array | null) => void; reject: (error: OtaError) => void } | null = null;

  /** Parks a read; rejects at once when one is already parked (a Connection allows one read at a time). */
  wait(): Promise<Uint8Array | null> {
    if (this.waiter) return Promise.reject(otaError('connection-busy', 'Only one read may be pending on a connection.', false));
    return new Promise<Uint8Array | null>((resolve, reject) => { this.waiter = { resolve, reject }; });
  }

  /** Hands `chunk` to the parked read; false when none is parked, so the caller queues it. */
  give(chunk: Uint8Array): boolean {
    const waiter = this.waiter;
    if (!waiter) return false;
    this.waiter = null;
    waiter.resolve(chunk);
    return true;
  }

  /**
   * Ends the parked read when the stream has nothing more for it: with `failure`, or with null (end of stream) once
   * `ended`. Does nothing while chunks are still queued, since those are read first.
   */
  settle(queued: number, failure: OtaError | null, ended: boolean): void {
    const waiter = this.waiter;
    if (!waiter || queued > 0) return;
    if (failure) {
      this.waiter = null;
      waiter.reject(failure);
    } else if (ended) {
      this.waiter = null;
      waiter.resolve(null);
    }
  }
}
