/** Per-sector erase counters: endurance is counted in erases, and sweeps compare them with a fault-free run. */
export class WearCounter {
  private counts: number[];

  /** Counters for `sectors` sectors, all zero. */
  constructor(sectors: number) {
    this.counts = [];
    for (let i = 0; i < sectors; i++) this.counts.push(0);
  }

  /** Erases of sector `index` so far. */
  count(index: number): number {
    return this.counts[index];
  }

  /** Counts one erase of sector `index`. */
  add(index: number): void {
    this.counts[index]++;
  }

  /** A copy of every counter. */
  all(): number[] {
    return this.counts.slice();
  }

  /** Replaces every counter (restore from a snapshot). */
  set(counts: number[]): void {
    this.counts = counts.slice();
  }
}
