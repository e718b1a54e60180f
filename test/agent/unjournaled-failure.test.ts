import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/util/virtual-clock.js';
import { otaError } from '../../src/util/errors.js';
import { payloadOf } from './fakes.js';
import { agentRig } from './agent-rig.js';

// A failure the agent cannot journal (the journal's flash full or broken, a target whose status() fails before a
// backoff is written) leaves nothing in the journal that schedules the next cycle. Polling must still back off: it
// spun, hundreds of cycles with no time passing (on Espruino, until the interpreter ran out of memory).

/** Lets promise chains settle (bounded). */
async function settle(): Promise<void> {
  for (let i = 0; i < 50; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe('polling after a failure that could not be journaled', () => {
  it('a journal that refuses every append: the cycles back off exponentially instead of running back to back', async () => {
    const clock = new VirtualClock(1_700_000_000_000);
    const r = agentRig(payloadOf(100), clock);
    r.journal.append = () => Promise.reject(otaError('storage-full', 'The journal has no room.', false));
    r.agent.start();
    const checks = (): number => r.events.filter((e) => e.type === 'error' && e.code === 'storage-full').length;
    await settle();
    // The first cycle waits the boot delay, then fails.
    clock.advanceTo(clock.nextWake());
    await settle();
    expect(checks()).toBe(1);
    // No time passed: no second cycle, and one timer (the backoff) waits.
    expect(clock.pending()).toBe(1);
    const gaps: number[] = [];
    for (let i = 0; i < 5; i++) {
      const before = clock.now();
      clock.advanceTo(clock.nextWake());
      await settle();
      gaps.push(clock.now() - before);
      expect(checks()).toBe(2 + i);
    }
    // Exponential with equal jitter (random 0.5): each ceiling doubles up to backoffMaxMs.
    const policy = r.agent.policy();
    for (let i = 0; i < gaps.length; i++) {
      const ceiling = Math.min(policy.backoffMaxMs, policy.backoffBaseMs * 2 ** i);
      expect(gaps[i]).toBe(Math.floor(ceiling * 0.75));
    }
    await r.agent.stop();
    expect(clock.pending()).toBe(0);
  });

  it('a target whose status() fails after a good cycle: the next cycles back off too', async () => {
    const clock = new VirtualClock(1_700_000_000_000);
    const r = agentRig(payloadOf(100), clock);
    r.target.status = () => Promise.reject(otaError('flash-read-error', 'The slot cannot be read.', true));
    r.agent.start();
    await settle();
    clock.advanceTo(clock.nextWake());
    await settle();
    const failures = (): number => r.events.filter((e) => e.type === 'error').length;
    const first = failures();
    expect(first).toBeGreaterThanOrEqual(1);
    await settle();
    expect(failures()).toBe(first);
    expect(clock.pending()).toBe(1);
    await r.agent.stop();
  });
});
