import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { uniformGeometry } from '../../hal/flash.js';
import type { FlashGeometry } from '../../hal/flash.js';
import { SimFlash } from '../../hal/sim/sim-flash.js';
import { FileFlash } from '../../src/node/file-flash.js';
import type { OtaError } from '../../src/util/errors.js';

// FileFlash is the flash of a device that lives on disk (`ota device run`, SimDevice({ dir })): what SimFlash models
// in memory it must keep across processes. Its erase counters are the part's wear, so they outlive a restart and a
// kill -9; a wear limit refuses worn sectors as SimFlash does; its errors say as much as SimFlash's; and a file that
// shrank under it is an error, not zeros.

const dir = mkdtempSync(join(tmpdir(), 'ota-file-flash-wear-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const geometry: FlashGeometry = uniformGeometry(256, 6, 8, 0xff);

function failure(promise: Promise<unknown>): Promise<OtaError> {
  return promise.then(() => { throw new Error('expected a rejection'); }, (error: unknown) => error as OtaError);
}

describe('FileFlash wear', () => {
  it('keeps erase counts across close and reopen (the wear of the part, not of the handle)', async () => {
    const path = join(dir, 'reopen.flash');
    const flash = FileFlash.open(path, geometry, { sync: false });
    await flash.erase(0, 256);
    await flash.erase(256, 512);
    await flash.erase(256, 256);
    expect(flash.eraseCounts()).toEqual([1, 2, 1, 0, 0, 0]);
    flash.close();
    const again = FileFlash.open(path, geometry, { sync: false });
    expect(again.eraseCounts()).toEqual([1, 2, 1, 0, 0, 0]);
    await again.erase(1280, 256);
    expect(again.eraseCounts()).toEqual([1, 2, 1, 0, 0, 1]);
    again.close();
  });

  it('keeps erase counts of a process killed without closing the file (kill -9 is a power loss, not a new part)', () => {
    const path = join(dir, 'killed.flash');
    const script = [
      `import { FileFlash } from ${JSON.stringify(join(process.cwd(), 'src/node/file-flash.ts'))};`,
      `import { uniformGeometry } from ${JSON.stringify(join(process.cwd(), 'hal/flash.ts'))};`,
      `const flash = FileFlash.open(${JSON.stringify(path)}, uniformGeometry(256, 6, 8, 0xff));`,
      'for (let i = 0; i < 5; i++) await flash.erase(512, 256);',
      'await flash.erase(0, 1536);',
      "process.kill(process.pid, 'SIGKILL');",
    ].join('\n');
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { timeout: 30_000, encoding: 'utf8' });
    expect(child.signal, child.stderr).toBe('SIGKILL');
    const flash = FileFlash.open(path, geometry);
    expect(flash.eraseCounts()).toEqual([1, 1, 6, 1, 1, 1]);
    flash.close();
  });

  it('a wear limit refuses the erase past it, with SimFlash\'s error, changes no byte, and still holds after a reopen', async () => {
    const path = join(dir, 'limit.flash');
    const flash = FileFlash.open(path, geometry, { sync: false, wearLimit: 2 });
    const sim = new SimFlash(geometry, { faults: { wearLimit: 2 } });
    for (const part of [flash, sim]) {
      await part.erase(256, 256);
      await part.erase(256, 256);
      await part.write(256, new Uint8Array(8).fill(0x5a));
    }
    const fileError = await failure(flash.erase(256, 256));
    const simError = await failure(sim.erase(256, 256));
    expect(fileError.code).toBe('flash-worn-out');
    expect(fileError.message).toBe(simError.message);
    expect(fileError.details).toEqual(simError.details);
    expect(fileError.retryable).toBe(false);
    expect(await flash.read(256, 8)).toEqual(new Uint8Array(8).fill(0x5a));
    // A multi-sector erase that reaches a worn sector erases none of them.
    const ops = flash.ops;
    expect((await failure(flash.erase(0, 512))).code).toBe('flash-worn-out');
    expect(flash.ops).toBe(ops);
    expect(flash.eraseCounts()).toEqual([0, 2, 0, 0, 0, 0]);
    flash.close();
    const again = FileFlash.open(path, geometry, { wearLimit: 2 });
    expect((await failure(again.erase(256, 256))).code).toBe('flash-worn-out');
    await again.erase(512, 256);
    again.close();
  });

  it('refuses a wear record that is not one (garbage, another geometry) without touching it or the flash', async () => {
    const path = join(dir, 'garbage-wear.flash');
    const flash = FileFlash.open(path, geometry, { sync: false });
    await flash.erase(0, 256);
    flash.close();
    const wearPath = FileFlash.wearPathOf(path);
    expect(existsSync(wearPath)).toBe(true);
    writeFileSync(wearPath, 'not a wear record');
    const flashBefore = readFileSync(path);
    let thrown: OtaError | null = null;
    try {
      FileFlash.open(path, geometry);
    } catch (error) {
      thrown = error as OtaError;
    }
    expect(thrown?.code).toBe('flash-wear-invalid');
    expect(thrown?.message).toContain(wearPath);
    expect(thrown?.message).toMatch(/delete/);
    expect(readFileSync(wearPath, 'utf8')).toBe('not a wear record');
    expect(readFileSync(path).equals(flashBefore)).toBe(true);
  });

  it('a flash file from before wear records (no sidecar) opens with zero counts and writes no file until it erases', async () => {
    const path = join(dir, 'old-layout.flash');
    writeFileSync(path, new Uint8Array(256 * 6).fill(0xff));
    const flash = FileFlash.open(path, geometry, { sync: false });
    expect(flash.eraseCounts()).toEqual([0, 0, 0, 0, 0, 0]);
    await flash.read(0, 16);
    expect(existsSync(FileFlash.wearPathOf(path))).toBe(false);
    await flash.erase(0, 256);
    expect(existsSync(FileFlash.wearPathOf(path))).toBe(true);
    flash.close();
    expect(FileFlash.open(path, geometry).eraseCounts()).toEqual([1, 0, 0, 0, 0, 0]);
  });

  it('a file cut to another valid size after its wear record was written is refused as truncated, naming both sizes', async () => {
    const path = join(dir, 'cut.flash');
    const big = uniformGeometry(256, 8, 8, 0xff);
    const flash = FileFlash.open(path, big, { sync: false });
    await flash.erase(0, 256);
    flash.close();
    truncateSync(path, 256 * 6);
    let thrown: OtaError | null = null;
    try {
      FileFlash.open(path, geometry);
    } catch (error) {
      thrown = error as OtaError;
    }
    expect(thrown?.code).toBe('flash-file-size');
    expect(thrown?.message).toContain('2048');
    expect(thrown?.message).toContain('1536');
    expect(thrown?.message).toMatch(/truncated/);
  });
});

describe('FileFlash errors match SimFlash\'s', () => {
  const cases: { name: string; run: (flash: FileFlash | SimFlash) => Promise<unknown> }[] = [
    { name: 'read out of range', run: (f) => f.read(1500, 100) },
    { name: 'fractional offset', run: (f) => f.read(1.5, 4) },
    { name: 'misaligned write', run: (f) => f.write(4, new Uint8Array(8)) },
    { name: 'write out of range', run: (f) => f.write(1536, new Uint8Array(8)) },
    { name: 'erase across a sector boundary', run: (f) => f.erase(128, 256) },
    { name: 'erase of length 0', run: (f) => f.erase(256, 0) },
    { name: 'rewrite of a programmed cell', run: (f) => f.write(0, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8)).then(() => f.write(0, Uint8Array.of(1, 2, 7, 4, 5, 6, 7, 8))) },
  ];
  for (const c of cases) {
    it(`${c.name}: same code, message and details`, async () => {
      const flash = FileFlash.open(join(dir, `errors-${c.name.replace(/ /g, '-')}.flash`), geometry, { sync: false });
      const fileError = await failure(c.run(flash));
      const simError = await failure(c.run(new SimFlash(geometry)));
      expect({ code: fileError.code, message: fileError.message, details: fileError.details })
        .toEqual({ code: simError.code, message: simError.message, details: simError.details });
      flash.close();
    });
  }

  it('an operation on a closed file rejects naming the file and the operation', async () => {
    const path = join(dir, 'closed.flash');
    const flash = FileFlash.open(path, geometry, { sync: false });
    flash.close();
    const error = await failure(flash.erase(0, 256));
    expect(error.code).toBe('flash-closed');
    expect(error.message).toContain(path);
    expect(error.details).toMatchObject({ op: 'erase', path });
  });

  it('a file shrunk under an open handle fails the read past its end instead of returning zeros', async () => {
    const path = join(dir, 'shrunk.flash');
    const flash = FileFlash.open(path, geometry, { sync: false });
    await flash.write(1024, new Uint8Array(8).fill(0x11));
    truncateSync(path, 512);
    const read = flash.read(1024, 8);
    expect(read).toBeInstanceOf(Promise);
    const error = await failure(read);
    expect(error.code).toBe('flash-file-truncated');
    expect(error.message).toContain(path);
    expect(error.message).toContain('512');
    // A write reads its cells first (NOR: the AND of old and new bits): it fails too, and does not regrow the file.
    expect((await failure(flash.write(1024, new Uint8Array(8)))).code).toBe('flash-file-truncated');
    flash.close();
  });
});
