import { describe, expect, it } from 'vitest';
import { uniformGeometry } from '../../hal/flash.js';
import { SimFlash } from '../../hal/sim/sim-flash.js';
import type { AgentEvent } from '../../src/agent/events.js';
import { SimDevice } from '../../src/node/sim-device.js';
import { backendWith, closeAfterEach, confirmedResumeOffset, fw, runningImage } from './helpers.js';

// The main flash fails one read-back part-way through a download (a transient device fault, not a bad payload). What
// the journal holds as durable was programmed and read back before the fault, so the next cycle resumes there with a
// Range request. It used to throw the partial image away and download the payload again from byte 0.

const OLD = '0.0.1';
const NEW = '2.0.0';
const SIZE = 96_000;

const started = closeAfterEach();

describe('a device failure part-way through a download', () => {
  it('fails the cycle with the device error, then resumes from the last checkpoint and installs the same bytes', async () => {
    const image = fw(NEW, SIZE);
    const backend = started.backend(await backendWith(image, NEW, { http: true }));
    const mainFlash = new SimFlash(uniformGeometry(4096, 4 + 2 * 32, 8, 0xff));
    const events: AgentEvent[] = [];
    let armed = false;
    const d = started.device(new SimDevice({
      serial: 'SN-FLASH-FAULT', hardwareVersion: 'evt', wifi: false, mainFlash,
      api: { baseUrl: backend.baseUrl, projectKey: backend.projectKey },
      policy: { healthDeadlineMs: 5000, backoffBaseMs: 1, backoffMaxMs: 2, progressIntervalMs: 0, checkpointBytes: 8192 },
      onEvent: (e) => {
        events.push(e);
        if (e.type === 'download-progress' && e.received > SIZE / 2 && !armed) {
          armed = true;
          // The next read anywhere on the part fails once: the read-back of the write in flight.
          mainFlash.faults.readErrors.push({ offset: 0, length: 4096 * 68, times: 1 });
        }
      },
    }));
    await d.provision(fw(OLD, 6_000), OLD);
    await d.boot();
    expect((await d.runOnce()).outcome).toBe('failed');
    const error = events.find((e) => e.type === 'error');
    expect(error?.type === 'error' && [error.code, error.retryable]).toEqual(['flash-read-error', true]);
    expect(await confirmedResumeOffset(d, events)).toBeGreaterThanOrEqual(8192);
    expect(await runningImage(d)).toEqual(image);
  });
});
