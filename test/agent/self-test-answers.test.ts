import { describe, expect, it } from 'vitest';
import { payloadOf } from './fakes.js';
import { agentRig } from './agent-rig.js';
import type { AgentRig } from './agent-rig.js';

// The application's self-test decides a trial. Only a plain true confirms: JavaScript callers hand over what their
// engine gives them, and a throw, a bare boolean or a value that is not a promise (on Espruino 2v29 a promise whose
// executor kept no reference to resolve is freed and has no then) must neither crash the trial step nor confirm.

async function trialWith(selfTest: () => unknown): Promise<{ r: AgentRig; outcome: string; codes: string[] }> {
  const payload = payloadOf(500);
  const r = agentRig(payload);
  r.target.expected = payload;
  r.selfTest = selfTest as AgentRig['selfTest'];
  expect((await r.agent.runOnce()).outcome).toBe('rebooting');
  const trial = await r.agent.runOnce();
  return { r, outcome: trial.outcome, codes: r.events.flatMap((e) => e.type === 'error' ? [e.code] : []) };
}

describe('the self-test answer', () => {
  it('a plain true (no promise) confirms', async () => {
    const { r, outcome, codes } = await trialWith(() => true);
    expect(outcome).toBe('confirmed');
    expect(codes).toEqual([]);
    expect(r.target.trialRunning).toBe(false);
  });

  it.each([
    ['a plain false', () => false],
    ['a throw', () => { throw new Error('sensor offline'); }],
    ['a rejection', () => Promise.reject(new Error('sensor offline'))],
    ['an object without then (a freed Espruino promise)', () => ({})],
    ['a truthy value that is not true', () => Promise.resolve('yes')],
  ])('%s reverts with self-test-failed', async (_name, selfTest) => {
    const { outcome, codes } = await trialWith(selfTest);
    expect(outcome).toBe('rebooting');
    expect(codes).toEqual(['self-test-failed']);
  });
});
