import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/util/virtual-clock.js';
import { payloadOf, text } from './fakes.js';
import { agentRig, eventTypes } from './agent-rig.js';

// stop(): it ends the poll wait at once, interrupts the cycle in flight (saying so with a `stopped` event), and a
// later runOnce() runs a normal cycle.

/** Lets promise chains settle (bounded). */
async function settle(done: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !done(); i++) await new Promise((resolve) => setImmediate(resolve));
  expect(done()).toBe(true);
}

describe('agent: stop()', () => {
  it('cancels the poll wait: with a VirtualClock nothing stays pending after stop()', async () => {
    const clock = new VirtualClock(1_700_000_000_000);
    const r = agentRig(payloadOf(10), clock);
    r.api.answer = () => text(204, '', { 'memfault-reason': 'latest' });
    r.agent.start();
    // The first check waits the boot delay.
    await settle(() => clock.pending() === 1);
    await r.agent.stop();
    expect(clock.pending()).toBe(0);
    // And after a check, the wait for the next one too.
    r.agent.start();
    await settle(() => clock.pending() === 1);
    clock.advanceTo(clock.nextWake());
    await settle(() => r.api.calls.length === 1 && clock.pending() === 1);
    await r.agent.stop();
    expect(clock.pending()).toBe(0);
    // Time moving on wakes nothing: polling is off.
    clock.advance(10 * 3_600_000);
    await new Promise((resolve) => setImmediate(resolve));
    expect(r.api.calls.length).toBe(1);
  });

  it('runOnce() after stop() runs a normal cycle (and resumes an interrupted download)', async () => {
    const payload = payloadOf(1000);
    const r = agentRig(payload);
    await r.agent.stop();
    expect((await r.agent.runOnce()).outcome).toBe('rebooting');

    const again = agentRig(payload);
    const fetch = again.cdn.fetch.bind(again.cdn);
    let seen = 0;
    again.cdn.fetch = (req) => fetch({ ...req, data: (c) => { seen += c.length; if (seen >= 450) void again.agent.stop(); return req.data(c); } });
    expect((await again.agent.runOnce()).outcome).toBe('stopped');
    again.cdn.fetch = fetch;
    // The same agent, no reboot: the next cycle resumes where the journal says.
    const resumed = await again.agent.runOnce();
    expect(resumed.outcome).toBe('rebooting');
    expect(again.cdn.requests.length).toBe(2);
    expect(again.cdn.requests[1].offset).toBeGreaterThan(0);
    expect(Buffer.from(again.target.running!.bytes).equals(Buffer.from(payload))).toBe(true);
  });

  it('a download stop() interrupts ends with a stopped event naming the phase and the journaled offset', async () => {
    const r = agentRig(payloadOf(1000));
    const fetch = r.cdn.fetch.bind(r.cdn);
    let seen = 0;
    r.cdn.fetch = (req) => fetch({ ...req, data: (c) => { seen += c.length; if (seen >= 450) void r.agent.stop(); return req.data(c); } });
    expect((await r.agent.runOnce()).outcome).toBe('stopped');
    const types = eventTypes(r.events);
    expect(types.slice(-2)).toEqual(['download-started', 'stopped']);
    const stopped = r.events[r.events.length - 1];
    const journaled = (await r.agent.state()).download!.offset;
    expect(journaled).toBeGreaterThan(0);
    expect(stopped).toMatchObject({ type: 'stopped', phase: 'downloading', offset: journaled });
  });
});

describe('agent: stop() during a trial', () => {
  it('ends the wait for the verdict at once; the trial and its deadline carry over to the next cycle', async () => {
    const clock = new VirtualClock(1_700_000_000_000);
    const r = agentRig(payloadOf(1000), clock);
    let answer: ((ok: boolean) => void) | null = null;
    r.remake({ selfTest: () => new Promise<boolean>((resolve) => { answer = resolve; }) });
    expect((await r.agent.runOnce()).outcome).toBe('rebooting');
    const cycle = r.agent.runOnce();
    await settle(() => answer !== null && clock.pending() === 1);
    const deadline = (await r.agent.state()).trial!.deadline;
    await r.agent.stop();
    expect(await cycle).toMatchObject({ outcome: 'stopped', phase: 'trial' });
    expect(clock.pending()).toBe(0);
    expect(r.events[r.events.length - 1]).toMatchObject({ type: 'stopped', phase: 'trial' });
    // No download to resume: the event names no offset (the journal may still hold the finished download's record).
    const last = r.events[r.events.length - 1];
    expect(last.type === 'stopped' ? last.offset : 'not a stopped event').toBeUndefined();
    expect(r.target.trialRunning).toBe(true);
    // The next cycle waits for the verdict again, against the same deadline, and confirms.
    answer = null;
    const next = r.agent.runOnce();
    await settle(() => answer !== null);
    expect((await r.agent.state()).trial!.deadline).toBe(deadline);
    answer!(true);
    expect((await next).outcome).toBe('confirmed');
    expect(clock.pending()).toBe(0);
  });
});
