import { describe, expect, it } from 'vitest';
import { payloadOf, text } from './fakes.js';
import { linkOf, offering, Rig } from './rig.js';

// Reference memfault-api.md §1/§5: a 204 is not always "up to date"; `memfault-reason: rate-limited` means "back off".
// A download found in the journal is re-offered before it resumes; a rate-limited answer then must not be read as
// "the release was withdrawn" (which drops the partial download), only as "ask again later".

describe('204 rate-limited while resuming a journaled download', () => {
  it('backs off keeping the partial download, then resumes from the journaled offset', async () => {
    let limited = false;
    const old = payloadOf(3000, 1);
    const r = new Rig({ 'fw-1': old }, (url) => limited ? text(204, '', { 'memfault-reason': 'rate-limited' }) : offering(() => linkOf('fw-1'))(url));
    r.target.expected = old;
    expect(await r.interrupted(1200)).toBe('stopped');
    const journaled = (await r.agent.state()).download!.offset;
    expect(journaled).toBeGreaterThan(0);
    const requests = r.cdn.urls.length;
    limited = true;
    const failed = await r.agent.runOnce();
    expect(failed.outcome).toBe('failed');
    expect(failed.error?.code).toBe('api-rate-limited');
    expect(r.events.some((e) => e.type === 'up-to-date')).toBe(false);
    const state = await r.agent.state();
    expect(state.phase).toBe('backoff');
    expect(state.release).not.toBeNull();
    expect(state.download!.offset).toBe(journaled);
    expect(r.cdn.urls.length).toBe(requests);
    limited = false;
    expect((await r.agent.runOnce()).outcome).toBe('rebooting');
    expect(r.cdn.cdns['fw-1'].requests[requests].offset).toBe(journaled);
    expect(Buffer.from(r.target.running!.bytes).equals(Buffer.from(old))).toBe(true);
  });
});
