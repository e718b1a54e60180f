import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startBackend } from '../../src/backend/index.js';

const dirs: string[] = [];
afterAll(() => { for (const dir of dirs) rmSync(dir, { recursive: true, force: true }); });

describe('backend settings and lifetime', () => {
  it('refuses settings out of range or of the wrong type, at start and in configure(), and keeps the old ones', async () => {
    await expect(startBackend({ http: true, urlLifetimeSeconds: 0.5 })).rejects.toMatchObject({ code: 'backend-settings-invalid', details: { field: 'urlLifetimeSeconds' } });
    await expect(startBackend({ http: true, dailyRequestLimit: Number.NaN })).rejects.toMatchObject({ code: 'backend-settings-invalid', message: expect.stringContaining('got NaN') });
    const backend = await startBackend({ http: true });
    try {
      for (const bad of [{ urlLifetimeSeconds: -1 }, { urlLifetimeSeconds: Infinity }, { urlLifetimeSeconds: '10' as unknown as number },
        { dailyRequestLimit: 0 }, { dailyRequestLimit: 1.5 }, { expiredLinkStatus: 200 }, { nonsense: 1 } as object]) {
        expect(() => backend.configure(bad), JSON.stringify(bad)).toThrow(expect.objectContaining({ code: 'backend-settings-invalid' }));
      }
      expect(() => backend.configure({ urlLifetimeSeconds: 1, dailyRequestLimit: 5 })).not.toThrow();
    } finally {
      await backend.close();
    }
  });

  // Another backend may own the directory as soon as this one closed: a late admin call must not write into it.
  it('refuses admin changes after close(), and writes nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ota-backend-closed-'));
    dirs.push(dir);
    const backend = await startBackend({ http: true, dataDir: dir });
    await backend.close();
    const before = readFileSync(join(dir, 'state.json'), 'utf8');
    expect(() => backend.admin.createCohort('late')).toThrow(expect.objectContaining({ code: 'backend-closed' }));
    await expect(backend.admin.uploadPayload(new Uint8Array(100).fill(1), { hardwareVersion: 'evt', softwareType: 'main-fw', softwareVersion: '1.0.0' }))
      .rejects.toMatchObject({ code: 'backend-closed' });
    expect(readFileSync(join(dir, 'state.json'), 'utf8')).toBe(before);
  });
});
