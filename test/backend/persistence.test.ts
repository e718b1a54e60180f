import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBackend } from '../../src/backend/index.js';
import { checkForUpdate, payloadBytes } from './helpers.js';

describe('backend state on disk', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ota-persist-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps devices first seen by the device API, credentials and payloads across a restart, with no temp files left', async () => {
    const dataDir = join(dir, 'a');
    const first = await startBackend({ http: true, dataDir, projectKey: 'pk-1', orgToken: 'ot-1' });
    await first.admin.uploadPayload(payloadBytes(500), { hardwareVersion: 'evt', softwareType: 'main', softwareVersion: '1.0.0' });
    await first.admin.uploadPayload(payloadBytes(500), { hardwareVersion: 'dvt', softwareType: 'main', softwareVersion: '1.0.0' });
    first.admin.deploy({ releaseVersion: '1.0.0', cohort: 'default' });
    expect((await checkForUpdate(first, { device_serial: 'P1', hardware_version: 'dvt', software_type: 'main', current_version: '0.9' })).status).toBe(200);
    await first.close();

    const second = await startBackend({ http: true, dataDir });
    try {
      expect(second.projectKey).toBe('pk-1');
      expect(second.orgToken).toBe('ot-1');
      expect(second.admin.devices()).toEqual([expect.objectContaining({ serial: 'P1', hardwareVersion: 'dvt', cohort: 'default', lastVersion: '0.9' })]);
      expect(second.admin.deployments()).toEqual([expect.objectContaining({ releaseVersion: '1.0.0', status: 'in_progress' })]);
      // Identical bytes are stored once (content-addressed).
      expect(readdirSync(join(dataDir, 'payloads'))).toHaveLength(1);
      expect(readdirSync(dataDir).filter((name) => name.endsWith('.tmp'))).toEqual([]);
      expect(readdirSync(join(dataDir, 'uploads'))).toEqual([]);
      expect((await checkForUpdate(second, { device_serial: 'P1', hardware_version: 'dvt', software_type: 'main', current_version: '1.0.0' })).status).toBe(204);
    } finally {
      await second.close();
    }
  });

  it('refuses to start on a corrupt state file, naming it, and leaves it untouched', async () => {
    const dataDir = join(dir, 'b');
    const backend = await startBackend({ http: true, dataDir });
    await backend.close();
    writeFileSync(join(dataDir, 'state.json'), '{"schema": 1, "trunc');
    await expect(startBackend({ http: true, dataDir })).rejects.toMatchObject({ code: 'backend-state-corrupt', message: expect.stringContaining('state.json') });
    expect(readFileSync(join(dataDir, 'state.json'), 'utf8')).toBe('{"schema": 1, "trunc');
  });

  it('writes the test CA into the data directory and reuses it on restart', async () => {
    const dataDir = join(dir, 'c');
    const first = await startBackend({ dataDir });
    const ca = readFileSync(first.caPath as string, 'utf8');
    await first.close();
    const second = await startBackend({ dataDir });
    try {
      expect(readFileSync(second.caPath as string, 'utf8')).toBe(ca);
      expect(second.caPath).toBe(join(dataDir, 'tls', 'ca.pem'));
      expect(readdirSync(join(dataDir, 'tls')).sort()).toEqual(['api', 'ca.pem', 'cdn']);
    } finally {
      await second.close();
    }
  });
});
