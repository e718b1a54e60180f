import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/command.js';

// QA's findings on the host tools: half-written key pairs, loose key modes, bundles written over their own inputs,
// bundles every device refuses, and raw ENOENT/EISDIR/DECODER errors instead of messages naming the flag and path.

let dir: string;

async function ota(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIo = { out: (t) => { out += t; }, err: (t) => { err += t; }, env: {}, cwd: dir, isTty: false };
  const code = await main(argv, io);
  return { code, out, err };
}

const bytes = (n: number, seed: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff));

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ota-tools-errors-'));
  writeFileSync(join(dir, 'main.bin'), bytes(2000, 1));
  writeFileSync(join(dir, 'wifi.bin'), bytes(900, 2));
  expect((await ota('keys', 'generate', '-o', 'sign')).code).toBe(0);
  expect((await ota('keys', 'generate', '--type', 'hmac', '-o', 'dev.hmac')).code).toBe(0);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const base = ['bundle', 'create', '--hardware-version', 'evt', '--sequence', '7'];

describe('ota keys generate', () => {
  it('--force leaves the private key at mode 0600 even when the old file was looser', async () => {
    expect((await ota('keys', 'generate', '-o', 'loose')).code).toBe(0);
    chmodSync(join(dir, 'loose.pem'), 0o644);
    const before = readFileSync(join(dir, 'loose.pem'), 'utf8');
    const again = await ota('keys', 'generate', '-o', 'loose', '--force');
    expect(again.code, again.err).toBe(0);
    expect(readFileSync(join(dir, 'loose.pem'), 'utf8')).not.toBe(before);
    expect(statSync(join(dir, 'loose.pem')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'loose.pub.pem')).mode & 0o777).toBe(0o644);
    chmodSync(join(dir, 'dev.hmac'), 0o666);
    expect((await ota('keys', 'generate', '--type', 'hmac', '-o', 'dev.hmac', '--force')).code).toBe(0);
    expect(statSync(join(dir, 'dev.hmac')).mode & 0o777).toBe(0o600);
  });

  it('writes neither file of a pair when one of them exists (no --force)', async () => {
    writeFileSync(join(dir, 'only.pub.pem'), 'old public');
    const result = await ota('keys', 'generate', '-o', 'only');
    expect(result.code).toBe(2);
    expect(result.err).toContain(`${join(dir, 'only.pub.pem')} exists; pass --force`);
    expect(existsSync(join(dir, 'only.pem'))).toBe(false);
    expect(readFileSync(join(dir, 'only.pub.pem'), 'utf8')).toBe('old public');
  });

  it('names a missing output directory instead of a raw ENOENT', async () => {
    const result = await ota('keys', 'generate', '-o', '/nonexistent/dir/k');
    expect(result.code).toBe(2);
    expect(result.err).toContain('-o: the directory /nonexistent/dir does not exist');
    expect(result.err).not.toMatch(/ENOENT/);
  });
});

describe('ota bundle create: outputs and inputs', () => {
  it('refuses an existing output unless --force', async () => {
    writeFileSync(join(dir, 'exists.otab'), 'keep me');
    const refused = await ota(...base, '-o', 'exists.otab', '--part', 'main-fw=main.bin@1.0', '--unsigned');
    expect(refused.code).toBe(2);
    expect(refused.err).toContain(`${join(dir, 'exists.otab')} exists; pass --force`);
    expect(readFileSync(join(dir, 'exists.otab'), 'utf8')).toBe('keep me');
    const forced = await ota(...base, '-o', 'exists.otab', '--part', 'main-fw=main.bin@1.0', '--unsigned', '--force');
    expect(forced.code, forced.err).toBe(0);
    expect(readFileSync(join(dir, 'exists.otab')).length).toBeGreaterThan(2000);
  });

  it('never writes over one of its inputs, even with --force or through another path or a symlink', async () => {
    const key = readFileSync(join(dir, 'sign.pem'), 'utf8');
    const image = readFileSync(join(dir, 'main.bin'));
    symlinkSync(join(dir, 'main.bin'), join(dir, 'main-link.bin'));
    const attempts: [string[], string][] = [
      [['-o', 'sign.pem', '--sign-key', 'sign.pem', '--part', 'main-fw=main.bin@1.0'], '--sign-key'],
      [['-o', './sub/../sign.pem', '--sign-key', 'sign.pem', '--part', 'main-fw=main.bin@1.0', '--force'], '--sign-key'],
      [['-o', 'main.bin', '--unsigned', '--part', 'main-fw=main.bin@1.0', '--force'], '--part main-fw'],
      [['-o', 'main-link.bin', '--unsigned', '--part', 'main-fw=main.bin@1.0', '--force'], '--part main-fw'],
      [['-o', 'dev.hmac', '--hmac-key', 'dev.hmac', '--part', 'main-fw=main.bin@1.0', '--force'], '--hmac-key'],
    ];
    mkdirSync(join(dir, 'sub'), { recursive: true });
    for (const [args, flag] of attempts) {
      const result = await ota(...base, ...args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.err).toContain(`is the ${flag} input; writing the bundle there would destroy it`);
    }
    expect(readFileSync(join(dir, 'sign.pem'), 'utf8')).toBe(key);
    expect(readFileSync(join(dir, 'main.bin')).equals(image)).toBe(true);
  });

  it('names the flag and path for a missing part, a directory part, a missing output directory and an output that is a directory', async () => {
    const cases: [string[], string][] = [
      [['-o', 'x.otab', '--unsigned', '--part', 'main-fw=nosuch.bin@1.0'], `--part main-fw: ${join(dir, 'nosuch.bin')} does not exist`],
      [['-o', 'x.otab', '--unsigned', '--part', 'main-fw=sub@1.0'], `--part main-fw: ${join(dir, 'sub')} is a directory, not a file`],
      [['-o', '/nonexistent/y.otab', '--unsigned', '--part', 'main-fw=main.bin@1.0'], '-o: the directory /nonexistent does not exist'],
      [['-o', 'sub', '--unsigned', '--part', 'main-fw=main.bin@1.0'], `-o: ${join(dir, 'sub')} is a directory; name a file`],
      [['-o', 'x.otab', '--sign-key', 'nosuch.pem', '--part', 'main-fw=main.bin@1.0'], `--sign-key: ${join(dir, 'nosuch.pem')} does not exist`],
    ];
    for (const [args, message] of cases) {
      const result = await ota(...base, ...args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.err).toContain(message);
      expect(result.err).not.toMatch(/ENOENT|EISDIR/);
    }
    expect(existsSync(join(dir, 'x.otab'))).toBe(false);
  });

  it('explains a signing key of the wrong kind instead of a DECODER error', async () => {
    const hmac = await ota(...base, '-o', 'x.otab', '--sign-key', 'dev.hmac', '--part', 'main-fw=main.bin@1.0');
    expect(hmac.code).toBe(2);
    expect(hmac.err).toContain(`--sign-key ${join(dir, 'dev.hmac')}: This is an HMAC key`);
    expect(hmac.err).toContain('--hmac-key');
    const pub = await ota(...base, '-o', 'x.otab', '--sign-key', 'sign.pub.pem', '--part', 'main-fw=main.bin@1.0');
    expect(pub.code).toBe(2);
    expect(pub.err).toContain('This is a public key; signing needs the private key');
    const pemAsHmac = await ota(...base, '-o', 'x.otab', '--hmac-key', 'sign.pem', '--part', 'main-fw=main.bin@1.0');
    expect(pemAsHmac.code).toBe(2);
    expect(pemAsHmac.err).toContain('This is a PEM key, not an HMAC key');
    for (const result of [hmac, pub, pemAsHmac]) expect(result.err).not.toMatch(/DECODER|error:1E/);
    // The key's bytes never reach the message.
    expect(hmac.err).not.toContain(readFileSync(join(dir, 'dev.hmac'), 'utf8').trim());
    expect(existsSync(join(dir, 'x.otab'))).toBe(false);
  });
});

describe('ota bundle create: requirements', () => {
  it('refuses a requirement the bundle\'s own part does not meet (every device would say requires-unmet)', async () => {
    const result = await ota(...base, '-o', 'unmet.otab', '--unsigned', '--part', 'main-fw=main.bin@1.0', '--part', 'wifi-fw=wifi.bin@1.0',
      '--requires', 'main-fw:wifi-fw>=1.4.0');
    expect(result.code).toBe(2);
    expect(result.err).toContain('part "main-fw" requires "wifi-fw" >= 1.4.0, but this bundle\'s "wifi-fw" part is 1.0');
    expect(existsSync(join(dir, 'unmet.otab'))).toBe(false);
    // Met by the bundle, or naming a part that is not in it (the running one may meet it): written.
    expect((await ota(...base, '-o', 'met.otab', '--unsigned', '--part', 'main-fw=main.bin@1.0', '--part', 'wifi-fw=wifi.bin@1.4.0',
      '--requires', 'main-fw:wifi-fw>=1.4.0')).code).toBe(0);
    expect((await ota(...base, '-o', 'outside.otab', '--unsigned', '--part', 'main-fw=main.bin@1.0', '--requires', 'main-fw:wifi-fw>=1.4.0')).code).toBe(0);
  });

  it('says a part cannot require itself (not "form a cycle")', async () => {
    const result = await ota(...base, '-o', 'self.otab', '--unsigned', '--part', 'main-fw=main.bin@1.0', '--requires', 'main-fw:main-fw>=1.0');
    expect(result.code).toBe(2);
    expect(result.err).toContain('part "main-fw" cannot require itself');
    expect(result.err).not.toContain('cycle');
  });
});

describe('ota bundle inspect / verify: paths', () => {
  it('names a directory, a missing bundle and a missing --key', async () => {
    expect((await ota(...base, '-o', 'ok.otab', '--unsigned', '--part', 'main-fw=main.bin@1.0')).code).toBe(0);
    const cases: [string[], string][] = [
      [['bundle', 'inspect', 'sub'], `bundle FILE: ${join(dir, 'sub')} is a directory, not a file`],
      [['bundle', 'inspect', 'nosuch.otab'], `bundle FILE: ${join(dir, 'nosuch.otab')} does not exist`],
      [['bundle', 'verify', 'sub'], `bundle FILE: ${join(dir, 'sub')} is a directory, not a file`],
      [['bundle', 'verify', 'ok.otab', '--key', 'nosuch.pem'], `--key: ${join(dir, 'nosuch.pem')} does not exist`],
      [['bundle', 'verify', 'ok.otab', '--key', 'main.bin'], `--key ${join(dir, 'main.bin')}: An HMAC key file holds`],
    ];
    for (const [args, message] of cases) {
      const result = await ota(...args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.err).toContain(message);
      expect(result.err).not.toMatch(/ENOENT|EISDIR/);
    }
  });
});

describe('ota certs export --format der', () => {
  it('refuses a file-like -o for several certificates instead of making a directory named x.der', async () => {
    const result = await ota('certs', 'export', '--format', 'der', '-o', 'x.der');
    expect(result.code).toBe(2);
    expect(result.err).toContain('looks like a file name');
    expect(result.err).toContain('--name');
    expect(existsSync(join(dir, 'x.der'))).toBe(false);
    writeFileSync(join(dir, 'afile'), 'x');
    const onFile = await ota('certs', 'export', '--format', 'der', '-o', 'afile');
    expect(onFile.code).toBe(2);
    expect(onFile.err).toContain('is a file');
    const ok = await ota('certs', 'export', '--format', 'der', '-o', 'roots');
    expect(ok.code, ok.err).toBe(0);
    expect(readdirSync(join(dir, 'roots')).length).toBeGreaterThan(0);
  });
});
