import { describe, expect, it } from 'vitest';
import { readPreamble } from '../../src/bundle/framing.js';
import { inspectHeader } from '../../src/bundle/header.js';
import { pairAllowed } from './two-mcu-subject.js';
import { releaseBundle } from './fixtures.js';

describe('the (main, wifi) pair invariant', () => {
  const bytes = releaseBundle({ main: 100, wifi: 100 });
  const pre = readPreamble(bytes);
  const manifest = inspectHeader(bytes.subarray(0, 12), bytes.subarray(12, 12 + pre.headerLength)).manifest;

  it('allows the old pair, the new pair, and new wifi under old main (declared compatible)', () => {
    expect(pairAllowed(manifest, '1.0.0', '1.0.0')).toBe(true);
    expect(pairAllowed(manifest, '2.0.0', '1.4.0')).toBe(true);
    expect(pairAllowed(manifest, '1.0.0', '1.4.0')).toBe(true);
  });

  it('forbids main 2.0.0 beside wifi 1.0.0 (main requires wifi >= 1.4.0) and unknown versions', () => {
    expect(pairAllowed(manifest, '2.0.0', '1.0.0')).toBe(false);
    expect(pairAllowed(manifest, '1.0.0', '9.9.9')).toBe(false);
  });
});
