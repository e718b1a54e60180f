import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// `ota bundle create` on a large part, in a child process so its peak resident memory can be read: the packer must
// stream the part (memory independent of its size) and tell a CI log how far it got. The part is a sparse file, so
// the default run costs little disk; OTA_SWEEP_FULL=1 uses 300 MiB.

const MiB = 1024 * 1024;
const PART = (process.env.OTA_SWEEP_FULL === '1' ? 300 : 96) * MiB;
const REPO = resolve(import.meta.dirname, '../..');
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ota-create-memory-'));
  writeFileSync(join(dir, 'big.bin'), 'start');
  // Sparse: extend without writing the blocks.
  truncateSync(join(dir, 'big.bin'), PART);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('ota bundle create on a large part', () => {
  it('keeps its memory independent of the part size and prints progress', () => {
    const script = join(dir, 'run.mts');
    writeFileSync(script, `
      import { main } from ${JSON.stringify(join(REPO, 'src/cli/main.ts'))};
      const before = process.memoryUsage().rss;
      let err = '';
      const code = await main(${JSON.stringify(['bundle', 'create', '-o', 'big.otab', '--part', 'main-fw=big.bin@1.0.0', '--hardware-version', 'evt',
        '--unsigned', '--sequence', '1'])}, { out() {}, err(t) { err += t; }, env: {}, cwd: ${JSON.stringify(dir)}, isTty: false });
      console.log(JSON.stringify({ code, before, peak: process.resourceUsage().maxRSS * 1024, err }));
    `);
    const child = spawnSync(process.execPath, ['--import', 'tsx', script], { cwd: REPO, encoding: 'utf8', maxBuffer: 16 * MiB });
    expect(child.status, child.stderr).toBe(0);
    const report = JSON.parse(child.stdout.trim().split('\n').pop() as string) as { code: number; before: number; peak: number; err: string };
    expect(report.code, report.err).toBe(0);
    const growth = report.peak - report.before;
    // Reading the part whole (the old packer) needs several times its size; streaming needs a few buffers.
    expect(growth, `peak RSS grew by ${(growth / MiB).toFixed(1)} MiB for a ${PART / MiB} MiB part`).toBeLessThan(48 * MiB);
    expect(report.err).toMatch(/hashing parts: 100%/);
    expect(report.err).toMatch(/writing bundle: 100%/);
  });
});
