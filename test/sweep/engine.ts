import type { SimFlash } from '../../hal/sim/sim-flash.js';
import type { CutMode, PowerCut } from '../../hal/sim/faults.js';
import { CUT_MODES, TORN_MODES } from '../../hal/sim/faults.js';
import { randomInt, seededRandom } from '../../hal/sim/random.js';
import { isOtaError } from '../../src/util/errors.js';

// The generic power-cut sweep engine. A subject is a simulated system (one MCU or several) that runs power cycle
// after power cycle until it reaches its goal; the engine aims cuts at the mutating flash operations of its parts,
// reboots it (every part powers back on, every object above the flash is rebuilt by the subject) and collects the
// invariant violations the subject reports. Nothing here knows about A/B slots: a two-MCU bundle scenario plugs in
// the same way.

/** A system under test, built afresh for each run from a seed. */
export interface SweepSubject {
  /** The flash parts cuts may hit (one per MCU). A cut on any of them cuts power to all. */
  flashes: SimFlash[];
  /** One power cycle: boot, run, update. Resolves true once the goal is reached; rejects `power-cut` when cut. */
  cycle(): Promise<boolean>;
  /** Checks after the run; returns violations. */
  finish(cuts: number): Promise<string[]>;
  /** Violations seen during the run (boot checks, protected-region writes). */
  violations: string[];
}

/** A named way to build subjects. */
export interface SweepCase {
  name: string;
  /** Describes the geometry/configuration, for failure reports. */
  config: string;
  make(seed: number): Promise<SweepSubject>;
}

/** A cut aimed at one flash part, op counted from the start of the run on that part. */
export interface AimedCut {
  flash: number;
  op: number;
  mode: CutMode;
  tornAt?: number;
  seed: number;
}

/** Decides the next cut after `cuts` cuts, given each part's op count since the run started. */
export type CutSchedule = (cuts: number, opsSinceStart: number[]) => AimedCut | null;

/** The outcome of one run. */
export interface RunOutcome {
  cuts: AimedCut[];
  cycles: number;
  violations: string[];
  /** Mutating ops per part over the whole run. */
  ops: number[];
}

/** tornAt meaning "the last unit or sector of the operation" (SimFlash clamps it). */
export const LAST = 0x7fffffff;

/** Stop a run that does not converge. */
export const MAX_CYCLES = 60;

/** Runs one subject under a schedule to completion. */
export async function runSubject(kase: SweepCase, seed: number, schedule: CutSchedule, first?: AimedCut): Promise<RunOutcome> {
  const subject = await kase.make(seed);
  const start = subject.flashes.map((f) => f.ops);
  const since = (): number[] => subject.flashes.map((f, i) => f.ops - start[i]);
  const done: AimedCut[] = [];
  const violations = subject.violations;
  let armed: AimedCut | null = first ?? schedule(0, since());
  const arm = (): void => {
    subject.flashes.forEach((f) => f.armCut(null));
    if (armed !== null) {
      const cut: PowerCut = { op: start[armed.flash] + armed.op, mode: armed.mode, seed: armed.seed };
      if (armed.tornAt !== undefined) cut.tornAt = armed.tornAt;
      subject.flashes[armed.flash].armCut(cut);
    }
  };
  arm();
  let cycles = 0;
  let finished = false;
  while (cycles < MAX_CYCLES && violations.length === 0) {
    cycles++;
    try {
      if (await subject.cycle()) {
        finished = true;
        break;
      }
    } catch (e) {
      if (!(isOtaError(e) && e.code === 'power-cut')) {
        violations.push('cycle ' + cycles + ' failed: ' + (isOtaError(e) ? e.code + ': ' + e.message : String(e)));
        break;
      }
      if (armed !== null) done.push(armed);
      // Power fails for every part at once; the subject rebuilds everything above the flash next cycle.
      subject.flashes.forEach((f) => f.powerCycle());
      armed = schedule(done.length, since());
      arm();
    }
  }
  if (!finished && violations.length === 0) violations.push('no progress: goal not reached in ' + MAX_CYCLES + ' power cycles');
  subject.flashes.forEach((f) => f.armCut(null));
  if (violations.length === 0) violations.push(...await subject.finish(done.length));
  return { cuts: done, cycles, violations, ops: since() };
}

/** No cuts at all. */
export const noCuts: CutSchedule = () => null;

/** One cut at `op` of part `flash`. */
export function singleCut(flash: number, op: number, mode: CutMode, seed: number): CutSchedule {
  return (cuts) => (cuts === 0 ? { flash, op, mode, seed } : null);
}

/**
 * Cut at `first`, then after each reboot cut again 1, 2, 3... ops later (littlefs's "linear"), cycling through the
 * cut modes, until `max` cuts.
 */
export function linearCuts(flash: number, first: number, seed: number, max: number): CutSchedule {
  return (cuts, ops) => {
    if (cuts >= max) return null;
    const op = cuts === 0 ? first : ops[flash] + cuts;
    return { flash, op, mode: CUT_MODES[(cuts + seed) % CUT_MODES.length], seed: seed * 31 + cuts };
  };
}

/** Up to `max` cuts at seeded random points within `span` ops of each reboot, in seeded random modes. */
export function randomCuts(flashes: number, span: number[], seed: number, max: number): CutSchedule {
  const random = seededRandom(seed);
  const count = 1 + randomInt(random, max);
  return (cuts, ops) => {
    if (cuts >= count) return null;
    const flash = randomInt(random, flashes);
    return { flash, op: ops[flash] + randomInt(random, Math.max(1, span[flash])), mode: CUT_MODES[randomInt(random, CUT_MODES.length)],
      seed: randomInt(random, 0x7fffffff) };
  };
}

/** One failing run, with what replays it. */
export interface SweepFailure {
  case: string;
  config: string;
  seed: number;
  schedule: string;
  cuts: AimedCut[];
  violations: string[];
}

/** Totals of a sweep. */
export interface SweepReport {
  scenarios: number;
  cutPoints: number;
  runs: number;
  failures: SweepFailure[];
  modes: Record<string, number>;
}

/** An empty report. */
export function emptyReport(): SweepReport {
  return { scenarios: 0, cutPoints: 0, runs: 0, failures: [], modes: {} };
}

/** Adds `b` into `a`. */
export function mergeReport(a: SweepReport, b: SweepReport): void {
  a.scenarios += b.scenarios;
  a.cutPoints += b.cutPoints;
  a.runs += b.runs;
  a.failures.push(...b.failures);
  for (const k of Object.keys(b.modes)) a.modes[k] = (a.modes[k] ?? 0) + b.modes[k];
}

/** What to sweep for one case. */
export interface SweepOptions {
  seed: number;
  /** Cut modes for the exhaustive single-cut pass (default all). */
  modes?: CutMode[];
  /** Every `stride`-th op for the single-cut pass (default 1: every op). */
  stride?: number;
  /** Where torn modes tear: a seeded random unit/sector, and/or the last one (default ['random']). */
  tears?: ('random' | 'last')[];
  /** Linear multi-cut schedules to run, starting at evenly spread ops (default 0). */
  linear?: number;
  /** Seeded random multi-cut schedules (up to 5 cuts) to run (default 0). */
  random?: number;
  /**
   * Depth-2 pass: at every op, a first cut in `mode` tearing the last unit, then after the reboot a second cut at each
   * of the next `window` ops (modes in turn). Aimed at torn-but-readable records meeting the next destructive step.
   */
  depth2?: { mode: CutMode; window: number };
  /** Called after each run (progress, failure printing). */
  onRun?: (outcome: RunOutcome, failure: SweepFailure | null) => void;
}

function describe(cuts: AimedCut[]): string {
  return cuts.map((c) => `${c.mode}@${c.flash}:${c.op}${c.tornAt === undefined ? '' : '/' + c.tornAt}#${c.seed}`).join(',');
}

/**
 * Sweeps one case: a fault-free run to count ops (it must pass), then every op x every mode, then the multi-cut
 * schedules. A cut point is one planned cut that fired.
 */
export async function sweepCase(kase: SweepCase, options: SweepOptions): Promise<SweepReport> {
  const report = emptyReport();
  report.scenarios = 1;
  const record = (schedule: string, seed: number, outcome: RunOutcome): void => {
    report.runs++;
    report.cutPoints += outcome.cuts.length;
    for (const c of outcome.cuts) report.modes[c.mode] = (report.modes[c.mode] ?? 0) + 1;
    const failure = outcome.violations.length === 0 ? null : { case: kase.name, config: kase.config, seed, schedule,
      cuts: outcome.cuts, violations: outcome.violations };
    if (failure !== null) report.failures.push(failure);
    if (options.onRun) options.onRun(outcome, failure);
  };
  const base = await runSubject(kase, options.seed, noCuts);
  record('none', options.seed, base);
  if (base.violations.length > 0) return report;
  const modes = options.modes ?? CUT_MODES;
  const stride = options.stride ?? 1;
  for (let flash = 0; flash < base.ops.length; flash++) {
    for (let op = 0; op < base.ops[flash]; op += stride) {
      for (const mode of modes) {
        const tears = TORN_MODES.includes(mode) ? options.tears ?? ['random'] : ['random'];
        for (const tear of tears) {
          const seed = (options.seed * 7919 + op * 131 + modes.indexOf(mode) * 17 + flash + (tear === 'last' ? 7 : 0)) >>> 0;
          const cut: AimedCut = { flash, op, mode, seed };
          if (tear === 'last') cut.tornAt = LAST;
          record(`single ${describe([cut])}`, seed, await runSubject(kase, seed, () => null, cut));
        }
      }
    }
  }
  if (options.depth2) {
    const d = options.depth2;
    for (let op = 0; op < base.ops[0]; op++) {
      for (let j = 0; j < d.window; j++) {
        const seed = (options.seed * 2246822519 + op * 977 + j) >>> 0;
        const first: AimedCut = { flash: 0, op, mode: d.mode, tornAt: LAST, seed };
        const second = (cuts: number, ops: number[]): AimedCut | null =>
          cuts === 1 ? { flash: 0, op: ops[0] + j, mode: CUT_MODES[j % CUT_MODES.length], seed: seed + 1 } : null;
        record(`depth2 ${describe([first])} then +${j}`, seed, await runSubject(kase, seed, second, first));
      }
    }
  }
  const linear = options.linear ?? 0;
  for (let i = 0; i < linear; i++) {
    const first = Math.floor((i * base.ops[0]) / Math.max(1, linear));
    const seed = (options.seed * 104729 + i) >>> 0;
    record(`linear first=${first}`, seed, await runSubject(kase, seed, linearCuts(0, first, seed, 12)));
  }
  for (let i = 0; i < (options.random ?? 0); i++) {
    const seed = (options.seed * 15485863 + i * 2654435761) >>> 0;
    record(`random seed=${seed}`, seed, await runSubject(kase, seed, randomCuts(base.ops.length, base.ops, seed, 5)));
  }
  return report;
}

/** A replay line for a failure. */
export function replayText(f: SweepFailure): string {
  return `case=${f.case} config=${f.config} seed=${f.seed} schedule="${f.schedule}" cuts=${describe(f.cuts)}\n  ` +
    f.violations.join('\n  ');
}

/** Replays a recorded failure exactly: the same subject seed and the same cuts, in order. */
export function replayCuts(cuts: AimedCut[]): CutSchedule {
  return (n) => (n < cuts.length ? cuts[n] : null);
}

/** Cut modes by name check. */
export function isCutMode(text: string): text is CutMode {
  return (CUT_MODES as string[]).includes(text);
}
