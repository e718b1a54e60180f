import { describe, expect, it } from 'vitest';
import type { AgentEvent } from '../../src/agent/events.js';
import { DeviceNarrator } from '../../src/cli/device-narrator.js';

// The narrator's lines for event sequences the agent emits around a resume: from the journal after a restart, after a
// broken transfer in the same run, and a resume the server turned into a restart from byte 0.

const TOTAL = 200_000;
const OFFSET = 118_784;

/** Feeds `events` (times 1 s apart) to a non-TTY narrator and returns its lines without their timestamps. */
/** An event without its time (the narration adds one). */
type Untimed = AgentEvent extends infer E ? E extends AgentEvent ? Omit<E, 'at'> : never : never;

function narrate(events: Untimed[]): string[] {
  const out: string[] = [];
  const narrator = new DeviceNarrator((text) => { out.push(text); }, false, () => null, () => 0);
  events.forEach((event, i) => { narrator.onEvent({ ...event, at: Date.UTC(2026, 0, 1) + i * 1000 } as AgentEvent); });
  narrator.clear();
  return out.join('').split('\n').filter((line) => line !== '').map((line) => line.replace(/^\S+Z /, ''));
}

const progress = (received: number): Untimed => ({ type: 'download-progress', received, total: TOTAL, version: '2.0.0' });
const resumed: Untimed = { type: 'download-resumed', offset: OFFSET, total: TOTAL, version: '2.0.0' };

describe('DeviceNarrator: resumes', () => {
  it('a resume from the journal is told once: where it continues of how much, and that flash was read back first', () => {
    const lines = narrate([{ type: 'state', phase: 'downloading' }, resumed, progress(135_000), progress(160_000), progress(TOTAL),
      { type: 'verified', version: '2.0.0', total: TOTAL }]);
    const told = lines.filter((line) => /resumed/.test(line));
    expect(told).toEqual(['download resumed at byte 118784 of 200000 (116.0 KiB of 195.3 KiB, release 2.0.0) from the journal: the payload already ' +
      'in flash was read back to rebuild its checksum; the rest comes with Range + If-Range']);
    expect(lines.join('\n')).toContain('verified 2.0.0');
  });

  it('a resume after a broken transfer in the same run does not claim a read-back of flash', () => {
    const lines = narrate([{ type: 'download-started', total: TOTAL, version: '2.0.0' }, progress(60_000), resumed, progress(130_000)]);
    const told = lines.filter((line) => /resumed/.test(line));
    expect(told).toEqual(['download resumed at byte 118784 of 200000 (116.0 KiB of 195.3 KiB, release 2.0.0) after the transfer broke off: ' +
      'the rest comes with Range + If-Range']);
  });

  it('a resume that fails before its first byte says where it was to continue, without claiming the check passed', () => {
    const lines = narrate([resumed, { type: 'error', code: 'connection-reset', message: 'The connection was reset.', retryable: true }]);
    expect(lines[0]).toBe('download resumed at byte 118784 of 200000 (116.0 KiB of 195.3 KiB, release 2.0.0) with Range + If-Range');
    expect(lines[1]).toBe('error connection-reset: The connection was reset.');
    expect(lines.join('\n')).not.toMatch(/read back/);
  });
});

describe('DeviceNarrator: a resume the server turned into a restart from byte 0', () => {
  it('bytes from 0 after a Range request are told as the whole payload sent again (changed copy or ignored Range), not as an ignored Range', () => {
    const lines = narrate([resumed, progress(16_384), progress(TOTAL)]);
    expect(lines[0]).toBe('the server sent the whole payload again instead of the range from byte 118784 (its copy changed, or it ignored Range): ' +
      'download restarted from byte 0');
    expect(lines.join('\n')).not.toMatch(/the server ignored the Range request|resumed at/);
  });

  it('a restart before any byte of the range (a new ETag on a 206, a 416) is not told as a resume', () => {
    const lines = narrate([resumed, { type: 'download-started', total: TOTAL, version: '2.0.0' }, progress(50_000)]);
    expect(lines[0]).toBe('the server did not continue the download at byte 118784 (its copy changed, or it refused the range): download restarted from byte 0');
    expect(lines.join('\n')).not.toMatch(/resumed at|^downloading/m);
  });

  it('when the agent says why it restarted (download-started with a reason), the line names that cause', () => {
    const cases: [string, string][] = [
      ['validator-changed', 'the payload changed on the server since the download began (its ETag is new): download restarted from byte 0'],
      ['range-ignored', 'the server ignored the Range request and sent the whole payload: download restarted from byte 0'],
      ['range-not-satisfiable', 'the server refused the range from byte 118784 (416: its copy is not that long): download restarted from byte 0'],
    ];
    for (const [reason, text] of cases) {
      const lines = narrate([resumed, { type: 'download-started', total: TOTAL, version: '2.0.0', reason }, progress(16_384)]);
      expect(lines[0], reason).toBe(text);
      expect(lines.filter((line) => /restarted|resumed/.test(line)), reason).toHaveLength(1);
    }
  });
});
