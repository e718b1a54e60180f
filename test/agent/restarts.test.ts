// The agent across reboots and restarts that the application does itself.
import { describe, expect, it } from 'vitest';
import { agentRig } from './agent-rig.js';
import { payloadOf, text } from './fakes.js';

// An application that reboots the device itself (no `reboot` callback): runOnce() ends 'rebooting' and the
// application reboots when it likes. Cycles it runs before that must keep waiting, not report a rollback.
describe('agent without a reboot callback', () => {
  it('keeps answering rebooting until the application reboots, then confirms', async () => {
    const payload = payloadOf(300);
    const r = agentRig(payload);
    r.remake({ reboot: undefined });
    expect((await r.agent.runOnce()).outcome).toBe('rebooting');
    expect((await r.agent.runOnce()).outcome).toBe('rebooting');
    expect((await r.agent.runOnce()).outcome).toBe('rebooting');
    expect(r.events.some((e) => e.type === 'rolled-back')).toBe(false);
    expect((await r.agent.state()).givenUp).toEqual([]);
    // The application reboots: the bootloader starts the trial, and a new agent runs on the same journal.
    r.target.reboot();
    r.remake({ reboot: undefined });
    expect((await r.agent.runOnce()).outcome).toBe('confirmed');
    expect(r.events.filter((e) => e.type === 'rolled-back')).toEqual([]);
  });
});

describe('a halted agent', () => {
  // The halt (403, 400, a configuration the agent cannot work with) stops this agent's polling; a restart with the
  // configuration fixed must poll again rather than read "halted" from the journal forever.
  it('polls again after a restart', async () => {
    const r = agentRig(payloadOf(300));
    const original = r.api.answer;
    r.api.answer = () => text(403, '{"error":{"message":"Invalid project key"}}');
    expect((await r.agent.runOnce()).outcome).toBe('halted');
    r.api.answer = original;
    r.remake();
    r.agent.start();
    for (let i = 0; i < 50 && !r.events.some((e) => e.type === 'update-available'); i++) await new Promise((resolve) => setTimeout(resolve, 5));
    await r.agent.stop();
    expect(r.events.some((e) => e.type === 'update-available')).toBe(true);
  });
});
