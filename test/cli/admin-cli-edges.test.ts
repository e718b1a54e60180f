import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { normalBaseUrl } from '../../src/cli/admin-client.js';
import { runner, servedCli } from './served-cli.js';

// A QA round driving the backend commands as a CI script would: `--url` copied with a trailing slash (or typed with
// an upper-case scheme) lost the credentials of server.json, a --host that is no address of this machine ended with
// a raw EADDRNOTAVAIL and exit 1, and `certs export -o /proc/x` spun forever.

describe('admin commands against a local `ota serve`', () => {
  const served = servedCli('ota-cli-qa-');
  const { dir, dataDir, ota } = served;

  it('finds the server.json credentials for the printed URL however it is spelled (trailing slash, upper-case scheme/host)', async () => {
    const upper = served.backend.baseUrl.replace('http://', 'HTTP://');
    for (const url of [served.backend.baseUrl, `${served.backend.baseUrl}/`, `${served.backend.baseUrl}//`, upper]) {
      const result = await ota('cohorts', '--url', url, '--json');
      expect(result.err, url).toBe('');
      expect(result.code, url).toBe(0);
      expect(JSON.parse(result.out)[0].slug).toBe('default');
    }
    const env = runner(dir, () => ({ OTA_DATA: dataDir, MEMFAULT_URL: `${served.backend.baseUrl}/` }));
    expect((await env('releases')).code).toBe(0);
  });

  it('exits 3 (unavailable, retry) on 429, 502, 504 and 529 as on 503, naming the Retry-After; 1 on a 500', async () => {
    for (const status of [429, 502, 503, 504, 529]) {
      served.backend.faults.add({ route: 'admin', kind: 'status', status, retryAfter: '7' });
      const result = await ota('releases');
      expect(result.code, String(status)).toBe(3);
      expect(result.err).toContain(`(HTTP ${status}); retry after 7 (Retry-After)`);
    }
    served.backend.faults.add({ route: 'admin', kind: 'status', status: 500 });
    expect((await ota('releases')).code).toBe(1);
    expect((await ota('releases')).code).toBe(0);
  });

  it('refuses a cohort, release version or serial that can never exist with exit 2, instead of "no cohort X, create it"', async () => {
    const cases: [string[], string][] = [
      [['deploy-release', '--release-version', '1.0.0', '--cohort', 'Beta Testers'], '--cohort: a cohort slug is'],
      [['deploy-release', '--release-version', '1.0.0-β', '--cohort', 'default'], '--release-version: a release version is'],
      [['abort-rollout', '--cohort', 'ünï'], '--cohort: a cohort slug is'],
      [['device', 'move', 'bad serial', '--cohort', 'default'], 'SERIAL: a device serial is'],
      [['device', 'move', 'SN1', '--cohort', 'No Such'], '--cohort: a cohort slug is'],
      [['cohorts', '--create', 'Beta Testers'], '--create: a cohort slug is'],
    ];
    for (const [argv, text] of cases) {
      const result = await ota(...argv);
      expect(result.code, argv.join(' ')).toBe(2);
      expect(result.err).toContain(text);
      expect(result.err).not.toContain('create it with');
    }
    // Valid names still reach the backend, which answers for the ones that do not exist.
    const missing = await ota('deploy-release', '--release-version', '9.9.9', '--cohort', 'default');
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('no release 9.9.9');
  });

  it('takes options written before the command name, as memfault-cli takes its global ones', async () => {
    const bare = runner(dir);
    for (const argv of [['--data', dataDir, 'cohorts', '--json'], ['--data', dataDir, '--json', 'cohorts'], [`--data=${dataDir}`, 'cohorts', '--json'],
      ['--url', served.backend.baseUrl, '--data', dataDir, 'cohorts', '--json']]) {
      const result = await bare(...argv);
      expect(result.err, argv.join(' ')).toBe('');
      expect(result.code, argv.join(' ')).toBe(0);
      expect(JSON.parse(result.out)[0].slug).toBe('default');
    }
    // An option the command does not have, or a stray word, still names what is wrong.
    const unknown = await bare('--colour', 'cohorts');
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('unknown command "--colour"');
    const stray = await bare('--data', dataDir, 'extra', 'cohorts');
    expect(stray.code).toBe(2);
  });

  it('refuses a --url with credentials, a query or no http scheme (exit 2) and never prints the password', async () => {
    const port = new URL(served.backend.baseUrl).port;
    const withPassword = await ota('releases', '--url', `http://user:S3cretPw@127.0.0.1:${port}`);
    expect(withPassword.code).toBe(2);
    expect(withPassword.err).toContain('must not carry a user name or password');
    expect(withPassword.err).not.toContain('S3cretPw');
    expect((await ota('releases', '--url', `${served.backend.baseUrl}/?x=1`)).code).toBe(2);
    const ftp = await ota('releases', '--url', 'ftp://user:S3cretPw@127.0.0.1');
    expect(ftp.code).toBe(2);
    expect(ftp.err).toContain('--url must be an http(s) URL');
    expect(ftp.err).not.toContain('S3cretPw');
    expect(normalBaseUrl('HTTPS://Example.COM:8443/base/')).toBe('https://example.com:8443/base');
  });

  it('says why a --url other than the served one gets no token from server.json (a wrong scheme), and never sends it', async () => {
    const other = served.backend.baseUrl.replace('http://', 'https://');
    const result = await ota('releases', '--url', other);
    expect(result.code).toBe(2);
    expect(result.err).toContain(`no organization token for ${other}: the data directory's server.json holds the token of ${served.backend.baseUrl} only`);
    expect(result.err).toContain('drop --url');
    expect(result.err).not.toContain(served.backend.orgToken);
  });
});

describe('ota serve, certs export and device run refusing places they cannot use', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ota-cli-qa-places-'));
  const ota = runner(dir);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses a --host that is not an address of this machine with exit 2 and the fix, not a raw EADDRNOTAVAIL', async () => {
    // 192.0.2.1 is TEST-NET-1 (RFC 5737): never assigned to a local interface.
    const result = await ota('serve', '--http', '--port', '0', '--host', '192.0.2.1', '--data', 'data');
    expect(result.code).toBe(2);
    expect(result.err).toContain('cannot listen on --host 192.0.2.1 (EADDRNOTAVAIL)');
    expect(result.err).toContain('pass --host 127.0.0.1');
    // The lock was released: the directory is free for the next attempt.
    expect(existsSync(join(dir, 'data', 'lock'))).toBe(false);
  });

  it('refuses `ota serve --data`, `certs export -o` and `device run --dir` under /proc at once (exit 2) instead of spinning forever', () => {
    // Child processes: the old code looped synchronously, which no in-process timeout can stop.
    const run = (...argv: string[]) => spawnSync(join(process.cwd(), 'node_modules/.bin/tsx'), [join(process.cwd(), 'src/cli/main.ts'), ...argv],
      { cwd: dir, encoding: 'utf8', timeout: 60_000 });
    const serve = run('serve', '--http', '--port', '0', '--data', '/proc/ota-qa-no-such-dir');
    expect(serve.signal).toBeNull();
    expect(serve.status).toBe(2);
    expect(serve.stderr).toContain('cannot create the data directory /proc/ota-qa-no-such-dir (ENOENT)');
    const certs = run('certs', 'export', '--format', 'der', '-o', '/proc/ota-qa-no-such-dir');
    expect(certs.signal).toBeNull();
    expect(certs.status).toBe(2);
    expect(certs.stderr).toContain('cannot create the directory /proc/ota-qa-no-such-dir (ENOENT)');
    const device = run('device', 'run', '--dir', '/proc/ota-qa-no-such-dir', '--serial', 'SN1', '--hardware-version', 'evt', '--software-type', 'main-fw',
      '--url', 'http://127.0.0.1:9', '--project-key', 'k', '--once');
    expect(device.signal).toBeNull();
    expect(device.status).toBe(2);
    expect(device.stderr).toContain('--dir: cannot create the directory /proc/ota-qa-no-such-dir (ENOENT)');
  }, 190_000);
});
