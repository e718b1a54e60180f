import { describe, expect, it } from 'vitest';
import { createAgent } from '../../src/agent/agent.js';
import type { AgentOptions } from '../../src/agent/agent.js';
import { networkOverHttp } from '../../src/agent/http-adapter.js';
import { HttpClient } from '../../src/http/client.js';
import { otaError } from '../../src/util/errors.js';
import type { OtaError } from '../../src/util/errors.js';
import { FakeTarget, payloadOf } from './fakes.js';
import { agentRig, eventTypes } from './agent-rig.js';

// The driver's own failures: storage that dies mid-cycle, a configuration that cannot work, a confirmation that
// fails. Each failure is reported once and ends in a resting state.

/** What createAgent throws for `options`, or null. */
function thrown(options: AgentOptions): OtaError | null {
  try {
    createAgent(options);
    return null;
  } catch (error) {
    return error as OtaError;
  }
}

describe('agent: a power cut while journaling', () => {
  it('reports one error with its details, and the result names the phase the journal holds', async () => {
    const r = agentRig(payloadOf(1000));
    // A power cut: from the first append after 450 bytes arrived, the journal's flash is dead (every append fails alike).
    const dead = otaError('power-cut', 'Simulated power cut (program operation 9).', false, { op: 9, mode: 'program' });
    const append = r.journal.append.bind(r.journal);
    let seen = 0;
    r.journal.append = (bytes) => (seen >= 450 ? Promise.reject(dead) : append(bytes));
    const fetch = r.cdn.fetch.bind(r.cdn);
    r.cdn.fetch = (req) => fetch({ ...req, data: (c) => { seen += c.length; return req.data(c); } });
    const result = await r.agent.runOnce();
    expect(result.outcome).toBe('failed');
    expect(result.error).toMatchObject({ code: 'power-cut' });
    const errors = r.events.filter((e) => e.type === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: 'power-cut', details: { op: 9, mode: 'program' } });
    // The journal never took the backoff: it still says downloading, and so does the result.
    r.journal.append = append;
    r.remake();
    expect((await r.agent.state()).phase).toBe('downloading');
    expect(result.phase).toBe('downloading');
  });
});

describe('agent: configuration', () => {
  it('createAgent refuses what cannot work, naming the field, and never prints the project key', () => {
    const r = agentRig(payloadOf(10));
    const base = r.options();
    const cases: [Partial<AgentOptions>, string][] = [
      [{ targets: [] }, 'targets'],
      [{ targets: [r.target, r.target] }, 'targets'],
      [{ targets: [r.target, new FakeTarget('main', '1.0.0')] }, 'targets'],
      [{ softwareType: 'other' }, 'softwareType'],
      [{ api: { baseUrl: 'https://api.example', projectKey: '' } }, 'api.projectKey'],
      [{ api: { baseUrl: 'https://api.example' } as AgentOptions['api'] }, 'api.projectKey'],
      [{ api: { baseUrl: 'not a url', projectKey: 'secret-key' } }, 'api.baseUrl'],
      [{ api: { baseUrl: 'ftp://api.example', projectKey: 'secret-key' } }, 'api.baseUrl'],
      [{ api: { baseUrl: '', projectKey: 'secret-key' } }, 'api.baseUrl'],
      [{ api: { baseUrl: 'https://', projectKey: 'secret-key' } }, 'api.baseUrl'],
      [{ device: { serial: '', hardwareVersion: 'evt' } }, 'device.serial'],
      [{ device: { serial: 'SN1', hardwareVersion: '' } }, 'device.hardwareVersion'],
      [{ transport: undefined }, 'transport'],
      [{ journal: undefined }, 'journal'],
      [{ clock: undefined }, 'clock'],
      [{ random: undefined }, 'random'],
    ];
    for (const [change, field] of cases) {
      const error = thrown({ ...base, ...change });
      expect(error, field).toMatchObject({ code: 'agent-config-invalid', retryable: false, details: { field } });
      expect(error!.message).toContain(field);
      expect(error!.message).toMatch(/expected .+\. Fix the agent configuration/);
      expect(error!.message).not.toContain('secret-key');
    }
    expect(thrown({ ...base, api: { baseUrl: 'not a url', projectKey: 'secret-key' } })!.message).toContain('"not a url"');
    // Nothing was sent or journaled for any of them.
    expect(r.api.calls).toEqual([]);
    expect(thrown(undefined as unknown as AgentOptions)).toMatchObject({ code: 'agent-config-invalid', details: { field: 'options' } });
    // A null policy, like an absent one, asks for the defaults.
    expect(thrown({ ...base, policy: null as unknown as AgentOptions['policy'] })).toBeNull();
    expect(thrown(base)).toBeNull();
    expect(thrown({ ...base, api: { baseUrl: 'HTTP://127.0.0.1:8080/base', projectKey: 'k' } })).toBeNull();
  });

  it('a base URL that does not parse at run time halts polling like a 400, instead of backing off forever', async () => {
    const r = agentRig(payloadOf(10));
    const client = new HttpClient({ transport: { connect: () => Promise.reject(new Error('no network in this test')) }, clock: r.clock });
    r.remake({ api: { baseUrl: 'https://api.example:port', projectKey: 'secret-key' }, transport: networkOverHttp(client) });
    const result = await r.agent.runOnce();
    expect(result.outcome).toBe('halted');
    expect(result.error).toMatchObject({ code: 'http-bad-url', retryable: false });
    expect((await r.agent.state()).notBefore).toBe(-1);
    expect(eventTypes(r.events)).not.toContain('backoff');
  });
});

describe('agent: a confirmation that fails', () => {
  it('a transient failure backs off (a resting state) and the next cycle confirms', async () => {
    const r = agentRig(payloadOf(1000));
    expect((await r.agent.runOnce()).outcome).toBe('rebooting');
    const confirm = r.target.confirm.bind(r.target);
    r.target.confirm = () => Promise.reject(otaError('flash-busy', 'the boot record is busy', true));
    const failed = await r.agent.runOnce();
    expect(failed).toMatchObject({ outcome: 'failed', phase: 'backoff', error: { code: 'flash-busy' } });
    expect(r.target.trialRunning).toBe(true);
    expect(r.events.filter((e) => e.type === 'error')).toHaveLength(1);
    r.target.confirm = confirm;
    expect((await r.agent.runOnce()).outcome).toBe('confirmed');
    expect(r.target.trialRunning).toBe(false);
    expect(r.target.running!.version).toBe('1.0.0');
  });

  it('a part that no longer runs the release is not confirmed again and again: the rest is reverted and it rolls back', async () => {
    const r = agentRig(payloadOf(1000));
    expect((await r.agent.runOnce()).outcome).toBe('rebooting');
    // The image runs but answers to another version (as a part that reverted does): confirming cannot succeed.
    const confirm = r.target.confirm.bind(r.target);
    r.target.confirm = () => Promise.reject(otaError('release-not-running', '"main" runs 0.0.1, not 1.0.0', false));
    r.events.length = 0;
    const result = await r.agent.runOnce();
    expect(result.outcome).toBe('rebooting');
    expect(r.events.filter((e) => e.type === 'error').map((e) => e.code)).toEqual(['release-not-running']);
    r.target.confirm = confirm;
    const after = await r.agent.runOnce();
    expect(after.outcome).toBe('rolled-back');
    expect(r.events.find((e) => e.type === 'rolled-back')).toMatchObject({ version: '1.0.0', reason: 'release-not-running' });
    expect(r.target.running!.version).toBe('0.0.1');
  });

  it('a trial deadline that passes reports rolled-back with reason health-deadline', async () => {
    const r = agentRig(payloadOf(1000));
    r.remake({ selfTest: () => new Promise<boolean>(() => undefined) });
    expect((await r.agent.runOnce()).outcome).toBe('rebooting');
    expect((await r.agent.runOnce()).outcome).toBe('rebooting');
    expect((await r.agent.runOnce()).outcome).toBe('rolled-back');
    expect(r.events.find((e) => e.type === 'rolled-back')).toMatchObject({ version: '1.0.0', reason: 'health-deadline' });
    expect(r.events.filter((e) => e.type === 'error').map((e) => e.code)).toEqual(['health-deadline']);
  });
});
