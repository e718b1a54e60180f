import { describe, expect, it } from 'vitest';
import { payloadOf, text } from './fakes.js';
import { linkOf, offering, Rig } from './rig.js';

// maxAttemptsPerRelease counts attempts that made no progress: interruptions that each moved the durable offset on
// (Ctrl-C, power cuts) never use a release up; failures without progress, or a payload that is downloaded whole again
// and again (a bad MD5), still do.

describe('release attempts', () => {
  it('twelve interrupted attempts that each made progress do not exhaust the release; the download completes', async () => {
    const payload = payloadOf(4000);
    const r = new Rig({ 'fw-1': payload }, offering(() => linkOf('fw-1')));
    r.target.expected = payload;
    const offsets: number[] = [];
    for (let i = 0; i < 12; i++) {
      expect(await r.interrupted(250)).toBe('stopped');
      const state = await r.agent.state();
      expect(state.release).not.toBeNull();
      offsets.push(state.download!.offset);
    }
    // Each interruption moved the journaled durable offset on.
    for (let i = 1; i < offsets.length; i++) expect(offsets[i]).toBeGreaterThan(offsets[i - 1]);
    expect(offsets[offsets.length - 1]).toBeLessThan(payload.length);
    const result = await r.agent.runOnce();
    expect(r.events.some((e) => e.type === 'error' && e.code === 'release-attempts-exhausted')).toBe(false);
    expect(result.outcome).toBe('rebooting');
    expect(Buffer.from(r.target.running!.bytes).equals(Buffer.from(payload))).toBe(true);
    expect((await r.agent.state()).givenUp).toEqual([]);
  });

  it('attempts without progress still run out, and the error names the version and software type, not the link', async () => {
    const payload = payloadOf(1000);
    // A listed MD5 the bytes never match: every cycle downloads the whole payload and fails its check.
    const json = JSON.stringify({ version: '2.0.0', artifacts: [{ url: linkOf('fw-1'), file_size: 1000, md5: '0'.repeat(32) }] });
    const r = new Rig({ 'fw-1': payload }, (url) => url.includes('current_version=0.0.1') ? text(200, json) : text(204, ''),
      { policy: { useLatestJson: true, maxAttemptsPerRelease: 3 }, rawFormat: null });
    for (let i = 0; i < 4; i++) expect((await r.agent.runOnce()).outcome).toBe('failed');
    await r.agent.runOnce();
    const exhausted = r.of('error').find((e) => e.code === 'release-attempts-exhausted');
    expect(exhausted).toBeDefined();
    expect(exhausted!.message).toContain('2.0.0');
    expect(exhausted!.message).toContain('"main"');
    expect(exhausted!.details).toEqual({ attempts: 3 });
    expect(exhausted!.message).not.toContain('/a/b/fw-1');
    expect(exhausted!.message).not.toContain('md5:');
    expect((await r.agent.runOnce()).outcome).toBe('up-to-date');
    expect(r.events.some((e) => e.type === 'up-to-date' && e.reason === 'release-rejected-before')).toBe(true);
  });

  it('a payload downloaded whole again and again (its MD5 never matches) still uses the release up', async () => {
    const payload = payloadOf(640);
    const json = JSON.stringify({ version: '2.0.0', artifacts: [{ url: linkOf('fw-1'), file_size: 640, md5: '0'.repeat(32) }] });
    const r = new Rig({ 'fw-1': payload }, (url) => url.includes('current_version=0.0.1') ? text(200, json) : text(204, ''),
      { policy: { useLatestJson: true, maxAttemptsPerRelease: 3 }, rawFormat: null });
    const codes: string[] = [];
    for (let i = 0; i < 6; i++) {
      const result = await r.agent.runOnce();
      if (result.error !== null) codes.push(result.error.code);
    }
    // The first download reached new ground (it does not count); the next three did not: then the cap.
    expect(codes.filter((c) => c === 'md5-mismatch').length).toBe(4);
    expect(r.events.some((e) => e.type === 'error' && e.code === 'release-attempts-exhausted')).toBe(true);
    expect(r.cdn.cdns['fw-1'].requests.length).toBe(4);
  });
});
