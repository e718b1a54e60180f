import { describe, expect, it } from 'vitest';
import { describeEvent, formatEta } from '../../src/cli/progress.js';

describe('progress text', () => {
  it('formats waits of hours in hours, shorter ones in minutes and seconds', () => {
    expect(formatEta(42)).toBe('42s');
    expect(formatEta(125)).toBe('2m05s');
    expect(formatEta(24 * 3600)).toBe('24h00m');
    expect(formatEta(3 * 3600 + 7 * 60 + 30)).toBe('3h07m');
  });

  it('says where a stopped download resumes, and nothing about a download for other phases', () => {
    expect(describeEvent({ type: 'stopped', at: 0, phase: 'downloading', offset: 4096 })).toBe('stopped (phase downloading); the journal resumes the download at byte 4096');
    expect(describeEvent({ type: 'stopped', at: 0, phase: 'trial' })).toBe('stopped (phase trial)');
  });
});
