import { describe, expect, it } from 'vitest';
import { uniformGeometry } from '../../hal/flash.js';
import { SimFlash } from '../../hal/sim/sim-flash.js';
import type { AgentEvent } from '../../src/agent/events.js';
import { SimDevice } from '../../src/node/sim-device.js';
import { createBundle } from '../../src/tools/bundle.js';
import { backendWith, closeAfterEach, confirmedResumeOffset, fw } from '../e2e/helpers.js';

// The WiFi co-processor resets on its own (brown-out, watchdog) while its part streams over the link; the main MCU
// keeps running. Its next WRITE finds no image open. Before, the agent reported "The WiFi co-processor refused WRITE
// (wifi-no-image-open)." as a non-retryable failure: nothing said that the co-processor had restarted, nor what
// happens next. Now the error says so, is retryable, and the next cycle resumes from the last checkpoint (it used to
// start the whole payload over) and installs the release.

const OLD = '0.0.1';
const NEW = '2.0.0';

const started = closeAfterEach();

describe('the WiFi co-processor resets alone in the middle of its transfer', () => {
  it('the cycle fails with an error that says the co-processor restarted; the next cycle installs the release', async () => {
    const backend = started.backend(await backendWith(createBundle({
      sequence: 1, releaseVersion: NEW, hardwareVersions: ['evt'], parts: [
        { softwareType: 'wifi-fw', version: NEW, data: fw(NEW, 60_000) },
        { softwareType: 'main-fw', version: NEW, data: fw(NEW, 12_000), requires: [{ softwareType: 'wifi-fw', minVersion: NEW }] },
      ],
    }, null), NEW, { http: true }));
    const events: AgentEvent[] = [];
    let reset = false;
    const d: SimDevice = new SimDevice({
      serial: 'SN-WIFI-RESET', hardwareVersion: 'evt', api: { baseUrl: backend.baseUrl, projectKey: backend.projectKey },
      mainFlash: new SimFlash(uniformGeometry(4096, 4 + 2 * 8, 8, 0xff)), wifiFlash: new SimFlash(uniformGeometry(4096, 2 + 2 * 16, 4, 0xff)),
      policy: { healthDeadlineMs: 5000, backoffBaseMs: 1, backoffMaxMs: 2, progressIntervalMs: 0, checkpointBytes: 8192 },
      onEvent: (e) => {
        events.push(e);
        // Half way through the WiFi part (it comes first), the co-processor alone loses power and boots again.
        if (e.type === 'download-progress' && e.received > 30_000 && !reset) {
          reset = true;
          void d.wifi!.powerOn();
        }
      },
    });
    started.device(d);
    await d.provision(fw(OLD, 6_000), OLD, fw(OLD, 5_000), OLD);
    await d.boot();
    expect((await d.runOnce()).outcome).toBe('failed');
    expect(reset).toBe(true);
    const error = events.find((e) => e.type === 'error');
    expect(error?.type === 'error' && error.code).toBe('wifi-no-image-open');
    if (error?.type !== 'error') return;
    expect(error.retryable).toBe(true);
    expect(error.message).toMatch(/WiFi co-processor.*restarted/);
    expect(error.message).toMatch(/nothing was activated/);
    // The bytes already durable survive the co-processor's reset: the next cycle resumes instead of starting over.
    expect(await confirmedResumeOffset(d, events)).toBeGreaterThanOrEqual(8192);
    const status = await d.status();
    expect([status.main.running, status.wifi?.running, status.main.trial, status.wifi?.trial]).toEqual([NEW, NEW, false, false]);
  });
});
