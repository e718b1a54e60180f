import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/command.js';
import { startBackend, rolloutBucket, type Backend } from '../../src/backend/index.js';
import { caOf, checkForUpdate, httpCall, payloadBytes } from '../backend/helpers.js';

interface Run { code: number; out: string; err: string }

function runner(env: () => { [name: string]: string | undefined }, cwd: string): (argv: string[]) => Promise<Run> {
  return async (argv) => {
    let out = '';
    let err = '';
    const io: CliIo = { out: (t) => { out += t; }, err: (t) => { err += t; }, env: env(), cwd, isTty: false };
    const code = await main(argv, io);
    return { code, out, err };
  };
}

const evt = { hardware_version: 'evt', software_type: 'main' };

describe('release workflow through the ota CLI (in-process, HTTPS)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ota-cli-'));
  const dataDir = join(dir, 'data');
  let backend: Backend;
  const env = () => ({ MEMFAULT_URL: backend.baseUrl, MEMFAULT_ORG_TOKEN: backend.orgToken, MEMFAULT_ORG: backend.org, MEMFAULT_PROJECT: backend.project, OTA_CA: backend.caPath });
  const ota = runner(env, dir);
  const v1 = payloadBytes(150_000, 1);
  const v2 = payloadBytes(90_000, 2);

  beforeAll(async () => {
    backend = await startBackend({ dataDir });
    writeFileSync(join(dir, 'app-1.1.0.bin'), v1);
    writeFileSync(join(dir, 'app-1.2.0.bin'), v2);
  });
  afterAll(async () => {
    await backend.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('uploads, deploys to default, serves the URL, and the payload downloads byte-identical with and without Range', async () => {
    const up = await ota(['upload-ota-payload', '--hardware-version', 'evt', '--software-type', 'main', '--software-version', '1.1.0', '--notes', 'first', '--extra-metadata', 'channel=beta', 'app-1.1.0.bin']);
    expect(up.err).toBe('');
    expect(up.code).toBe(0);
    expect(up.out).toMatch(/app-1\.1\.0\.bin: uploaded! Release 1\.1\.0/);
    const again = await ota(['upload-ota-payload', '--hardware-version', 'evt', '--software-type', 'main', '--software-version', '1.1.0', 'app-1.1.0.bin']);
    expect(again.code).toBe(0);
    expect(again.out).toMatch(/already uploaded/);
    const deploy = await ota(['deploy-release', '--release-version', '1.1.0', '--cohort', 'default']);
    expect(deploy.code).toBe(0);
    expect(deploy.out).toBe('Release 1.1.0 successfully deployed to Cohort default\n');

    const check = await checkForUpdate(backend, { device_serial: 'W1', ...evt, current_version: '1.0.0' });
    expect(check.status).toBe(200);
    const ca = caOf(backend);
    const whole = await httpCall(check.body.toString(), { ca });
    expect(whole.body.equals(v1)).toBe(true);
    const parts: Buffer[] = [];
    for (let at = 0; at < v1.length; at += 40_000) {
      const part = await httpCall(check.body.toString(), { ca, headers: { Range: `bytes=${at}-${Math.min(v1.length, at + 40_000) - 1}` } });
      expect(part.status).toBe(206);
      parts.push(part.body);
    }
    expect(Buffer.concat(parts).equals(v1)).toBe(true);

    const latest = await checkForUpdate(backend, { device_serial: 'W1', ...evt, current_version: '1.1.0' });
    expect(latest.status).toBe(204);
    expect(latest.headers['memfault-reason']).toBe('latest');

    const devices = await ota(['devices', '--json']);
    expect(JSON.parse(devices.out)).toEqual([expect.objectContaining({ device_serial: 'W1', hardware_version: 'evt', cohort: { slug: 'default' }, software_version: '1.1.0' })]);
    expect((await ota(['devices'])).out).toMatch(/^SERIAL\s+HARDWARE\s+COHORT\s+VERSION\s+LAST SEEN\nW1\s+evt\s+default\s+1\.1\.0/);
    const releases = JSON.parse((await ota(['releases', '--json'])).out);
    expect(releases[0]).toMatchObject({ version: '1.1.0', notes: 'first', artifacts: [{ file_size: v1.length, extra_info: { channel: 'beta' } }] });
    expect((await ota(['cohorts'])).out).toMatch(/default\s+1\s+1\.1\.0\s+100%\s+in_progress/);
  });

  it('aborts a rollout (deploy-release --deactivate and its alias abort-rollout)', async () => {
    await ota(['upload-ota-payload', '--hardware-version', 'evt', '--software-type', 'main', '--software-version', '1.2.0', 'app-1.2.0.bin']);
    expect((await ota(['deploy-release', '--release-version', '1.2.0', '--cohort', 'default'])).code).toBe(0);
    expect((await checkForUpdate(backend, { device_serial: 'W1', ...evt, current_version: '1.1.0' })).status).toBe(200);
    const off = await ota(['deploy-release', '--cohort', 'default', '--deactivate']);
    expect(off.code).toBe(0);
    expect(off.out).toMatch(/release 1\.2\.0 to cohort default deactivated/);
    const none = await checkForUpdate(backend, { device_serial: 'W1', ...evt, current_version: '1.1.0' });
    expect(none.status).toBe(204);
    expect(none.headers['memfault-reason']).toBeUndefined();
    const twice = await ota(['abort-rollout', '--cohort', 'default']);
    expect(twice.code).toBe(1);
    expect(twice.err).toMatch(/no active deployment/);
    expect((await ota(['deploy-release', '--release-version', '1.2.0', '--cohort', 'default'])).code).toBe(0);
    const alias = await ota(['abort-rollout', '--cohort', 'default', '--json']);
    expect(alias.code).toBe(0);
    expect(JSON.parse(alias.out)).toMatchObject({ status: 'pulled', release: { version: '1.2.0' } });
  });

  it('stages a rollout to the devices whose stable hash is below the percentage', async () => {
    expect((await ota(['cohorts', '--create', 'field'])).code).toBe(0);
    const serials = Array.from({ length: 40 }, (_, i) => `FIELD-${i}`);
    for (const serial of serials) {
      await checkForUpdate(backend, { device_serial: serial, ...evt, current_version: '1.0.0' });
      const moved = await ota(['device', 'move', serial, '--cohort', 'field']);
      expect(moved.code).toBe(0);
    }
    const deploy = await ota(['deploy-release', '--release-version', '1.2.0', '--cohort', 'field', '--rollout-percent', '30']);
    expect(deploy.out).toMatch(/staged rollout to 30%/);
    const offered: string[] = [];
    for (const serial of serials) {
      if ((await checkForUpdate(backend, { device_serial: serial, ...evt, current_version: '1.0.0' })).status === 200) offered.push(serial);
    }
    expect(offered).toEqual(serials.filter((s) => rolloutBucket(s, '1.2.0') < 30));
    expect(offered.length).toBeGreaterThan(0);
    expect(offered.length).toBeLessThan(serials.length);
  });

  it('manages faults from the command line', async () => {
    const add = await ota(['faults', 'add', '--kind', 'status', '--route', 'device-api', '--status', '503', '--retry-after', '12', '--times', 'always']);
    expect(add.code).toBe(0);
    expect(add.out).toMatch(/answer 503 \(Retry-After 12\) on device-api, always/);
    const shed = await checkForUpdate(backend, { device_serial: 'W1', ...evt });
    expect(shed.status).toBe(503);
    expect(shed.headers['retry-after']).toBe('12');
    expect(JSON.parse((await ota(['faults', 'list', '--json'])).out)).toHaveLength(1);
    expect((await ota(['faults', 'clear'])).out).toBe('Removed 1 fault rule\n');
    expect((await ota(['faults', 'list'])).out).toBe('No fault rules.\n');
    const bad = await ota(['faults', 'add', '--kind', 'melt']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/kind must be one of/);
  });

  it('names the fix in its errors and exits with meaningful codes, changing nothing', async () => {
    const snapshot = (): string => JSON.stringify([backend.admin.releases(), backend.admin.cohorts(), backend.admin.deployments(), backend.admin.devices(), backend.faults.list()]);
    const before = snapshot();
    const unknown = await ota(['deploy-release', '--release-version', '9.9.9', '--cohort', 'default']);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toMatch(/no release 9\.9\.9 — upload it first with `ota upload-ota-payload --hardware-version HV --software-type ST --software-version 9\.9\.9 FILE`/);
    const cohort = await ota(['deploy-release', '--release-version', '1.2.0', '--cohort', 'nope']);
    expect(cohort.err).toMatch(/no cohort nope — create it with `ota cohorts --create nope`/);
    const device = await ota(['device', 'move', 'GHOST', '--cohort', 'default']);
    expect(device.code).toBe(1);
    expect(device.err).toMatch(/no device GHOST/);
    const usage = await ota(['deploy-release', '--cohort', 'default']);
    expect(usage.code).toBe(2);
    expect(usage.err).toMatch(/--release-version is required/);
    const percent = await ota(['deploy-release', '--release-version', '1.2.0', '--cohort', 'default', '--rollout-percent', '0']);
    expect(percent.code).toBe(2);
    const token = await ota(['devices', '--org-token', 'wrong']);
    expect(token.code).toBe(1);
    expect(token.err).toMatch(/pass the org token of this backend/);
    expect(token.err).not.toContain(backend.orgToken);
    const noFile = await ota(['upload-ota-payload', '--hardware-version', 'evt', '--software-type', 'main', '--software-version', '3.0.0', 'missing.bin']);
    expect(noFile.code).toBe(2);
    const traversal = await ota(['upload-ota-payload', '--hardware-version', 'evt', '--software-type', 'main', '--software-version', '1.0;rm -rf', 'app-1.1.0.bin']);
    expect(traversal.code).toBe(1);
    expect(traversal.err).toMatch(/software_version\.version must be/);
    const delta = await ota(['upload-ota-payload', '--hardware-version', 'evt', '--software-type', 'main', '--delta-from', '1.0.0', '--delta-to', '1.1.0', 'app-1.1.0.bin']);
    expect(delta.code).toBe(2);
    expect(delta.err).toMatch(/delta releases .* not modelled/);
    const untrusted = await runner(() => ({ ...env(), OTA_CA: undefined }), dir)(['devices']);
    expect(untrusted.code).toBe(1);
    expect(untrusted.err).toMatch(/--ca/);
    const down = await runner(() => ({ ...env(), MEMFAULT_URL: 'http://127.0.0.1:1' }), dir)(['devices']);
    expect(down.code).toBe(3);
    expect(down.err).toMatch(/cannot reach the backend at http:\/\/127\.0\.0\.1:1 .*ota serve/);
    expect(snapshot()).toBe(before);
  });

  it('keeps releases, deployments, devices and credentials across a restart', async () => {
    const releases = (await ota(['releases', '--json'])).out;
    const cohorts = (await ota(['cohorts', '--json'])).out;
    const staged = Array.from({ length: 40 }, (_, i) => `FIELD-${i}`).find((s) => rolloutBucket(s, '1.2.0') < 30) as string;
    const link = (await checkForUpdate(backend, { device_serial: staged, ...evt })).body.toString();
    const { projectKey, orgToken } = backend;
    await backend.close();
    backend = await startBackend({ dataDir });
    expect(backend.projectKey).toBe(projectKey);
    expect(backend.orgToken).toBe(orgToken);
    expect((await ota(['releases', '--json'])).out).toBe(releases);
    expect(JSON.parse((await ota(['cohorts', '--json'])).out)).toEqual(JSON.parse(cohorts));
    expect(JSON.parse((await ota(['devices', '--json'])).out).length).toBe(41);
    // Links signed before the restart still verify (the signing key is persisted) on the CDN's old path.
    const path = new URL(link).pathname + new URL(link).search;
    const payload = await httpCall(backend.cdnBaseUrl + path, { ca: caOf(backend) });
    expect(payload.status).toBe(200);
    expect(payload.body.equals(v2)).toBe(true);
    expect(JSON.parse(readFileSync(join(dataDir, 'state.json'), 'utf8')).schema).toBe(1);
  });
});

describe('ota serve (child process)', () => {
  it('starts, prints its connection, answers the admin commands via <data>/server.json, and stops on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ota-serve-'));
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--port', '0', '--http', '--data', join(dir, 'data'), '--json', '--project-key', 'pk-test'], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let text = '';
        child.stdout.on('data', (chunk: Buffer) => { text += chunk.toString(); if (text.includes('\n')) resolve(text.split('\n')[0]); });
        child.on('exit', (code) => reject(new Error(`serve exited early with ${code}`)));
      });
      const info = JSON.parse(line);
      expect(info).toMatchObject({ projectKey: 'pk-test', org: 'acme', project: 'smart-sensor' });
      expect(info.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:[0-9]+$/);
      const ota = runner(() => ({}), dir);
      const cohorts = await ota(['cohorts', '--data', 'data', '--json']);
      expect(cohorts.err).toBe('');
      expect(JSON.parse(cohorts.out).map((c: { slug: string }) => c.slug)).toEqual(['default']);
      const reply = await httpCall(`${info.baseUrl}/api/v0/releases/latest/url?device_serial=A&hardware_version=evt&software_type=main`, { headers: { 'Memfault-Project-Key': 'pk-test' } });
      expect(reply.status).toBe(400);
      const port = new URL(info.baseUrl).port;
      const clash = await ota(['serve', '--port', port, '--http', '--data', 'other']);
      expect(clash.code).toBe(1);
      expect(clash.err).toMatch(/port [0-9]+ is already in use .*--port 0/);
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      expect(existsSync(join(dir, 'data', 'server.json'))).toBe(true);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      // Gone with the server: a stale record would send the next command to ports nobody listens on.
      expect(existsSync(join(dir, 'data', 'server.json'))).toBe(false);
      expect(existsSync(join(dir, 'data', 'state.json'))).toBe(true);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
