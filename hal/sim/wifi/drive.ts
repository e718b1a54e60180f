import type { VirtualClock } from '../../../src/util/virtual-clock.js';
import { otaError } from '../../../src/util/errors.js';

// Runs simulated work on virtual time: whenever every promise chain is idle, time jumps to the next sleeper.
// Serial transfers and retransmission timeouts are sleeps on the clock, so a test of a slow link takes no
// real time, and the order of events is the order of their virtual times.

/** Lets every pending promise chain run until all are waiting on timers (or done). */
export function idle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Resolves with `work`'s result, advancing `clock` whenever nothing else can run. `abort` is checked at each idle
 * point; when it returns an error the run stops with it (e.g. a power cut on a part the work does not await).
 */
export async function drive<T>(clock: VirtualClock, work: Promise<T>, abort?: () => unknown, maxSteps = 1_000_000): Promise<T> {
  let done = false;
  let failed = false;
  let value: T | undefined;
  let error: unknown;
  work.then((v) => { done = true; value = v; }, (e) => { done = true; failed = true; error = e; });
  for (let step = 0; step < maxSteps; step++) {
    await idle();
    if (done) {
      if (failed) throw error;
      return value as T;
    }
    const stop = abort ? abort() : null;
    if (stop !== null && stop !== undefined) throw stop;
    const wake = clock.nextWake();
    if (wake < 0) throw otaError('sim-deadlock', 'Simulated work is waiting on nothing: no timer is pending and it has not finished.', false);
    clock.advanceTo(wake);
  }
  throw otaError('sim-runaway', `Simulated work did not finish within ${maxSteps} timer steps.`, false);
}
