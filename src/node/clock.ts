// The real clock for Node: wall time and timers. The core only ever sees the Clock interface.
import type { Clock } from '../util/clock.js';

// setTimeout fires at once for anything over 2^31 - 1 ms (with a TimeoutOverflowWarning): longer waits go in steps.
const MAX_TIMEOUT_MS = 0x7fffffff;

/** Clock over Date.now and setTimeout, plus a cancellable `timer` that HTTP timeouts use when a clock offers one. */
export class SystemClock implements Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number {
    return Date.now();
  }

  /** Resolves after `ms` real milliseconds. */
  sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => { this.timer(ms, resolve, true); });
  }

  /**
   * Calls `fire` after `ms` unless the returned cancel function runs first. Keeps the process alive only with `hold`
   * (a health deadline, a poll wait: see Clock.timer); a guard such as an HTTP timeout never does.
   */
  timer(ms: number, fire: () => void, hold?: boolean): () => void {
    let left = ms > 0 ? ms : 0;
    let handle: NodeJS.Timeout;
    const arm = (): void => {
      const step = left < MAX_TIMEOUT_MS ? left : MAX_TIMEOUT_MS;
      left -= step;
      handle = setTimeout(left > 0 ? arm : fire, step);
      if (hold !== true) handle.unref();
    };
    arm();
    return () => { clearTimeout(handle); };
  }
}

/** The shared real clock. */
export const systemClock = new SystemClock();
