// The real clock for Node: wall time and timers. The core only ever sees the Clock interface.
import type { Clock } from '../util/clock.js';

/** Clock over Date.now and setTimeout, plus a cancellable `timer` that HTTP timeouts use when a clock offers one. */
export class SystemClock implements Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number {
    return Date.now();
  }

  /** Resolves after `ms` real milliseconds. */
  sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => { setTimeout(resolve, ms > 0 ? ms : 0); });
  }

  /** Calls `fire` after `ms` unless the returned cancel function runs first; never keeps the process alive. */
  timer(ms: number, fire: () => void): () => void {
    const handle = setTimeout(fire, ms > 0 ? ms : 0);
    handle.unref();
    return () => { clearTimeout(handle); };
  }
}

/** The shared real clock. */
export const systemClock = new SystemClock();
