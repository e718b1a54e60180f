import type { Clock } from './clock.js';

interface Sleeper {
  at: number;
  seq: number;
  wake: () => void;
}

/**
 * A clock whose time moves only when told to. `advance` wakes sleepers in time order; `runUntilIdle`-style
 * helpers live in tests. Portable, so the QuickJS and Espruino runs use the same virtual time as Node tests.
 */
export class VirtualClock implements Clock {
  private time: number;
  private sleepers: Sleeper[] = [];
  private seq = 0;

  constructor(startMs: number) {
    this.time = startMs;
  }

  /** Current virtual time in milliseconds. */
  now(): number {
    return this.time;
  }

  /** Resolves when virtual time reaches now + ms. */
  sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      this.sleepers.push({ at: this.time + (ms > 0 ? ms : 0), seq: this.seq++, wake: resolve });
    });
  }

  /** Calls `fire` when virtual time reaches now + ms, unless the returned function cancels it first. */
  timer(ms: number, fire: () => void): () => void {
    const sleeper: Sleeper = { at: this.time + (ms > 0 ? ms : 0), seq: this.seq++, wake: fire };
    this.sleepers.push(sleeper);
    return () => {
      const rest: Sleeper[] = [];
      for (let i = 0; i < this.sleepers.length; i++) if (this.sleepers[i] !== sleeper) rest.push(this.sleepers[i]);
      this.sleepers = rest;
    };
  }

  /** Number of pending sleeps. */
  pending(): number {
    return this.sleepers.length;
  }

  /** Time of the earliest pending sleep, or -1 when none. */
  nextWake(): number {
    let best = -1;
    for (let i = 0; i < this.sleepers.length; i++) {
      if (best < 0 || this.sleepers[i].at < best) best = this.sleepers[i].at;
    }
    return best;
  }

  /** Moves time forward by `ms`, waking every sleeper whose time has come, earliest first. */
  advance(ms: number): void {
    this.advanceTo(this.time + ms);
  }

  /** Moves time forward to `target` (never backwards), waking due sleepers in order. */
  advanceTo(target: number): void {
    if (target > this.time) this.time = target;
    const due: Sleeper[] = [];
    const rest: Sleeper[] = [];
    for (let i = 0; i < this.sleepers.length; i++) {
      if (this.sleepers[i].at <= this.time) due.push(this.sleepers[i]);
      else rest.push(this.sleepers[i]);
    }
    this.sleepers = rest;
    due.sort(function (a, b) { return a.at - b.at || a.seq - b.seq; });
    for (let i = 0; i < due.length; i++) due[i].wake();
  }
}
