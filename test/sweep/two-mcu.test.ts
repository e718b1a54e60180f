import { describe, expect, it } from 'vitest';
import { replayText, runSubject, sweepCase, noCuts } from './engine.js';
import { twoMcuCase } from '../wifi/two-mcu-subject.js';
import type { TwoMcuSpec } from '../wifi/two-mcu-subject.js';

// The power-cut sweep over a two-part bundle across both MCUs (main + WiFi co-processor). Default: every mutating
// flash operation of both parts x every cut mode, plus a few multi-cut schedules. OTA_SWEEP_FULL=1 (or the sweep
// runner's --full) adds larger images, a faulty link and more multi-cut schedules.

const FULL = process.env.OTA_SWEEP_FULL === '1' || process.argv.includes('--full');
const SEED = Number(process.env.OTA_SWEEP_SEED ?? 1);

const SPECS: TwoMcuSpec[] = FULL
  ? [
    { sizes: { main: 5000, wifi: 3000 }, chunk: 1024 },
    { sizes: { main: 13000, wifi: 9000 }, sectorsPerSlot: 4, chunk: 700 },
    { sizes: { main: 5000, wifi: 3000 }, chunk: 333, linkFaults: { bitErrorRate: 1e-5, dropRate: 0.05 } },
  ]
  : [{ sizes: { main: 5000, wifi: 3000 }, chunk: 1024 }];

describe('two-MCU power-cut sweep', () => {
  it('a fault-free run installs the new pair', async () => {
    const outcome = await runSubject(twoMcuCase(SPECS[0]), SEED, noCuts);
    expect(outcome.violations).toEqual([]);
    expect(outcome.ops[0]).toBeGreaterThan(10);
    expect(outcome.ops[1]).toBeGreaterThan(10);
  });

  for (const spec of SPECS) {
    it(`every cut keeps a bootable, compatible (main, wifi) pair: ${twoMcuCase(spec).config}`, async () => {
      const report = await sweepCase(twoMcuCase(spec), { seed: SEED, linear: FULL ? 6 : 2, random: FULL ? 12 : 4 });
      const failures = report.failures.map(replayText);
      expect(failures, failures.join('\n')).toEqual([]);
      expect(report.cutPoints).toBeGreaterThan(100);
      console.log(`two-mcu sweep (${twoMcuCase(spec).config}): ${report.runs} runs, ${report.cutPoints} cut points, ` +
        `modes ${JSON.stringify(report.modes)}`);
    }, 600_000);
  }
});
