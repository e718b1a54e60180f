import { closeAfterEach } from './helpers.js';
import { describe, expect, it } from 'vitest';
import { startBackend } from '../../src/backend/index.js';
import { buildFirmwareImage } from '../../hal/sim/firmware-image.js';
import { SimDevice } from '../../src/node/sim-device.js';
import type { AgentEvent } from '../../src/agent/events.js';

const started = closeAfterEach();

describe('the Memfault OTA tutorial flow against the mock backend (HTTPS)', () => {
  it('a device on 0.0.1 gets 1.0.0-alpha, boots it as a trial, confirms, then hears 204 latest', async () => {
    const backend = started.backend(await startBackend({}));
    const image = buildFirmwareImage({ version: '1.0.0-alpha', size: 40_000 });
    await backend.admin.uploadPayload(image, { hardwareVersion: 'evt', softwareType: 'main-fw', softwareVersion: '1.0.0-alpha' });
    backend.admin.deploy({ releaseVersion: '1.0.0-alpha', cohort: 'default', rolloutPercent: 100 });
    const events: AgentEvent[] = [];
    const device = started.device(new SimDevice({ serial: 'SN-TUT-1', hardwareVersion: 'evt', wifi: false,
      api: { baseUrl: backend.baseUrl, projectKey: backend.projectKey },
      ca: backend.trustedRootsDer, onEvent: (e) => events.push(e), policy: { healthDeadlineMs: 5000 } }));
    await device.provision(buildFirmwareImage({ version: '0.0.1', size: 30_000 }), '0.0.1');
    await device.boot();
    const result = await device.runOnce();
    expect(result.outcome).toBe('confirmed');
    const seen = events.filter((e) => e.type !== 'state' && e.type !== 'download-progress').map((e) => e.type);
    expect(seen).toEqual(['checking', 'update-available', 'download-started', 'verified', 'staged', 'rebooting', 'trial-started', 'confirmed']);
    const status = await device.status();
    expect(status.main.running).toBe('1.0.0-alpha');
    expect(status.main.trial).toBe(false);
    events.length = 0;
    const again = await device.runOnce();
    expect(again.outcome).toBe('up-to-date');
    expect(events.find((e) => e.type === 'up-to-date')?.reason).toBe('latest');
  });
});
