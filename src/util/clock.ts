/** Time as the core sees it: injected, so tests and simulators run on virtual time. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Resolves after `ms` milliseconds of this clock's time. */
  sleep(ms: number): Promise<void>;
  /**
   * Calls `fire` after `ms` milliseconds and returns a function that cancels it. Optional: a clock without it makes
   * callers fall back to `sleep`, whose pending timer keeps a Node process alive until it fires.
   *
   * `hold` says whether the pending timer keeps the host process alive (where the host has such a notion, as Node
   * does). A timer that guards work still in flight (an HTTP timeout) must not: the work itself keeps the process
   * alive, and a guard left behind must not delay the exit by its whole span. A timer that is the only thing the
   * program waits for must: the health deadline of a trial (its expiry reverts the image) and the agent's poll wait
   * while `start()`ed (the next check). Both are cancelled when they no longer matter (a verdict, `stop()`).
   */
  timer?(ms: number, fire: () => void, hold?: boolean): () => void;
}

/** A source of uniform random numbers in [0, 1); injected so every random choice can be seeded. */
export type Random = () => number;
