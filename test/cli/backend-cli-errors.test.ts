import { describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { servedCli } from './served-cli.js';

// QA's findings on the backend commands: empty payloads, a payload path that is a directory, a second `ota serve` on
// one data directory, an admin fault that locks out the fault commands, and fault flags checked in two places.

describe('ota serve, upload-ota-payload and faults against one data directory', () => {
  const served = servedCli('ota-cli-errors-');
  const { dir, dataDir, ota } = served;

  it('refuses a second `ota serve` on the same data directory with exit 2, leaving server.json and state.json alone', async () => {
    const record = readFileSync(join(dataDir, 'server.json'), 'utf8');
    const state = readFileSync(join(dataDir, 'state.json'), 'utf8');
    const second = await ota('serve', '--port', '0', '--http', '--data', dataDir, '--project-key', 'other-key');
    expect(second.code).toBe(2);
    expect(second.err).toContain(`is already using the data directory ${dataDir}`);
    expect(second.err).toContain('pass another --data');
    expect(readFileSync(join(dataDir, 'server.json'), 'utf8')).toBe(record);
    expect(readFileSync(join(dataDir, 'state.json'), 'utf8')).toBe(state);
    // The first one still answers with its own credentials.
    expect((await ota('cohorts', '--json')).code).toBe(0);
  });

  it('refuses `ota serve --data` naming a file, with exit 2', async () => {
    writeFileSync(join(dir, 'not-a-dir'), 'x');
    const result = await ota('serve', '--port', '0', '--http', '--data', 'not-a-dir');
    expect(result.code).toBe(2);
    expect(result.err).toContain(`${join(dir, 'not-a-dir')} is a file, not a directory`);
    expect(result.err).not.toMatch(/ENOTDIR|EEXIST/);
  });

  it('refuses `ota serve --require-sni` on an IP address (no client sends SNI to one), before creating anything', async () => {
    for (const host of [[], ['--host', '127.0.0.1'], ['--host', '::1']]) {
      const result = await ota('serve', '--port', '0', '--require-sni', ...host, '--data', 'sni-data');
      expect(result.code, host.join(' ')).toBe(2);
      expect(result.err).toMatch(/--require-sni needs a host name in --host, got the address .*; pass --host localhost/);
      expect(existsSync(join(dir, 'sni-data'))).toBe(false);
    }
  });

  it('refuses an empty payload file and a directory before sending anything (exit 2)', async () => {
    writeFileSync(join(dir, 'empty.bin'), '');
    mkdirSync(join(dir, 'adir'));
    const flags = ['--hardware-version', 'evt', '--software-type', 'main', '--software-version', '1.0.0'];
    const empty = await ota('upload-ota-payload', ...flags, 'empty.bin');
    expect(empty.code).toBe(2);
    expect(empty.err).toContain(`${join(dir, 'empty.bin')} is empty (0 bytes)`);
    const directory = await ota('upload-ota-payload', ...flags, 'adir');
    expect(directory.code).toBe(2);
    expect(directory.err).toContain(`${join(dir, 'adir')} is a directory, not a file`);
    expect(directory.err).not.toContain('does not exist');
    expect(JSON.parse((await ota('releases', '--json')).out)).toEqual([]);
  });

  it('checks a bundle\'s manifest against the upload flags (a raw image has none to check)', async () => {
    writeFileSync(join(dir, 'main.bin'), Buffer.alloc(500, 7));
    writeFileSync(join(dir, 'wifi.bin'), Buffer.alloc(300, 9));
    const made = await ota('bundle', 'create', '-o', 'r7.otab', '--unsigned', '--hardware-version', 'evt', '--sequence', '1',
      '--part', 'main-fw=main.bin@7.0.0', '--part', 'wifi-fw=wifi.bin@7.0.0');
    expect(made.code, made.err).toBe(0);
    const wrong = await ota('upload-ota-payload', '--hardware-version', 'dvt', '--software-type', 'wifi-fw', '--software-version', '7.1.0', 'r7.otab');
    expect(wrong.code).toBe(2);
    expect(wrong.err).toContain('--software-version 7.1.0 but the bundle is release 7.0.0; --hardware-version dvt but the bundle is for evt');
    const other = await ota('upload-ota-payload', '--hardware-version', 'evt', '--software-type', 'ble', '--software-version', '7.0.0', 'r7.otab');
    expect(other.code, other.err).toBe(0);
    expect(other.err).toContain('note: the bundle carries main-fw, wifi-fw; --software-type ble is none of them');
    const right = await ota('upload-ota-payload', '--hardware-version', 'evt', '--software-type', 'main-fw', '--software-version', '7.0.0', 'r7.otab');
    expect(right.code, right.err).toBe(0);
    expect(right.err).toBe('');
    const raw = await ota('upload-ota-payload', '--hardware-version', 'dvt', '--software-type', 'main-fw', '--software-version', '7.1.0', 'main.bin');
    expect(raw.code, raw.err).toBe(0);
    writeFileSync(join(dir, 'broken.otab'), Buffer.concat([Buffer.from('OTAB'), Buffer.alloc(20, 0xff)]));
    const broken = await ota('upload-ota-payload', '--hardware-version', 'evt', '--software-type', 'main-fw', '--software-version', '7.2.0', 'broken.otab');
    expect(broken.code).toBe(2);
    expect(broken.err).toContain('starts like an OTA bundle but its header cannot be read');
    expect(JSON.parse((await ota('releases', '--json')).out).map((r: { version: string }) => r.version)).toEqual(['7.0.0', '7.1.0']);
  });

  it('keeps faults list/clear working under an admin fault that fires always, and listing does not use up a one-shot', async () => {
    const add = await ota('faults', 'add', '--kind', 'status', '--status', '500', '--route', 'admin', '--times', 'always');
    expect(add.code, add.err).toBe(0);
    expect((await ota('releases')).code).toBe(1);
    const list = await ota('faults', 'list');
    expect(list.code, list.err).toBe(0);
    expect(list.out).toMatch(/answer 500 on admin, always/);
    const clear = await ota('faults', 'clear');
    expect(clear.code, clear.err).toBe(0);
    expect(clear.out).toBe('Removed 1 fault rule\n');
    expect((await ota('releases')).code).toBe(0);
    expect((await ota('faults', 'add', '--kind', 'status', '--status', '503', '--route', 'admin')).code).toBe(0);
    expect((await ota('faults', 'list')).out).toMatch(/answer 503 on admin, 1 more time \(fired 0\)/);
    expect((await ota('releases')).code).toBe(3);
    expect((await ota('releases')).code).toBe(0);
  });

  it('checks fault flags client-side: exit 2 and one status range for every invalid fault, nothing added', async () => {
    const cases: [string[], RegExp][] = [
      [['--kind', 'nope'], /--kind must be one of drop, stall, throttle, status, ignore-range, corrupt, truncate, etag, got "nope"/],
      [[], /--kind is required/],
      [['--kind', 'drop', '--route', 'everywhere'], /--route must be one of latest-url, latest, device-api, cdn, admin, any/],
      [['--kind', 'status', '--status', '99'], /--status must be an integer from 200 to 599, got "99"/],
      [['--kind', 'status', '--status', '700'], /--status must be an integer from 200 to 599, got "700"/],
      [['--kind', 'status'], /--kind status needs --status \(e\.g\. 503\)/],
      [['--kind', 'throttle'], /--kind throttle needs --bytes-per-second > 0/],
      [['--kind', 'corrupt'], /--kind corrupt needs --offset/],
      [['--kind', 'drop', '--serial', 'bad serial'], /--serial must match/],
      [['--kind', 'drop', '--times', '0'], /--times must be an integer from 1 to 1000000/],
      [['--kind', 'status', '--status', '503', '--reason', 'a\nb'], /--reason must be a one-line string/],
    ];
    for (const [args, message] of cases) {
      const result = await ota('faults', 'add', ...args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.err).toMatch(message);
    }
    expect((await ota('faults', 'list')).out).toBe('No fault rules.\n');
  });
});
