import { describe, expect, it } from 'vitest';
import { createAgent } from '../../src/agent/agent.js';
import { backoffDelay, defaultPolicy, makePolicy, parseRetryAfter } from '../../src/agent/policy.js';
import type { Policy } from '../../src/agent/policy.js';
import { isOtaError } from '../../src/util/errors.js';
import { FakeApi, FakeCdn, FakeTarget, InstantClock, makeJournal, payloadOf, text } from './fakes.js';
import { linkOf, Rig } from './rig.js';

const DAY = 24 * 3600 * 1000;

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('Retry-After is held to maxRetryAfterMs', () => {
  it('a delta of centuries or a date in 2100 backs off at most 24 h (delay and journaled notBefore)', async () => {
    for (const value of ['9999999999', 'Fri, 01 Jan 2100 00:00:00 GMT', '99999999999999999999999']) {
      const r = new Rig({}, () => text(503, '', { 'retry-after': value }));
      const result = await r.agent.runOnce();
      expect(result.outcome).toBe('failed');
      const backoff = r.of('backoff')[0];
      expect(backoff.delayMs).toBe(DAY);
      const state = await r.agent.state();
      expect(state.notBefore).toBe(r.clock.now() + DAY);
      // Far below a 32-bit timer's limit: a sleep this long does not wrap around to a hot loop.
      expect(backoff.delayMs!).toBeLessThan(2 ** 31 - 1);
    }
  });

  it('the same cap holds for a CDN that answers 503 with a huge Retry-After', async () => {
    const r = new Rig({ 'fw-1': payloadOf(500) }, (url) => url.includes('current_version=0.0.1') ? text(200, linkOf('fw-1')) : text(204, ''));
    const cdn = r.cdn.cdns['fw-1'];
    cdn.fetch = () => Promise.reject({ code: 'download-server-busy', message: 'busy', retryable: true, details: { status: 503, retryAfter: '9999999999' } });
    await r.agent.runOnce();
    expect(r.of('backoff')[0].delayMs).toBe(DAY);
  });

  it('a shorter Retry-After is honoured; the cap is maxRetryAfterMs, or backoffMaxMs when that is larger', () => {
    const p = defaultPolicy();
    expect(backoffDelay(p, 1, 900_000, () => 0.5)).toBe(900_000);
    expect(backoffDelay(p, 1, parseRetryAfter('9999999999', 0), () => 0.5)).toBe(DAY);
    expect(backoffDelay(makePolicy({ maxRetryAfterMs: 60_000 }), 1, 1e12, () => 0)).toBe(3_600_000);
    expect(backoffDelay(makePolicy({ maxRetryAfterMs: 60_000, backoffMaxMs: 30_000, backoffBaseMs: 1000 }), 1, 1e12, () => 0)).toBe(60_000);
  });
});

describe('makePolicy validates every field', () => {
  const bad: [keyof Policy | 'intervalMS', unknown][] = [
    ['intervalMs', 0], ['intervalMs', -1000], ['intervalMs', NaN], ['intervalMs', Infinity], ['intervalMs', 999], ['intervalMs', '3600000'],
    ['backoffBaseMs', NaN], ['backoffBaseMs', 0], ['backoffMaxMs', -1], ['firstCheckMs', -1], ['firstCheckJitterMs', NaN],
    ['intervalJitter', 1.5], ['intervalJitter', -0.1], ['maxAttemptsPerRelease', 0], ['maxAttemptsPerRelease', 2.5],
    ['retriesPerCycle', -1], ['healthDeadlineMs', 0], ['requestTimeoutMs', NaN], ['progressIntervalMs', -5], ['snapshotBytes', 0],
    ['checkpointBytes', -1], ['maxCheckpoints', NaN], ['maxRetryAfterMs', 0], ['healthDeadlineMs', 1e10], ['useLatestJson', 'yes'],
    ['intervalMS', 1000],
  ];
  for (const [field, value] of bad) {
    it(`refuses ${String(field)} = ${String(value)} naming the field, the value and the range`, () => {
      const error = thrown(() => makePolicy({ [field]: value } as Partial<Policy>));
      expect(isOtaError(error)).toBe(true);
      const e = error as { code: string; message: string; retryable: boolean; details: { field: string; found: unknown } };
      expect(e.code).toBe('policy-invalid');
      expect(e.retryable).toBe(false);
      expect(e.details.field).toBe(field);
      expect(String(e.details.found)).toBe(String(value));
      expect(e.message).toContain(String(field));
      expect(e.message).toContain(String(value));
      if (typeof defaultPolicy()[field as keyof Policy] === 'number') expect(e.message).toMatch(/from -?[\d.]+ to [\d.e+]+/);
    });
  }

  it('accepts the edges of every range and leaves the other fields at their defaults', () => {
    const p = makePolicy({ intervalMs: 1000, intervalJitter: 0, firstCheckMs: 0, firstCheckJitterMs: 0, backoffBaseMs: 1, backoffMaxMs: 1e9,
      retriesPerCycle: 0, progressIntervalMs: 0, checkpointBytes: 0, maxCheckpoints: 0, maxAttemptsPerRelease: 1, useLatestJson: true,
      snapshotBytes: 1, healthDeadlineMs: 1, requestTimeoutMs: 1, maxRetryAfterMs: 1 });
    expect(p.intervalMs).toBe(1000);
    expect(p.backoffMaxMs).toBe(1e9);
    expect(makePolicy({ intervalJitter: 1 }).intervalJitter).toBe(1);
    expect(makePolicy({ useLatestJson: false }).useLatestJson).toBe(false);
    expect(makePolicy({ intervalMs: undefined }).intervalMs).toBe(defaultPolicy().intervalMs);
    expect(makePolicy(undefined)).toEqual(defaultPolicy());
  });

  it('createAgent throws at construction, before polling anything', () => {
    const api = new FakeApi(() => text(204, ''));
    const make = (policy: Partial<Policy>): unknown => thrown(() => createAgent({
      api: { baseUrl: 'https://api.example', projectKey: 'k' }, device: { serial: 'SN1', hardwareVersion: 'evt' }, softwareType: 'main',
      transport: { http: api, fetcher: new FakeCdn(new Uint8Array(1)) }, targets: [new FakeTarget('main', '0.0.1')],
      journal: makeJournal().journal, clock: new InstantClock(), random: () => 0.5, policy,
    }));
    for (const policy of [{ intervalMs: 0 }, { intervalMs: -1000 }, { intervalMs: NaN }, { backoffBaseMs: NaN }]) {
      expect(make(policy)).toMatchObject({ code: 'policy-invalid', details: { field: Object.keys(policy)[0] } });
    }
    expect(api.calls.length).toBe(0);
    expect(make({ intervalMs: 5000 })).toBeUndefined();
  });
});
