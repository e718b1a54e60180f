import { createHash } from 'node:crypto';
import { VirtualClock } from '../../src/util/virtual-clock.js';
import { describe, expect, it } from 'vitest';
import { createAgent } from '../../src/agent/agent.js';
import type { AgentEvent } from '../../src/agent/events.js';
import { InstantClock, payloadOf, text } from './fakes.js';
import type { ApiResponse } from '../../src/api/http-port.js';
import { agentRig, URL_OK } from './agent-rig.js';

type Rig = ReturnType<typeof agentRig<InstantClock>>;

function rig(payload: Uint8Array, answer?: (url: string) => ApiResponse,
  opts: { latestJson?: boolean; sector?: number; allowUnsigned?: boolean; checkpointBytes?: number; maxCheckpoints?: number } = {}): Rig {
  const r = agentRig(payload, new InstantClock(), { answer, sector: opts.sector });
  // Tests set target.expected themselves where they check the staged bytes.
  r.target.expected = null;
  r.remake({
    policy: { useLatestJson: opts.latestJson ?? false, snapshotBytes: 64, checkpointBytes: opts.checkpointBytes ?? 0,
      maxCheckpoints: opts.maxCheckpoints, progressIntervalMs: 0 },
    // These tests exercise the raw-image path, which is an explicit opt-in (see the trust tests below).
    allowUnsigned: opts.allowUnsigned ?? true,
  });
  return r;
}

/** The release was given up: the next check answers release-rejected-before and fetches nothing. */
async function expectRejectedBefore(r: Rig): Promise<void> {
  const requests = r.cdn.requests.length;
  expect((await r.agent.runOnce()).outcome).toBe('up-to-date');
  expect(r.cdn.requests.length).toBe(requests);
  expect(r.events.some((e) => e.type === 'up-to-date' && e.reason === 'release-rejected-before')).toBe(true);
}

function types(events: AgentEvent[]): string[] {
  return events.filter((e) => e.type !== 'state' && e.type !== 'download-progress').map((e) => e.type);
}

describe('agent: check classification', () => {
  it('204 latest is up to date and sends current_version from the running slot', async () => {
    const r = rig(payloadOf(10), () => text(204, '', { 'memfault-reason': 'latest' }));
    const result = await r.agent.runOnce();
    expect(result.outcome).toBe('up-to-date');
    expect(r.api.calls[0]).toContain('/api/v0/releases/latest/url?device_serial=SN1&hardware_version=evt&software_type=main&current_version=0.0.1');
    expect(types(r.events)).toEqual(['checking', 'up-to-date']);
  });

  it('204 rate-limited is a transient failure with backoff, not up to date', async () => {
    const r = rig(payloadOf(10), () => text(204, '', { 'memfault-reason': 'rate-limited' }));
    const result = await r.agent.runOnce();
    expect(result.outcome).toBe('failed');
    expect(result.error).toMatchObject({ code: 'api-rate-limited', retryable: true });
    expect(types(r.events)).toContain('backoff');
    expect(types(r.events)).not.toContain('up-to-date');
  });

  it('400 stops polling and names the field; 403 names the project key without printing it', async () => {
    const bad = rig(payloadOf(10), () => text(400, '{"error":{"message":"unknown hardware_version","type":"InvalidUsageError"}}'));
    const r1 = await bad.agent.runOnce();
    expect(r1.outcome).toBe('halted');
    expect(r1.error).toMatchObject({ code: 'api-bad-request', details: { field: 'hardware_version' } });
    expect(r1.error!.message).toContain('hardware_version');
    const forbidden = rig(payloadOf(10), () => text(403, '{"error":{"message":"bad key"}}'));
    const r2 = await forbidden.agent.runOnce();
    expect(r2.outcome).toBe('halted');
    expect(r2.error!.message).toContain('projectKey');
    expect(JSON.stringify(forbidden.events)).not.toContain('secret-key');
    expect((await forbidden.agent.state()).notBefore).toBe(-1);
  });

  it('503 with Retry-After backs off at least that long; 429 too', async () => {
    for (const status of [503, 429]) {
      const r = rig(payloadOf(10), () => text(status, '', { 'retry-after': '900' }));
      await r.agent.runOnce();
      const backoff = r.events.find((e) => e.type === 'backoff')!;
      expect(backoff.delayMs).toBeGreaterThanOrEqual(900_000);
      expect((await r.agent.state()).notBefore).toBeGreaterThanOrEqual(r.clock.now() + 900_000);
    }
  });

  it('a 3xx or an empty 200 on the check is an error', async () => {
    const redirect = rig(payloadOf(10), () => text(302, '', { location: 'https://elsewhere/' }));
    expect((await redirect.agent.runOnce()).error).toMatchObject({ code: 'api-redirect' });
    const empty = rig(payloadOf(10), () => text(200, '  \n'));
    expect((await empty.agent.runOnce()).error).toMatchObject({ code: 'api-empty-answer' });
  });

  it('/latest JSON: file_size and md5 are checked; a bad md5 activates nothing and the next cycle downloads again', async () => {
    const payload = payloadOf(1000);
    const md5 = createHash('md5').update(payload).digest('hex');
    let advertised = '0'.repeat(32);
    const json = () => JSON.stringify({ version: '1.0.0', artifacts: [{ url: URL_OK, file_size: 1000, md5: advertised }] });
    const r = rig(payload, (url) => url.includes('current_version=0.0.1') ? text(200, json()) : text(204, '', { 'memfault-reason': 'latest' }), { latestJson: true });
    const first = await r.agent.runOnce();
    expect(r.api.calls[0]).toContain('/api/v0/releases/latest?');
    expect(first.outcome).toBe('failed');
    expect(first.error!.code).toBe('md5-mismatch');
    expect(r.target.stagedState).toBe('writing');
    expect(r.reboots).toBe(0);
    advertised = md5;
    const second = await r.agent.runOnce();
    expect(second.outcome).toBe('rebooting');
    expect(r.cdn.requests.map((q) => q.offset)).toEqual([0, 0]);
    expect(r.target.running!.version).toBe('1.0.0');
  });
});

describe('agent: the whole update', () => {
  it('cancels the health-deadline timer once the self-test answers, so nothing keeps the process alive', async () => {
    const payload = payloadOf(1000);
    const r = rig(payload);
    r.target.expected = payload;
    expect((await r.agent.runOnce()).outcome).toBe('rebooting');
    // The trial cycle on virtual time: a deadline left as a plain sleep would stay pending here forever.
    const clock = new VirtualClock(r.clock.now());
    (r as { clock: unknown }).clock = clock;
    r.remake();
    expect((await r.agent.runOnce()).outcome).toBe('confirmed');
    expect(clock.pending()).toBe(0);
  });

  it('downloads, verifies, stages, reboots into the trial, confirms; then 204 latest', async () => {
    const payload = payloadOf(1000);
    const r = rig(payload, (url) => url.includes('current_version=0.0.1') ? text(200, URL_OK) : text(204, '', { 'memfault-reason': 'latest' }));
    r.target.expected = payload;
    const first = await r.agent.runOnce();
    expect(first.outcome).toBe('rebooting');
    expect(types(r.events)).toEqual(['checking', 'update-available', 'download-started', 'verified', 'staged', 'rebooting']);
    expect(r.reboots).toBe(1);
    expect(r.target.trialRunning).toBe(true);
    expect(Buffer.from(r.target.running!.bytes).equals(Buffer.from(payload))).toBe(true);
    r.events.length = 0;
    const second = await r.agent.runOnce();
    expect(second.outcome).toBe('confirmed');
    expect(types(r.events)).toEqual(['trial-started', 'confirmed']);
    expect(r.target.trialRunning).toBe(false);
    // The raw image via /url carries no version; the rig's header reader says 1.0.0 and the API answers 204 below.
    r.events.length = 0;
    r.api.answer = () => text(204, '', { 'memfault-reason': 'latest' });
    expect((await r.agent.runOnce()).outcome).toBe('up-to-date');
  });

  it('a dropped connection resumes in the same cycle with Range from the byte it stopped at', async () => {
    const payload = payloadOf(1000);
    const r = rig(payload);
    r.target.expected = payload;
    r.cdn.drops = [333, 250];
    const result = await r.agent.runOnce();
    expect(result.outcome).toBe('rebooting');
    expect(r.cdn.requests.map((q) => q.offset)).toEqual([0, 333, 583]);
    expect(r.cdn.requests[1].validator).toBe('"v1"');
    expect(r.cdn.bytesSent).toBe(1000);
    expect(r.events.filter((e) => e.type === 'download-resumed').map((e) => e.offset)).toEqual([333, 583]);
  });

  it('a power loss mid-download resumes from the journal at the durable sector, re-reading at most a sector', async () => {
    const payload = payloadOf(1000);
    const r = rig(payload);
    r.target.expected = payload;
    // Stop after ~450 bytes: the agent stops at the next chunk; the RAM side is then thrown away (power loss).
    const origData = r.cdn.fetch.bind(r.cdn);
    let seen = 0;
    r.cdn.fetch = (req) => origData({ ...req, data: (c) => { seen += c.length; if (seen >= 450) void r.agent.stop(); return req.data(c); } });
    const first = await r.agent.runOnce();
    expect(first.outcome).toBe('stopped');
    r.cdn.fetch = origData;
    const state = await r.agent.state();
    expect(state.phase).toBe('downloading');
    expect(state.download!.offset % 64).toBe(0);
    expect(state.download!.offset).toBeGreaterThan(0);
    r.remake();
    const second = await r.agent.runOnce();
    expect(second.outcome).toBe('rebooting');
    expect(r.cdn.requests[1].offset).toBe(state.download!.hashOffset);
    expect(r.cdn.bytesSent).toBeLessThanOrEqual(1000 + 64);
    expect(Buffer.from(r.target.running!.bytes).equals(Buffer.from(payload))).toBe(true);
  });

  it('journals progress every checkpointBytes, not every sector; a power loss re-reads at most that much plus a sector', async () => {
    const payload = payloadOf(2000);
    const r = rig(payload, undefined, { checkpointBytes: 256 });
    r.target.expected = payload;
    const appends = (): number => r.journal.stats().appends;
    const origData = r.cdn.fetch.bind(r.cdn);
    let seen = 0;
    const offsets: number[] = [];
    r.cdn.fetch = (req) => origData({ ...req, data: (c) => {
      seen += c.length;
      if (seen >= 1500) void r.agent.stop();
      return req.data(c).then(() => { void r.agent.state().then((s) => { if (s.download !== null) offsets.push(s.download.offset); }); });
    } });
    const before = appends();
    expect((await r.agent.runOnce()).outcome).toBe('stopped');
    r.cdn.fetch = origData;
    const state = await r.agent.state();
    // 64-byte sectors, so about 23 durable steps; a checkpoint only once 256 more bytes of them are durable.
    const checkpoints = [...new Set(offsets)];
    expect(checkpoints.length).toBeGreaterThanOrEqual(4);
    for (let i = 1; i < checkpoints.length; i++) expect(checkpoints[i] - checkpoints[i - 1]).toBeGreaterThanOrEqual(256);
    for (const offset of checkpoints) expect(offset % 64).toBe(0);
    expect(state.download!.offset).toBe(checkpoints[checkpoints.length - 1]);
    expect(state.download!.offset).toBeGreaterThanOrEqual(1500 - 256 - 64);
    expect(appends() - before).toBeLessThanOrEqual(Math.ceil(1500 / 256) + 4);
    r.remake();
    expect((await r.agent.runOnce()).outcome).toBe('rebooting');
    expect(r.cdn.requests[1].offset).toBe(state.download!.offset);
    expect(r.cdn.bytesSent).toBeLessThanOrEqual(2000 + (seen - state.download!.offset));
    expect(Buffer.from(r.target.running!.bytes).equals(Buffer.from(payload))).toBe(true);
  });

  it('stop() journals the durable offset it reached, not the last spaced checkpoint', async () => {
    const payload = payloadOf(4000);
    const r = rig(payload, undefined, { checkpointBytes: 1024 });
    r.target.expected = payload;
    const origData = r.cdn.fetch.bind(r.cdn);
    let seen = 0;
    r.cdn.fetch = (req) => origData({ ...req, data: (c) => {
      seen += c.length;
      if (seen >= 2900) void r.agent.stop();
      return req.data(c);
    } });
    expect((await r.agent.runOnce()).outcome).toBe('stopped');
    r.cdn.fetch = origData;
    const offset = (await r.agent.state()).download!.offset;
    // The last spaced checkpoint was up to 1 KiB back; the stop adds one at the last whole 64-byte sector received.
    expect(offset % 64).toBe(0);
    expect(offset).toBeGreaterThan(seen - 2 * 64);
    r.remake();
    expect((await r.agent.runOnce()).outcome).toBe('rebooting');
    expect(r.cdn.requests[1].offset).toBe(offset);
    expect(Buffer.from(r.target.running!.bytes).equals(Buffer.from(payload))).toBe(true);
  });

  it('spreads checkpoints to about maxCheckpoints per payload on a large one (bounded journal wear per update)', async () => {
    const payload = payloadOf(8000);
    const r = rig(payload, undefined, { checkpointBytes: 64, maxCheckpoints: 10 });
    r.target.expected = payload;
    const offsets: number[] = [];
    const origData = r.cdn.fetch.bind(r.cdn);
    r.cdn.fetch = (req) => origData({ ...req, data: (c) => req.data(c).then(() => {
      void r.agent.state().then((s) => { if (s.download !== null) offsets.push(s.download.offset); });
    }) });
    expect((await r.agent.runOnce()).outcome).toBe('rebooting');
    const checkpoints = [...new Set(offsets)].filter((o) => o > 0 && o < payload.length);
    // 125 sectors of 64 bytes; spaced by 8000 / 10 = 800 bytes instead of every sector.
    expect(checkpoints.length).toBeGreaterThanOrEqual(8);
    expect(checkpoints.length).toBeLessThanOrEqual(10);
    for (let i = 1; i < checkpoints.length; i++) expect(checkpoints[i] - checkpoints[i - 1]).toBeGreaterThanOrEqual(800);
    expect(Buffer.from(r.target.running!.bytes).equals(Buffer.from(payload))).toBe(true);
  });

  it('a server that ignores Range restarts from zero once and completes', async () => {
    const payload = payloadOf(1000);
    const r = rig(payload);
    r.target.expected = payload;
    r.cdn.drops = [500];
    r.cdn.ignoreRange = true;
    expect((await r.agent.runOnce()).outcome).toBe('rebooting');
    expect(r.cdn.requests.map((q) => q.offset)).toEqual([0, 500]);
    expect(Buffer.from(r.target.running!.bytes).equals(Buffer.from(payload))).toBe(true);
  });

  it('a changed ETag (If-Range mismatch) restarts from zero; a 416 on resume restarts once and does not loop', async () => {
    const payload = payloadOf(1000);
    const r = rig(payload);
    r.target.expected = payload;
    r.cdn.drops = [500];
    const orig = r.cdn.fetch.bind(r.cdn);
    r.cdn.fetch = (req) => { if (r.cdn.requests.length === 1) r.cdn.etag = '"v2"'; return orig(req); };
    expect((await r.agent.runOnce()).outcome).toBe('rebooting');
    expect(r.cdn.requests.map((q) => q.offset)).toEqual([0, 500]);
    expect(r.cdn.requests[1].validator).toBe('"v1"');

    const p2 = payloadOf(700, 9);
    const r2 = rig(p2);
    r2.target.expected = p2;
    r2.cdn.drops = [300];
    r2.cdn.statuses = [0, 416].map((s) => s) as number[];
    r2.cdn.statuses = [];
    const orig2 = r2.cdn.fetch.bind(r2.cdn);
    let n = 0;
    r2.cdn.fetch = (req) => { n++; if (n === 2) r2.cdn.statuses = [416]; return orig2(req); };
    expect((await r2.agent.runOnce()).outcome).toBe('rebooting');
    expect(r2.cdn.requests.map((q) => q.offset)).toEqual([0, 300, 0]);

    const r3 = rig(p2);
    r3.cdn.drops = [300, 40];
    const orig3 = r3.cdn.fetch.bind(r3.cdn);
    r3.cdn.fetch = (req) => { if (req.offset > 0) r3.cdn.statuses = [416]; return orig3(req); };
    const looped = await r3.agent.runOnce();
    expect(looped.outcome).toBe('failed');
    expect(looped.error!.code).toBe('download-restart-loop');
    expect(r3.cdn.requests.length).toBeLessThanOrEqual(4);
  });

  it('an expired or refused CDN link is re-queried and the download continues', async () => {
    const payload = payloadOf(1000);
    const r = rig(payload);
    r.target.expected = payload;
    r.cdn.drops = [400];
    const orig = r.cdn.fetch.bind(r.cdn);
    r.cdn.fetch = (req) => { if (r.cdn.requests.length === 1) r.cdn.statuses = [403]; return orig(req); };
    expect((await r.agent.runOnce()).outcome).toBe('rebooting');
    expect(r.api.calls.length).toBe(2);
    expect(r.cdn.requests.map((q) => q.offset)).toEqual([0, 400, 400]);

    const expired = rig(payload, (url) => url.includes('current_version=0.0.1')
      ? text(200, 'https://cdn.example/a/b/fw-1?token=t&expires=' + Math.floor(1_700_000_000 + 30)) : text(204, ''));
    expired.target.expected = payload;
    await expired.agent.runOnce();
    // Expires within the refresh margin: asked again before the download.
    expect(expired.api.calls.length).toBe(2);
  });

  it('a withdrawn release (rollout aborted) drops the partial download', async () => {
    const payload = payloadOf(1000);
    let offered = true;
    const r = rig(payload, () => offered ? text(200, URL_OK) : text(204, '', { 'memfault-reason': 'latest' }));
    r.cdn.drops = [300];
    const orig = r.cdn.fetch.bind(r.cdn);
    r.cdn.fetch = (req) => { if (r.cdn.requests.length === 1) { r.cdn.statuses = [410]; offered = false; } return orig(req); };
    const result = await r.agent.runOnce();
    expect(result.outcome).toBe('up-to-date');
    expect(r.events.some((e) => e.type === 'up-to-date' && e.reason === 'release-withdrawn')).toBe(true);
    expect((await r.agent.state()).release).toBeNull();
  });

  it('a failing self-test reverts; a trial that never confirms reverts at the health deadline', async () => {
    for (const mode of ['fails', 'silent'] as const) {
      const payload = payloadOf(500);
      const r = rig(payload);
      r.target.expected = payload;
      r.selfTest = mode === 'fails' ? () => Promise.resolve(false) : () => new Promise<boolean>(() => undefined);
      expect((await r.agent.runOnce()).outcome).toBe('rebooting');
      const start = r.clock.now();
      const trial = await r.agent.runOnce();
      expect(trial.outcome).toBe('rebooting');
      expect(r.events.some((e) => e.type === 'error' && e.code === (mode === 'fails' ? 'self-test-failed' : 'health-deadline'))).toBe(true);
      if (mode === 'silent') expect(r.clock.now() - start).toBeGreaterThanOrEqual(300_000);
      const after = await r.agent.runOnce();
      expect(after.outcome).toBe('rolled-back');
      expect(r.target.running!.version).toBe('0.0.1');
      // The rejected release is not installed again.
      const again = await r.agent.runOnce();
      expect(again.outcome).toBe('up-to-date');
      expect(r.reboots).toBe(2);
    }
  });

  it('refuses to download while the running image is an unconfirmed trial: it settles the trial first', async () => {
    const r = rig(payloadOf(100));
    r.target.trialRunning = true;
    r.selfTest = () => Promise.resolve(true);
    const result = await r.agent.runOnce();
    expect(result.outcome).toBe('confirmed');
    // A trial the journal never recorded is reported under the version that runs, not as version null.
    expect(r.events.find((e) => e.type === 'confirmed')?.version).toBe(r.target.running?.version);
    expect(r.target.running?.version).toMatch(/\d/);
    expect(r.cdn.requests.length).toBe(0);
    expect(r.api.calls.length).toBe(0);
  });

  it('gives up at once on a raw image larger than its slot: nothing is written and it is not fetched again', async () => {
    const r = rig(payloadOf((1 << 20) + 64));
    const first = await r.agent.runOnce();
    expect(first.outcome).toBe('failed');
    expect(first.error?.code).toBe('image-too-large');
    expect(r.target.writes).toBe(0);
    await expectRejectedBefore(r);
  });

  it('a link the CDN refuses (404) is asked for again within the same download: one download-started', async () => {
    const payload = payloadOf(1000);
    const r = rig(payload);
    r.target.expected = payload;
    r.cdn.statuses = [404];
    let outcome = '';
    for (let i = 0; i < 3 && outcome !== 'confirmed'; i++) outcome = (await r.agent.runOnce()).outcome;
    expect(outcome).toBe('confirmed');
    expect(r.api.calls.length).toBeGreaterThanOrEqual(2);
    expect(r.events.filter((e) => e.type === 'download-started').length).toBe(1);
  });

  // An outage says nothing about the release: cycles that receive no payload byte give their attempt back, so a CDN
  // down for longer than the attempt cap does not strand the fleet on the old firmware.
  it('a CDN that answers 500 for longer than the attempt cap does not use the release up', async () => {
    const payload = payloadOf(1000);
    const r = rig(payload);
    r.target.expected = payload;
    r.cdn.statuses = Array(15).fill(500);
    for (let i = 0; i < 15; i++) expect((await r.agent.runOnce()).outcome).toBe('failed');
    expect(r.events.some((e) => e.type === 'error' && e.code === 'release-attempts-exhausted')).toBe(false);
    let outcome = '';
    for (let i = 0; i < 3 && outcome !== 'confirmed'; i++) outcome = (await r.agent.runOnce()).outcome;
    expect(outcome).toBe('confirmed');
  });

  it('start() polls after the first-check delay and stop() leaves a resumable state', async () => {
    const r = rig(payloadOf(10), () => text(204, '', { 'memfault-reason': 'latest' }));
    const t0 = r.clock.now();
    r.agent.start();
    await new Promise((resolve) => setTimeout(resolve, 20));
    await r.agent.stop();
    expect(r.api.calls.length).toBeGreaterThan(1);
    expect(r.clock.now() - t0).toBeGreaterThanOrEqual(60_000 + 30_000);
    const state = await r.agent.state();
    expect(state.phase).toBe('idle');
  });
});

describe('agent: trust policy for raw images', () => {
  it('refuses a raw (unsigned) image by default, writing nothing; accepts it only with allowUnsigned: true', async () => {
    const payload = payloadOf(1000);
    const strict = rig(payload, undefined, { allowUnsigned: false });
    const strictRemake = strict.remake;
    // The default (allowUnsigned omitted) is the secure one.
    strict.remake = () => {
      strictRemake();
      strict.agent = createAgent({
        api: { baseUrl: 'https://api.example', projectKey: 'secret-key' }, device: { serial: 'SN1', hardwareVersion: 'evt' },
        softwareType: 'main', transport: { http: strict.api, fetcher: strict.cdn }, targets: [strict.target], journal: strict.journal,
        clock: strict.clock, random: () => 0.5, policy: { snapshotBytes: 64, progressIntervalMs: 0 }, onEvent: (e) => strict.events.push(e),
      });
    };
    strict.remake();
    const refused = await strict.agent.runOnce();
    expect(refused.outcome).toBe('failed');
    expect(refused.error?.code).toBe('unsigned-payload-refused');
    expect(strict.target.writes).toBe(0);
    expect(strict.target.stagedState).toBe('empty');
    expect(strict.target.running?.version).toBe('0.0.1');
    expect(strict.events.some((e) => e.type === 'staged')).toBe(false);
    const state = await strict.agent.state();
    expect(state.download).toBeNull();
    // A refusal of the payload itself is final for that artifact: the next check neither downloads nor counts attempts.
    expect(state.givenUp.length).toBe(1);
    await expectRejectedBefore(strict);

    const open = rig(payload, undefined, { allowUnsigned: true });
    expect((await open.agent.runOnce()).outcome).toBe('rebooting');
    expect((await open.agent.runOnce()).outcome).toBe('confirmed');
    expect(open.target.writes).toBeGreaterThan(0);
    expect(open.target.running?.version).not.toBe('0.0.1');
  });
});
