import { describe, expect, it } from 'vitest';
import { CUT_MODES } from '../../hal/sim/faults.js';
import { SCENARIOS, abDeviceCase, geometryMatrix } from './ab-device.js';
import { emptyReport, mergeReport, replayText, sweepCase } from './engine.js';
import { depth2For, sweepPlan } from './run.js';

// The default-size power-cut sweep of `npm run sweep`, inside npm test: every scenario on one geometry per preset,
// every mutating op x every cut mode, plus linear and random multi-cut schedules. `npm run sweep -- --full` runs the
// whole geometry matrix.

describe('power-cut sweep (default size)', () => {
  const total = emptyReport();
  for (const g of geometryMatrix(false)) {
    for (const scenario of SCENARIOS) {
      const kase = abDeviceCase(scenario, g);
      it(`${scenario.name} on ${kase.config}`, async () => {
        const plan = sweepPlan(false);
        const report = await sweepCase(kase, { seed: 1, linear: plan.linear, random: plan.random, tears: plan.tears,
          depth2: depth2For(false, g.writeAlign, plan) });
        mergeReport(total, report);
        expect(report.failures.map(replayText)).toEqual([]);
        expect(report.cutPoints).toBeGreaterThan(50);
      }, 120_000);
    }
  }

  it('covered every scenario and every cut mode', () => {
    expect(total.scenarios).toBe(SCENARIOS.length * geometryMatrix(false).length);
    for (const mode of CUT_MODES) expect(total.modes[mode] ?? 0).toBeGreaterThan(100);
  });
});

describe('the sweep harness bites', () => {
  it('reports an agent that erases the fallback slot of a pending trial, with what replays it', async () => {
    const kase = abDeviceCase(SCENARIOS[0], geometryMatrix(false)[0], 'erase-fallback');
    const report = await sweepCase(kase, { seed: 1 });
    expect(report.failures.length).toBeGreaterThan(0);
    const text = replayText(report.failures[0]);
    expect(text).toMatch(/hits slot 0, still needed by record seq/);
    expect(text).toMatch(/case=update-confirm config=uniform-4k\/a4\/eff seed=1 schedule="none"/);
  });
});
