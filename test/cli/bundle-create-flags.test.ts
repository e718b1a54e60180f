import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runner } from './served-cli.js';

// Release-engineer QA of `ota bundle create`'s flags: mistakes a CI script makes must be usage errors (exit 2) that
// name the flags, found before any part is read, with nothing written.

let dir: string;
let ota: ReturnType<typeof runner>;

const bytes = (n: number, seed: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * 29 + seed) & 0xff));

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ota-create-flags-'));
  ota = runner(dir);
  writeFileSync(join(dir, 'main.bin'), bytes(1500, 1));
  writeFileSync(join(dir, 'main2.bin'), bytes(700, 2));
  writeFileSync(join(dir, 'wifi.bin'), bytes(600, 3));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const base = ['bundle', 'create', '--sequence', '3', '--unsigned'];

describe('ota bundle create: flag mistakes are usage errors', () => {
  it('names a software type given twice (exit 2, not a manifest failure after reading the parts)', async () => {
    const result = await ota(...base, '-o', 'dup.otab', '--hardware-version', 'evt', '--part', 'main-fw=main.bin@1.0.0', '--part', 'main-fw=main2.bin@1.0.1');
    expect(result.code, result.err).toBe(2);
    expect(result.err).toContain('--part main-fw is given twice');
    expect(result.err).not.toContain('[part-duplicate-type]');
    expect(existsSync(join(dir, 'dup.otab'))).toBe(false);
  });

  it('refuses a hardware version given twice, and a comma-separated list taken as one hardware version', async () => {
    const twice = await ota(...base, '-o', 'hw.otab', '--hardware-version', 'evt', '--hardware-version', 'evt', '--part', 'main-fw=main.bin@1.0.0');
    expect(twice.code, twice.err).toBe(2);
    expect(twice.err).toContain('--hardware-version evt is given twice');
    const comma = await ota(...base, '-o', 'hw.otab', '--hardware-version', 'evt,dvt', '--part', 'main-fw=main.bin@1.0.0');
    expect(comma.code, comma.err).toBe(2);
    expect(comma.err).toContain('repeat --hardware-version');
    const fromEnv = await runner(dir, () => ({ OTA_HARDWARE_VERSION: 'evt, dvt' }))(...base, '-o', 'hw.otab', '--part', 'main-fw=main.bin@1.0.0');
    expect(fromEnv.code, fromEnv.err).toBe(2);
    expect(existsSync(join(dir, 'hw.otab'))).toBe(false);
    const two = await ota(...base, '-o', 'hw2.otab', '--hardware-version', 'evt', '--hardware-version', 'dvt', '--part', 'main-fw=main.bin@1.0.0');
    expect(two.code, two.err).toBe(0);
  });

  it('does not write a file named "-" for -o - (a bundle is binary; stdout is not supported)', async () => {
    const result = await ota(...base, '-o', '-', '--hardware-version', 'evt', '--part', 'main-fw=main.bin@1.0.0');
    expect(result.code, result.err).toBe(2);
    expect(result.err).toContain('-o -');
    expect(existsSync(join(dir, '-'))).toBe(false);
  });

  it('explains a requirement missed only because of a suffix such as build metadata (Memfault order, not semver)', async () => {
    const result = await ota(...base, '-o', 'meta.otab', '--hardware-version', 'evt', '--part', 'main-fw=main.bin@2.0.0',
      '--part', 'wifi-fw=wifi.bin@1.4.0+g1a2b', '--requires', 'main-fw:wifi-fw>=1.4.0');
    expect(result.code, result.err).toBe(2);
    expect(result.err).toContain('1.4.0+g1a2b sorts before 1.4.0');
    expect(existsSync(join(dir, 'meta.otab'))).toBe(false);
  });

  it('refuses a part that is a pipe (no size, may never end) instead of waiting on it', async () => {
    execFileSync('mkfifo', [join(dir, 'image.fifo')]);
    const result = await ota(...base, '-o', 'fifo.otab', '--hardware-version', 'evt', '--part', 'main-fw=image.fifo@1.0.0');
    expect(result.code, result.err).toBe(2);
    expect(result.err).toContain('--part main-fw');
    expect(result.err).toContain('not a regular file');
    expect(existsSync(join(dir, 'fifo.otab'))).toBe(false);
    rmSync(join(dir, 'image.fifo'));
  }, 10_000);

  it('--force on a symbolic link replaces the link and leaves the file it pointed to alone', async () => {
    writeFileSync(join(dir, 'old-release.otab'), 'an older release');
    symlinkSync(join(dir, 'old-release.otab'), join(dir, 'latest.otab'));
    const result = await ota(...base, '-o', 'latest.otab', '--force', '--hardware-version', 'evt', '--part', 'main-fw=main.bin@1.0.0');
    expect(result.code, result.err).toBe(0);
    expect(readFileSync(join(dir, 'old-release.otab'), 'utf8')).toBe('an older release');
    expect(lstatSync(join(dir, 'latest.otab')).isSymbolicLink()).toBe(false);
    expect(readFileSync(join(dir, 'latest.otab')).subarray(0, 4).toString()).toBe('OTAB');
  });

  it('reads --requires with spaces around its words as the same requirement (not a software type " wifi-fw ")', async () => {
    const unmet = await ota(...base, '-o', 'spaced.otab', '--hardware-version', 'evt', '--part', 'main-fw=main.bin@2.0.0',
      '--part', 'wifi-fw=wifi.bin@1.0.0', '--requires', 'main-fw : wifi-fw >= 1.4.0');
    expect(unmet.code, unmet.err).toBe(2);
    expect(unmet.err).toContain('part "main-fw" requires "wifi-fw" >= 1.4.0');
    const met = await ota(...base, '-o', 'spaced.otab', '--hardware-version', 'evt', '--part', 'main-fw=main.bin@2.0.0',
      '--part', 'wifi-fw=wifi.bin@1.4.0', '--requires', 'main-fw: wifi-fw >= 1.4.0');
    expect(met.code, met.err).toBe(0);
    const info = JSON.parse((await ota('bundle', 'inspect', 'spaced.otab', '--json')).out);
    expect(info.parts[0].requires).toEqual(['wifi-fw>=1.4.0']);
  });

  it('leaves no output and no temporary file behind when it refuses', async () => {
    const before = readdirSync(dir).sort();
    const result = await ota(...base, '-o', 'bad.otab', '--hardware-version', 'evt', '--part', 'main-fw=main.bin@1.0.0', '--release-version', 'caf\u00e9');
    expect(result.code).toBe(2);
    expect(readdirSync(dir).sort()).toEqual(before);
  });
});
