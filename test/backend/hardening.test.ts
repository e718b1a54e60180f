import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBackend, type Backend } from '../../src/backend/index.js';
import { adminCalls, checkForUpdate, httpCall, payloadBytes } from './helpers.js';

// Bugs found by QA using the backend: empty payloads, downgrade flags given as strings, faults that lock out the
// fault API, state files with the right schema number but the wrong shape, two backends on one data directory.

const evt = { hardware_version: 'evt', software_type: 'main' };

/** The pid of a process that has exited (and been reaped): a stale lock holder. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(child.stdout);
}

describe('admin API input checks', () => {
  let backend: Backend;
  let project = '';
  const { auth, json, upload: uploadWithMd5 } = adminCalls(() => backend);
  const upload = (bytes: Buffer, fields: { [key: string]: unknown }) => uploadWithMd5(bytes, fields, false);
  const errorOf = (reply: { body: Buffer }): string => JSON.parse(reply.body.toString()).error.message;


  beforeAll(async () => {
    backend = await startBackend({ http: true });
    project = `/api/v0/organizations/${backend.org}/projects/${backend.project}`;
    await backend.admin.uploadPayload(payloadBytes(300), { hardwareVersion: 'evt', softwareType: 'main', softwareVersion: '1.0.0' });
  });
  afterAll(() => backend.close());

  it('refuses an empty payload (admin API and admin.uploadPayload) and stores nothing', async () => {
    const before = readFileSync(join(backend.dataDir, 'state.json'), 'utf8');
    const reply = await upload(Buffer.alloc(0), { software_version: { version: '0.0.0', software_type: 'main' }, hardware_version: 'evt' });
    expect(reply.status).toBe(400);
    expect(reply.headers['x-error-code']).toBe('payload-empty');
    expect(errorOf(reply)).toMatch(/empty \(0 bytes\)/);
    await expect(backend.admin.uploadPayload(new Uint8Array(0), { hardwareVersion: 'evt', softwareType: 'main', softwareVersion: '0.0.1' }))
      .rejects.toMatchObject({ code: 'payload-empty' });
    expect(backend.admin.releases().map((r) => r.version)).toEqual(['1.0.0']);
    expect(readFileSync(join(backend.dataDir, 'state.json'), 'utf8')).toBe(before);
    expect(readdirSync(join(backend.dataDir, 'uploads'))).toEqual([]);
  });

  it('requires allow_downgrade and must_pass_through to be JSON booleans: "false" is a 400, not a downgrade', async () => {
    const deployments = backend.admin.deployments().length;
    for (const value of ['false', 'true', 0, 1, {}]) {
      const reply = await json('POST', `${project}/deployments`, { release: '1.0.0', cohort: 'default', allow_downgrade: value });
      expect(reply.status, JSON.stringify(value)).toBe(400);
      expect(errorOf(reply)).toMatch(/allow_downgrade must be true or false/);
    }
    expect(backend.admin.deployments().length).toBe(deployments);
    const ok = await json('POST', `${project}/deployments`, { release: '1.0.0', cohort: 'default', allow_downgrade: false });
    expect(ok.status).toBe(201);
    expect(JSON.parse(ok.body.toString()).data.allow_downgrade).toBe(false);
    expect((await json('POST', `${project}/deployments`, { release: '1.0.0', cohort: 'default', allow_downgrade: null })).status).toBe(201);
    const mpt = await upload(payloadBytes(10), { software_version: { version: '1.0.1', software_type: 'main' }, hardware_version: 'evt', must_pass_through: 'false' });
    expect(mpt.status).toBe(400);
    expect(errorOf(mpt)).toMatch(/must_pass_through must be true or false/);
    expect(() => backend.admin.deploy({ releaseVersion: '1.0.0', cohort: 'default', allowDowngrade: 'false' as unknown as boolean })).toThrow(/allow_downgrade must be true or false/);
  });

  it('checks a deployment type against the documented values and against rollout_percent', async () => {
    const count = backend.admin.deployments().length;
    const weird = await json('POST', `${project}/deployments`, { type: 'weird', release: '1.0.0', cohort: 'default' });
    expect(weird.status).toBe(400);
    expect(errorOf(weird)).toMatch(/type must be "normal" or "staged_rollout"/);
    const contradicting = await json('POST', `${project}/deployments`, { type: 'normal', release: '1.0.0', cohort: 'default', rollout_percent: 30 });
    expect(contradicting.status).toBe(400);
    expect(errorOf(contradicting)).toMatch(/contradicts rollout_percent 30/);
    expect((await json('POST', `${project}/deployments`, { type: 'staged_rollout', release: '1.0.0', cohort: 'default' })).status).toBe(400);
    expect(backend.admin.deployments().length).toBe(count);
    const staged = await json('POST', `${project}/deployments`, { type: 'staged_rollout', release: '1.0.0', cohort: 'default', rollout_percent: 30 });
    expect(staged.status).toBe(201);
    expect(JSON.parse(staged.body.toString()).data).toMatchObject({ type: 'staged_rollout', rollout_percent: 30 });
    expect((await json('POST', `${project}/deployments`, { type: 'normal', release: '1.0.0', cohort: 'default' })).status).toBe(201);
  });

  it('sends x-error-code on 401 and 403 as on every other admin error', async () => {
    const missing = await json('GET', `${project}/releases`, undefined, {});
    expect(missing.status).toBe(401);
    expect(missing.headers['x-error-code']).toBe('auth-required');
    const wrong = await json('GET', `${project}/releases`, undefined, { Authorization: `Bearer nope` });
    expect(wrong.status).toBe(403);
    expect(wrong.headers['x-error-code']).toBe('auth-invalid');
  });

  it('never applies admin or any faults to the fault API itself, so an "always" fault can be listed and cleared', async () => {
    const faults = `${backend.baseUrl}/api/v0/mock/faults`;
    for (const route of ['admin', 'any']) {
      expect((await json('POST', '/api/v0/mock/faults', { kind: 'status', status: 500, route, times: 'always' })).status).toBe(201);
      // The project routes get the fault ...
      expect((await json('GET', `${project}/releases`)).status).toBe(500);
      // ... the fault API does not: list, info, delete one and delete all all answer.
      const list = await httpCall(faults, { headers: auth() });
      expect(list.status).toBe(200);
      expect(JSON.parse(list.body.toString()).data).toEqual([expect.objectContaining({ route, remaining: 'always' })]);
      expect((await json('GET', '/api/v0/mock/info')).status).toBe(200);
      expect((await httpCall(faults, { method: 'DELETE', headers: auth() })).status).toBe(200);
      expect((await json('GET', `${project}/releases`)).status).toBe(200);
    }
    // A one-shot admin fault is not used up by listing the faults: it waits for the next project request.
    await json('POST', '/api/v0/mock/faults', { kind: 'status', status: 503, route: 'admin' });
    const listed = JSON.parse((await httpCall(faults, { headers: auth() })).body.toString()).data;
    expect(listed).toEqual([expect.objectContaining({ remaining: 1, fired: 0 })]);
    expect((await json('GET', `${project}/releases`)).status).toBe(503);
    expect((await json('GET', `${project}/releases`)).status).toBe(200);
  });
});

describe('CDN with an empty payload file', () => {
  it('answers 200 with Content-Length 0, and a Range with 416 bytes */0', async () => {
    const backend = await startBackend({ http: true });
    try {
      await backend.admin.uploadPayload(payloadBytes(100), { hardwareVersion: 'evt', softwareType: 'main', softwareVersion: '1.0.0' });
      backend.admin.deploy({ releaseVersion: '1.0.0', cohort: 'default' });
      const link = (await checkForUpdate(backend, { device_serial: 'E0', ...evt, current_version: '0.9' })).body.toString();
      const sha = new URL(link).pathname.split('/')[3];
      // Uploads refuse empty files; a file emptied on disk must still get a well-formed answer.
      truncateSync(join(backend.dataDir, 'payloads', sha), 0);
      const whole = await httpCall(link);
      expect(whole.status).toBe(200);
      expect(whole.headers['content-length']).toBe('0');
      expect(whole.body.length).toBe(0);
      const head = await httpCall(link, { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(head.headers['content-length']).toBe('0');
      for (const range of ['bytes=0-', 'bytes=0-0', 'bytes=-5']) {
        const ranged = await httpCall(link, { headers: { Range: range } });
        expect(ranged.status, range).toBe(416);
        expect(ranged.headers['content-range']).toBe('bytes */0');
      }
    } finally {
      await backend.close();
    }
  });
});

describe('state.json shape and payload files at startup', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ota-state-check-'));
  let good = '';
  let sha = '';
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  beforeAll(async () => {
    const dataDir = join(dir, 'template');
    const backend = await startBackend({ http: true, dataDir });
    await backend.admin.uploadPayload(payloadBytes(200), { hardwareVersion: 'evt', softwareType: 'main', softwareVersion: '1.0.0' });
    backend.admin.deploy({ releaseVersion: '1.0.0', cohort: 'default' });
    backend.admin.createDevice('SN5', 'evt');
    sha = backend.admin.releases()[0].artifacts[0].sha256;
    await backend.close();
    good = readFileSync(join(dataDir, 'state.json'), 'utf8');
  });

  /** A data directory holding `state` (and the payload file unless `withPayload` is false). */
  function dataDirWith(name: string, state: unknown, withPayload = true): string {
    const dataDir = join(dir, name);
    mkdirSync(join(dataDir, 'payloads'), { recursive: true });
    writeFileSync(join(dataDir, 'state.json'), typeof state === 'string' ? state : JSON.stringify(state));
    if (withPayload) writeFileSync(join(dataDir, 'payloads', sha), payloadBytes(200));
    return dataDir;
  }

  const cases: [string, (state: any) => void, RegExp][] = [
    ['releases null', (s) => { s.releases = null; }, /: releases must be an object, found null/],
    ['a device null', (s) => { s.devices.SN5 = null; }, /: devices\.SN5 must be an object, found null/],
    ['deployments not an array', (s) => { s.deployments = {}; }, /: deployments must be an array/],
    ['a deployment of an unknown release', (s) => { s.deployments[0].releaseVersion = '9.9.9'; }, /deployments\[0\]\.releaseVersion must be a version in "releases"/],
    ['an artifact without sha256', (s) => { delete s.releases['1.0.0'].artifacts[0].sha256; }, /releases\["1\.0\.0"\]\.artifacts\[0\]\.sha256 must be 64 lower-case hex digits/],
    ['allowDowngrade as a string', (s) => { s.deployments[0].allowDowngrade = 'false'; }, /deployments\[0\]\.allowDowngrade must be true or false/],
    ['cohorts missing', (s) => { delete s.cohorts; }, /: cohorts must be an object, found undefined/],
    ['a device in a cohort that does not exist', (s) => { s.devices.SN5.cohort = 'gone'; }, /devices\.SN5\.cohort must be a cohort in "cohorts", found "gone"/],
    ['a project key of the wrong type', (s) => { s.projectKey = 42; }, /: projectKey must be a non-empty string/],
  ];

  it.each(cases)('refuses %s with backend-state-corrupt naming the path, and leaves the file untouched', async (name, damage, message) => {
    const state = JSON.parse(good);
    damage(state);
    const text = JSON.stringify(state);
    const dataDir = dataDirWith(name.replace(/ /g, '-'), text);
    await expect(startBackend({ http: true, dataDir })).rejects.toMatchObject({ code: 'backend-state-corrupt', message: expect.stringMatching(message) });
    await expect(startBackend({ http: true, dataDir })).rejects.toMatchObject({ message: expect.stringContaining(join(dataDir, 'state.json')) });
    expect(readFileSync(join(dataDir, 'state.json'), 'utf8')).toBe(text);
  });

  it('refuses to start when a release\'s payload file is missing or has the wrong size, naming the release and the file', async () => {
    const missing = dataDirWith('missing-payload', good, false);
    await expect(startBackend({ http: true, dataDir: missing })).rejects.toMatchObject({
      code: 'backend-payload-missing',
      message: expect.stringMatching(new RegExp(`release 1\\.0\\.0 \\(main for hardware evt, artifact [0-9]+\\) has no payload file ${join(missing, 'payloads', sha)}`)),
    });
    expect(readFileSync(join(missing, 'state.json'), 'utf8')).toBe(good);
    const short = dataDirWith('short-payload', good);
    truncateSync(join(short, 'payloads', sha), 10);
    await expect(startBackend({ http: true, dataDir: short })).rejects.toMatchObject({ code: 'backend-payload-missing', message: expect.stringMatching(/holds 10 bytes, not the 200 uploaded/) });
    // With the file back it starts and serves.
    const restored = dataDirWith('restored', good);
    const backend = await startBackend({ http: true, dataDir: restored });
    try {
      const check = await checkForUpdate(backend, { device_serial: 'SN5', ...evt, current_version: '0.9' });
      expect(check.status).toBe(200);
      expect((await httpCall(check.body.toString())).body.equals(payloadBytes(200))).toBe(true);
    } finally {
      await backend.close();
    }
  });
});

describe('one backend per data directory', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ota-lock-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses a second backend on a data directory in use, changes nothing, and frees it on close', async () => {
    const dataDir = join(dir, 'a');
    const first = await startBackend({ http: true, dataDir });
    try {
      const state = readFileSync(join(dataDir, 'state.json'), 'utf8');
      await expect(startBackend({ http: true, dataDir, projectKey: 'other' })).rejects.toMatchObject({
        code: 'dir-locked', message: expect.stringContaining(`is using ${dataDir}`), details: { pid: process.pid },
      });
      expect(readFileSync(join(dataDir, 'state.json'), 'utf8')).toBe(state);
      expect(first.projectKey).not.toBe('other');
    } finally {
      await first.close();
    }
    const second = await startBackend({ http: true, dataDir });
    await second.close();
  });

  it('takes over a stale lock left by a dead process, and refuses one held by a live process', async () => {
    const dataDir = join(dir, 'b');
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(join(dataDir, 'lock'), String(deadPid()));
    const backend = await startBackend({ http: true, dataDir });
    expect(readFileSync(join(dataDir, 'lock'), 'utf8')).toMatch(new RegExp(`^${process.pid}( [0-9]+)?$`));
    await backend.close();
    expect(readdirSync(dataDir)).not.toContain('lock');
    // The parent of this test process is alive and is not us.
    writeFileSync(join(dataDir, 'lock'), String(process.ppid));
    await expect(startBackend({ http: true, dataDir })).rejects.toMatchObject({ code: 'dir-locked', details: { pid: process.ppid } });
    expect(readFileSync(join(dataDir, 'lock'), 'utf8')).toBe(String(process.ppid));
    rmSync(join(dataDir, 'lock'));
  });

  it('refuses a data directory that is a file, with the path in the message', async () => {
    const file = join(dir, 'plain-file');
    writeFileSync(file, 'x');
    await expect(startBackend({ http: true, dataDir: file })).rejects.toMatchObject({ code: 'backend-data-dir-invalid', message: expect.stringContaining(`${file} is a file, not a directory`) });
  });
});
