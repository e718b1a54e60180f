/** Time as the core sees it: injected, so tests and simulators run on virtual time. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Resolves after `ms` milliseconds of this clock's time. */
  sleep(ms: number): Promise<void>;
}

/** A source of uniform random numbers in [0, 1); injected so every random choice can be seeded. */
export type Random = () => number;
