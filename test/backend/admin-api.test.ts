import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startBackend, type Backend } from '../../src/backend/index.js';
import { adminCalls, httpCall, payloadBytes, rawRequest } from './helpers.js';

describe('admin API', () => {
  let backend: Backend;
  let project = '';
  const { auth, json, upload } = adminCalls(() => backend);
  const stateText = (): string => readFileSync(join(backend.dataDir, 'state.json'), 'utf8');
  const payloadFiles = (): string[] => readdirSync(join(backend.dataDir, 'payloads')).sort();


  beforeAll(async () => {
    backend = await startBackend({ http: true, maxJsonBytes: 4096, maxUploadBytes: 1_000_000 });
    project = `/api/v0/organizations/${backend.org}/projects/${backend.project}`;
  });
  afterAll(() => backend.close());

  it('accepts the org token as Basic auth, Bearer or Memfault-Org-Token; 401 without, 403 when wrong', async () => {
    expect((await json('GET', `${project}/releases`)).status).toBe(200);
    expect((await json('GET', `${project}/releases`, undefined, { Authorization: `Bearer ${backend.orgToken}` })).status).toBe(200);
    expect((await json('GET', `${project}/releases`, undefined, { 'Memfault-Org-Token': backend.orgToken })).status).toBe(200);
    const missing = await json('GET', `${project}/releases`, undefined, {});
    expect(missing.status).toBe(401);
    expect(JSON.parse(missing.body.toString()).error.message).toMatch(/--org-token/);
    const wrong = await json('GET', `${project}/releases`, undefined, { Authorization: 'Basic ' + Buffer.from('x:nope').toString('base64') });
    expect(wrong.status).toBe(403);
    expect(wrong.body.toString()).not.toContain(backend.orgToken);
  });

  it('runs Memfault\'s upload flow: upload slot, PUT, releases/ota_payload', async () => {
    const reply = await upload(payloadBytes(1234), { software_version: { version: '1.0.0', software_type: 'main', revision: 'abc' }, hardware_version: 'evt', notes: 'first', extra_info: { k: 'v' } });
    expect(reply.status).toBe(200);
    const release = JSON.parse(reply.body.toString()).data;
    expect(release).toMatchObject({ version: '1.0.0', notes: 'first', revision: 'abc' });
    expect(release.artifacts[0]).toMatchObject({ filename: 'app.bin', file_size: 1234, hardware_version: 'evt', software_type: 'main', extra_info: { k: 'v' } });
    expect(payloadFiles()).toEqual([release.artifacts[0].sha256]);
  });

  it('answers 409 for a second payload of the same version, hardware and type, telling identical from different', async () => {
    const same = await upload(payloadBytes(1234), { software_version: { version: '1.0.0', software_type: 'main' }, hardware_version: 'evt' });
    expect(same.status).toBe(409);
    expect(same.headers['x-error-code']).toBe('artifact-exists-identical');
    const other = await upload(payloadBytes(99), { software_version: { version: '1.0.0', software_type: 'main' }, hardware_version: 'evt' });
    expect(other.headers['x-error-code']).toBe('artifact-exists');
  });

  const badInputs: [string, () => Promise<{ status: number; body: Buffer }>, number, RegExp][] = [
    ['path traversal in the payload name', async () => {
      const slot = JSON.parse((await json('POST', `${project}/upload`, {})).body.toString()).data;
      await httpCall(slot.upload_url, { method: 'PUT', body: payloadBytes(10) });
      return json('POST', `${project}/releases/ota_payload`, { file: { token: slot.token, name: '../../etc/passwd' }, software_version: { version: '2.0.1', software_type: 'main' }, hardware_version: 'evt' });
    }, 400, /file name/],
    ['a backslash name', async () => {
      const slot = JSON.parse((await json('POST', `${project}/upload`, {})).body.toString()).data;
      await httpCall(slot.upload_url, { method: 'PUT', body: payloadBytes(10) });
      return json('POST', `${project}/releases/ota_payload`, { file: { token: slot.token, name: '..\\x.bin' }, software_version: { version: '2.0.2', software_type: 'main' }, hardware_version: 'evt' });
    }, 400, /file name/],
    ['a wrong md5', async () => {
      const slot = JSON.parse((await json('POST', `${project}/upload`, {})).body.toString()).data;
      await httpCall(slot.upload_url, { method: 'PUT', body: payloadBytes(10) });
      return json('POST', `${project}/releases/ota_payload`, { file: { token: slot.token, md5: '0'.repeat(32), name: 'a.bin' }, software_version: { version: '2.0.3', software_type: 'main' }, hardware_version: 'evt' });
    }, 400, /md5/],
    ['an unknown upload token', () => json('POST', `${project}/releases/ota_payload`, { file: { token: 'f'.repeat(32), name: 'a.bin' }, software_version: { version: '2.0.4', software_type: 'main' }, hardware_version: 'evt' }), 400, /PUT the file/],
    ['a bad software version', async () => {
      const slot = JSON.parse((await json('POST', `${project}/upload`, {})).body.toString()).data;
      await httpCall(slot.upload_url, { method: 'PUT', body: payloadBytes(10) });
      return json('POST', `${project}/releases/ota_payload`, { file: { token: slot.token, name: 'a.bin' }, software_version: { version: 'v1\n2', software_type: 'main' }, hardware_version: 'evt' });
    }, 400, /software_version.version/],
    ['an oversized payload', async () => {
      const slot = JSON.parse((await json('POST', `${project}/upload`, {})).body.toString()).data;
      const path = new URL(slot.upload_url).pathname;
      return rawRequest(backend.baseUrl, `PUT ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000001\r\n\r\n`);
    }, 413, /exceeds the limit/],
    ['an upload that streams past the limit', async () => {
      const slot = JSON.parse((await json('POST', `${project}/upload`, {})).body.toString()).data;
      const path = new URL(slot.upload_url).pathname;
      const chunk = 'x'.repeat(200_000);
      const body = Array.from({ length: 6 }, () => `${(200_000).toString(16)}\r\n${chunk}\r\n`).join('') + '0\r\n\r\n';
      return rawRequest(backend.baseUrl, `PUT ${path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${body}`);
    }, 413, /exceeds the limit/],
    ['an oversized JSON body', () => json('POST', `${project}/deployments`, { release: '1.0.0', cohort: 'default', pad: 'x'.repeat(5000) }), 413, /limit/],
    ['malformed JSON', () => httpCall(`${backend.baseUrl}${project}/deployments`, { method: 'POST', headers: { ...auth(), 'Content-Type': 'application/json' }, body: '{"release": ' }), 400, /not valid JSON/],
    ['an unknown release', () => json('POST', `${project}/deployments`, { release: '9.9.9', cohort: 'default' }), 404, /no release "9.9.9"/],
    ['an unknown cohort', () => json('POST', `${project}/deployments`, { release: '1.0.0', cohort: 'nope' }), 404, /no cohort "nope"/],
    ['a bad rollout percent', () => json('POST', `${project}/deployments`, { release: '1.0.0', cohort: 'default', rollout_percent: 150 }), 400, /rollout_percent/],
    ['moving an unknown device', () => json('PATCH', `${project}/devices/GHOST`, { cohort: 'default' }), 404, /no device "GHOST"/],
    ['deactivating an unknown deployment', () => json('DELETE', `${project}/deployments/424242`), 404, /no deployment/],
    ['a bad cohort slug', () => json('POST', `${project}/cohorts`, { name: 'Bad Slug!' }), 400, /slug/],
    ['another project', () => json('GET', `/api/v0/organizations/${backend.org}/projects/other/releases`), 404, /this backend serves/],
    ['malformed percent-encoding', () => json('PATCH', `${project}/devices/%E0%A4%A`, { cohort: 'default' }), 400, /percent-encoding/],
    ['an unknown route', () => json('GET', `${project}/nothing-here`), 404, /no admin route/],
    ['a bad fault', () => json('POST', '/api/v0/mock/faults', { kind: 'melt' }), 400, /kind must be one of/],
  ];

  it.each(badInputs)('refuses %s with a clear 4xx and changes nothing', async (_name, send, status, message) => {
    const before = stateText();
    const files = payloadFiles();
    const staged = readdirSync(join(backend.dataDir, 'uploads'));
    const reply = await send();
    expect(reply.status).toBe(status);
    expect(JSON.parse(reply.body.toString()).error.message).toMatch(message);
    expect(stateText()).toBe(before);
    expect(payloadFiles()).toEqual(files);
    expect(readdirSync(join(backend.dataDir, 'uploads'))).toEqual(staged);
    expect(backend.faults.list()).toEqual([]);
  });

  it('answers an oversized request head with 431 and a JSON error, touching nothing', async () => {
    const before = stateText();
    const reply = await rawRequest(backend.baseUrl, `GET ${project}/releases HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(reply.status).toBe(431);
    expect(JSON.parse(reply.body.toString()).error.http_code).toBe(431);
    expect(stateText()).toBe(before);
  });

  it('answers garbage with 400 and a JSON error', async () => {
    const reply = await rawRequest(backend.baseUrl, 'NOT HTTP AT ALL\r\n\r\n');
    expect(reply.status).toBe(400);
  });

  it('manages cohorts, devices, deployments and faults', async () => {
    expect((await json('POST', `${project}/cohorts`, { name: 'beta', slug: 'beta' })).status).toBe(200);
    expect((await json('POST', `${project}/cohorts`, { name: 'beta', slug: 'beta' })).status).toBe(409);
    expect((await json('POST', `${project}/devices`, { device_serial: 'D1', hardware_version: 'evt' })).status).toBe(200);
    expect((await json('POST', `${project}/devices`, { device_serial: 'D1', hardware_version: 'evt' })).status).toBe(409);
    const moved = JSON.parse((await json('PATCH', `${project}/devices/D1`, { cohort: 'beta' })).body.toString()).data;
    expect(moved.cohort.slug).toBe('beta');
    const deployed = await json('POST', `${project}/deployments`, { type: 'staged_rollout', release: '1.0.0', cohort: 'beta', rollout_percent: 30 });
    expect(deployed.status).toBe(201);
    const deployment = JSON.parse(deployed.body.toString()).data;
    expect(deployment).toMatchObject({ type: 'staged_rollout', rollout_percent: 30, status: 'in_progress', release: { version: '1.0.0' }, cohort: { slug: 'beta' } });
    const listed = JSON.parse((await json('GET', `${project}/deployments?cohort=beta&release=1.0.0`)).body.toString()).data;
    expect(listed.map((d: { id: number }) => d.id)).toEqual([deployment.id]);
    expect(JSON.parse((await json('DELETE', `${project}/deployments/${deployment.id}`)).body.toString()).data.status).toBe('pulled');
    expect((await json('DELETE', `${project}/deployments/${deployment.id}`)).status).toBe(409);
    const cohorts = JSON.parse((await json('GET', `${project}/cohorts`)).body.toString()).data;
    expect(cohorts.find((c: { slug: string }) => c.slug === 'beta')).toMatchObject({ device_count: 1, deployment: null });
    const fault = await json('POST', '/api/v0/mock/faults', { kind: 'drop', route: 'cdn', afterBytes: 10, times: 'always' });
    expect(fault.status).toBe(201);
    expect(JSON.parse((await json('GET', '/api/v0/mock/faults')).body.toString()).data).toHaveLength(1);
    expect(JSON.parse((await json('DELETE', '/api/v0/mock/faults')).body.toString()).data.removed).toBe(1);
    expect(backend.faults.list()).toEqual([]);
  });
});
