import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBackend } from '../../src/backend/index.js';
import { captureUntilClose, checkForUpdate, payloadBytes } from './helpers.js';

describe('backend lifecycle', () => {
  it('closes while a throttled download is in flight, then restarts on the same ports and data', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'ota-life-'));
    try {
      const first = await startBackend({ http: true, dataDir });
      await first.admin.uploadPayload(payloadBytes(400_000), { hardwareVersion: 'evt', softwareType: 'main', softwareVersion: '1.1.0' });
      first.admin.deploy({ releaseVersion: '1.1.0', cohort: 'default' });
      const link = new URL((await checkForUpdate(first, { device_serial: 'LC1', hardware_version: 'evt', software_type: 'main', current_version: '1.0.0' })).body.toString());
      first.faults.add({ route: 'cdn', kind: 'throttle', bytesPerSecond: 20_000, times: 'always' });
      const download = captureUntilClose(first.cdnBaseUrl, `GET ${link.pathname}${link.search} HTTP/1.1\r\nHost: cdn\r\n\r\n`);
      await new Promise((resolve) => setTimeout(resolve, 300));
      await first.close();
      const cut = await download;
      expect(cut.status).toBe(200);
      expect(cut.body.length).toBeLessThan(400_000);

      const ports = { port: Number(new URL(first.baseUrl).port), cdnPort: Number(new URL(first.cdnBaseUrl).port) };
      const second = await startBackend({ http: true, dataDir, ...ports });
      try {
        expect(second.baseUrl).toBe(first.baseUrl);
        expect(second.faults.list()).toEqual([]);
        const whole = await captureUntilClose(second.cdnBaseUrl, `GET ${link.pathname}${link.search} HTTP/1.1\r\nHost: cdn\r\nConnection: close\r\n\r\n`);
        expect(whole.body.equals(payloadBytes(400_000))).toBe(true);
      } finally {
        await second.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
