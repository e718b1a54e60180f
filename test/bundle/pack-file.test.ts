import { appendFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBundle, writeBundleFile } from '../../src/tools/bundle.js';
import type { PackProgress } from '../../src/tools/bundle.js';
import { rejection, patternBytes, testSigner } from './helpers.js';

// The streaming packer behind `ota bundle create`: parts are read from their files in fixed-size pieces (memory does
// not grow with the part), the output appears only when complete, and a part that changes while the bundle is written
// is caught instead of shipping a bundle whose signed digest does not match its bytes.

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ota-pack-file-'));
  writeFileSync(join(dir, 'main.bin'), patternBytes(70_001, 5));
  writeFileSync(join(dir, 'wifi.bin'), patternBytes(9_999, 6));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const input = (mainPath: string) => ({
  sequence: 77, releaseVersion: '2.0.0', hardwareVersions: ['evt', 'dvt'],
  parts: [
    { softwareType: 'main-fw', version: '2.0.0', path: mainPath, requires: [{ softwareType: 'wifi-fw', minVersion: '1.4.0' }] },
    { softwareType: 'wifi-fw', version: '1.4.0', path: join(dir, 'wifi.bin') },
  ],
});

describe('writeBundleFile', () => {
  it('writes exactly the bytes createBundle makes, reading in small pieces, and reports progress to the total', async () => {
    const events: PackProgress[] = [];
    const out = join(dir, 'a.otab');
    const result = await writeBundleFile(input(join(dir, 'main.bin')), testSigner(), out, { chunkSize: 4096, onProgress: (p) => { events.push({ ...p }); } });
    const expected = createBundle({
      ...input(''),
      parts: [
        { softwareType: 'main-fw', version: '2.0.0', data: new Uint8Array(readFileSync(join(dir, 'main.bin'))), requires: [{ softwareType: 'wifi-fw', minVersion: '1.4.0' }] },
        { softwareType: 'wifi-fw', version: '1.4.0', data: new Uint8Array(readFileSync(join(dir, 'wifi.bin'))) },
      ],
    }, testSigner());
    expect(new Uint8Array(readFileSync(out))).toEqual(expected);
    expect(result.length).toBe(expected.length);
    const total = 70_001 + 9_999;
    for (const phase of ['hash', 'write'] as const) {
      const mine = events.filter((e) => e.phase === phase);
      expect(mine.length).toBeGreaterThan(10);
      expect(mine.every((e, i) => e.total === total && (i === 0 || e.done >= mine[i - 1].done))).toBe(true);
      expect(mine[mine.length - 1].done).toBe(total);
    }
  });

  it('refuses a part that changed after it was hashed, and leaves neither the output nor a temporary file', async () => {
    writeFileSync(join(dir, 'moving.bin'), patternBytes(50_000, 7));
    const before = readdirSync(dir).sort();
    const out = join(dir, 'moved.otab');
    let touched = false;
    const error = await rejection(writeBundleFile(input(join(dir, 'moving.bin')), testSigner(), out, {
      chunkSize: 4096,
      onProgress: (p) => {
        if (p.phase === 'write' && !touched) { touched = true; appendFileSync(join(dir, 'moving.bin'), 'x'); }
      },
    }));
    expect(error.code).toBe('bundle-input-changed');
    expect(error.message).toContain('main-fw');
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir).sort()).toEqual(before);
  });

  it('does not replace an existing output unless told to', async () => {
    const out = join(dir, 'kept.otab');
    writeFileSync(out, 'keep me');
    const error = await rejection(writeBundleFile(input(join(dir, 'main.bin')), null, out, {}));
    expect(error.code).toBe('output-exists');
    expect(readFileSync(out, 'utf8')).toBe('keep me');
    await writeBundleFile(input(join(dir, 'main.bin')), null, out, { overwrite: true });
    expect(readFileSync(out).length).toBeGreaterThan(80_000);
    expect(readdirSync(dir).filter((name) => name.includes('.tmp'))).toEqual([]);
  });
});
