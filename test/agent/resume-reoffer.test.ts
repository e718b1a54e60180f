import { describe, expect, it } from 'vitest';
import { payloadOf, text } from './fakes.js';
import { linkOf, offering, Rig } from './rig.js';

// A download found in the journal (after a power cut or Ctrl-C, or a stop) is not resumed blindly on its stored
// signed link: the device API is asked first. Withdrawn -> the partial download is dropped; replaced -> the new
// release is taken from byte 0; the same artifact (under a new link) -> resumed with Range.

function rigWith(link: () => string | null): { r: Rig; old: Uint8Array; next: Uint8Array } {
  const old = payloadOf(3000, 1);
  const next = payloadOf(2000, 2);
  const r = new Rig({ 'fw-1': old, 'fw-2': next }, offering(link));
  return { r, old, next };
}

describe('resuming a download after a restart', () => {
  it('a release withdrawn (rollout aborted) while the device was off is dropped, not resumed and installed', async () => {
    let offer: string | null = linkOf('fw-1');
    const { r } = rigWith(() => offer);
    expect(await r.interrupted(1200)).toBe('stopped');
    expect((await r.agent.state()).download!.offset).toBeGreaterThan(0);
    const requests = r.cdn.urls.length;
    offer = null;
    const result = await r.agent.runOnce();
    expect(result.outcome).toBe('up-to-date');
    expect(r.cdn.urls.length).toBe(requests);
    expect(r.events.some((e) => e.type === 'up-to-date' && e.reason === 'release-withdrawn')).toBe(true);
    const state = await r.agent.state();
    expect(state.release).toBeNull();
    expect(state.download).toBeNull();
    expect(r.reboots).toBe(0);
    expect(r.target.stagedState).not.toBe('pending');
    // And it stays dropped.
    expect((await r.agent.runOnce()).outcome).toBe('up-to-date');
    expect(r.cdn.urls.length).toBe(requests);
  });

  it('a release replaced by a newer one while the device was off: the partial download is dropped and the new one installed', async () => {
    let offer = linkOf('fw-1');
    const { r, next } = rigWith(() => offer);
    r.target.expected = next;
    expect(await r.interrupted(1200)).toBe('stopped');
    offer = linkOf('fw-2');
    const result = await r.agent.runOnce();
    expect(result.outcome).toBe('rebooting');
    const after = r.cdn.urls.slice(1);
    expect(after.every((u) => u.includes('/fw-2?'))).toBe(true);
    expect(r.cdn.cdns['fw-2'].requests[0].offset).toBe(0);
    expect(Buffer.from(r.target.running!.bytes).equals(Buffer.from(next))).toBe(true);
  });

  it('the same artifact under a new link resumes with Range after asking the API; wire bytes stay bounded', async () => {
    let offer = linkOf('fw-1');
    const { r, old } = rigWith(() => offer);
    r.target.expected = old;
    expect(await r.interrupted(1200)).toBe('stopped');
    const journaled = (await r.agent.state()).download!.offset;
    const calls = r.api.calls.length;
    offer = linkOf('fw-1', 'SECRET-TOKEN-2');
    expect((await r.agent.runOnce()).outcome).toBe('rebooting');
    expect(r.api.calls.length).toBe(calls + 1);
    const resumed = r.cdn.cdns['fw-1'].requests[1];
    expect(resumed.offset).toBe(journaled);
    expect(r.cdn.urls[1]).toContain('SECRET-TOKEN-2');
    expect(r.cdn.bytesSent()).toBeLessThanOrEqual(old.length + 64 + 100);
    expect(Buffer.from(r.target.running!.bytes).equals(Buffer.from(old))).toBe(true);
  });

  it('stop() then runOnce() in the same process asks too; drops within one cycle resume without asking', async () => {
    let offer: string | null = linkOf('fw-1');
    const { r, old } = rigWith(() => offer);
    r.target.expected = old;
    // Within one cycle: two drops, one API call.
    r.cdn.cdns['fw-1'].drops = [700, 700];
    const fetchOnce = r.cdn.cdns['fw-1'].fetch.bind(r.cdn.cdns['fw-1']);
    let seen = 0;
    r.cdn.cdns['fw-1'].fetch = (req) => fetchOnce({ ...req, data: (c) => { seen += c.length; if (seen >= 1600) void r.agent.stop(); return req.data(c); } });
    expect((await r.agent.runOnce()).outcome).toBe('stopped');
    expect(r.api.calls.length).toBe(1);
    expect(r.cdn.cdns['fw-1'].requests.map((q) => q.offset)).toEqual([0, 700, 1400]);
    r.cdn.cdns['fw-1'].fetch = fetchOnce;
    offer = null;
    // Same agent object, no restart: the journal's download is still asked about.
    expect((await r.agent.runOnce()).outcome).toBe('up-to-date');
    expect(r.api.calls.length).toBe(2);
    expect(r.events.some((e) => e.type === 'up-to-date' && e.reason === 'release-withdrawn')).toBe(true);
    expect((await r.agent.state()).release).toBeNull();
  });

  it('the device API unreachable when resuming: backs off keeping the partial download, then resumes once it answers', async () => {
    let down = false;
    const old = payloadOf(3000, 1);
    const r = new Rig({ 'fw-1': old }, (url) => down ? text(503, '') : offering(() => linkOf('fw-1'))(url));
    r.target.expected = old;
    expect(await r.interrupted(1200)).toBe('stopped');
    const journaled = (await r.agent.state()).download!.offset;
    const requests = r.cdn.urls.length;
    down = true;
    const failed = await r.agent.runOnce();
    expect(failed.outcome).toBe('failed');
    expect(failed.error?.code).toBe('api-unavailable');
    expect(r.cdn.urls.length).toBe(requests);
    const state = await r.agent.state();
    expect(state.phase).toBe('backoff');
    expect(state.download!.offset).toBe(journaled);
    down = false;
    expect((await r.agent.runOnce()).outcome).toBe('rebooting');
    expect(r.cdn.cdns['fw-1'].requests[requests].offset).toBe(journaled);
    expect(Buffer.from(r.target.running!.bytes).equals(Buffer.from(old))).toBe(true);
  });
});
