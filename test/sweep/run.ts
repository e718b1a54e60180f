import { SCENARIOS, abDeviceCase, geometryMatrix } from './ab-device.js';
import type { SweepFailure, SweepReport } from './engine.js';
import type { CutMode } from '../../hal/sim/faults.js';
import { emptyReport, mergeReport, replayCuts, replayText, runSubject, sweepCase } from './engine.js';

// `npm run sweep` (default size, the one npm test runs) or `npm run sweep -- --full` (the whole geometry matrix and
// more multi-cut schedules). Options: --seed N, --scenario NAME, --geometry SUBSTRING, --replay 'JSON' (a failure's
// replay line). Prints one summary line and one JSON line.

function option(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** The sweep sizes. */
export function sweepPlan(full: boolean): SweepPlan {
  return full ? { linear: 6, random: 12, tears: ['random', 'last'], depth2: { mode: 'torn-unstable', window: 10 } }
    : { linear: 2, random: 3, tears: ['random'], depth2: { mode: 'torn-unstable', window: 6 } };
}

/** Depth-2 runs where torn last units can read valid by luck: small write units (all of them in the full run). */
export function depth2For(full: boolean, writeAlign: number, plan: SweepPlan): SweepPlan['depth2'] {
  return writeAlign <= (full ? 4 : 1) ? plan.depth2 : undefined;
}

/** How much of each kind of schedule a sweep runs per case. */
export interface SweepPlan {
  linear: number;
  random: number;
  tears: ('random' | 'last')[];
  depth2?: { mode: CutMode; window: number };
}

/** Runs the sweep and returns its report (used by the runner and by the vitest wrapper). */
export async function runSweep(full: boolean, seed: number, filter: { scenario?: string; geometry?: string },
  onFailure: (f: SweepFailure) => void): Promise<SweepReport> {
  const report = emptyReport();
  const plan = sweepPlan(full);
  for (const g of geometryMatrix(full)) {
    for (const scenario of SCENARIOS) {
      const kase = abDeviceCase(scenario, g);
      if (filter.scenario && scenario.name !== filter.scenario) continue;
      if (filter.geometry && !kase.config.includes(filter.geometry)) continue;
      mergeReport(report, await sweepCase(kase, { seed, linear: plan.linear, random: plan.random, tears: plan.tears,
        depth2: depth2For(full, g.writeAlign, plan),
        onRun: (_o, f) => { if (f) onFailure(f); } }));
    }
  }
  return report;
}

async function main(): Promise<void> {
  const full = process.argv.includes('--full');
  const seed = Number(option('--seed') ?? 1);
  const replay = option('--replay');
  if (replay !== undefined) {
    const f = JSON.parse(replay) as SweepFailure;
    const g = geometryMatrix(true).find((x) => abDeviceCase(SCENARIOS[0], x).config === f.config);
    const scenario = SCENARIOS.find((s) => s.name === f.case);
    if (!g || !scenario) throw new Error(`unknown case ${f.case} or config ${f.config}`);
    const outcome = await runSubject(abDeviceCase(scenario, g), f.seed, replayCuts(f.cuts));
    console.log(outcome.violations.length === 0 ? 'replay passed' : 'replay failed:\n  ' + outcome.violations.join('\n  '));
    process.exitCode = outcome.violations.length === 0 ? 0 : 1;
    return;
  }
  const started = performance.now();
  const report = await runSweep(full, seed, { scenario: option('--scenario'), geometry: option('--geometry') }, (f) => {
    console.log('FAIL ' + replayText(f));
    console.log('  replay: npm run sweep -- --replay \'' + JSON.stringify({ case: f.case, config: f.config, seed: f.seed, cuts: f.cuts }) + '\'');
  });
  const seconds = (performance.now() - started) / 1000;
  const rate = Math.round(report.cutPoints / seconds);
  const scenarios = new Set(SCENARIOS.map((x) => x.name)).size;
  console.log(`sweep ${full ? 'full' : 'default'}: ${scenarios} scenarios x ${report.scenarios / scenarios} geometries, ${report.runs} runs, ${report.cutPoints} cut points ` +
    `(${Object.entries(report.modes).map(([k, v]) => `${k} ${v}`).join(', ')}), ${report.failures.length} failures, ` +
    `${rate} cut points/s`);
  console.log(JSON.stringify({ scenarios, cutPoints: report.cutPoints, failures: report.failures.length, cases: report.scenarios,
    runs: report.runs, cutPointsPerSecond: rate }));
  process.exitCode = report.failures.length === 0 ? 0 : 1;
}

if (process.argv[1] && process.argv[1].endsWith('run.ts')) await main();
