/** Time as the core sees it: injected, so tests and simulators run on virtual time. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Resolves after `ms` milliseconds of this clock's time. */
  sleep(ms: number): Promise<void>;
  /**
   * Calls `fire` after `ms` milliseconds and returns a function that cancels it. Optional: a clock without it makes
   * callers fall back to `sleep`, whose pending timer keeps a Node process alive until it fires.
   */
  timer?(ms: number, fire: () => void): () => void;
}

/** A source of uniform random numbers in [0, 1); injected so every random choice can be seeded. */
export type Random = () => number;
