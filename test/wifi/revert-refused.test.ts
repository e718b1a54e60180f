import { describe, expect, it } from 'vitest';
import { uniformGeometry } from '../../hal/flash.js';
import { SimFlash } from '../../hal/sim/sim-flash.js';
import { Cmd } from '../../hal/sim/wifi/protocol.js';
import type { AgentEvent } from '../../src/agent/events.js';
import { SimDevice } from '../../src/node/sim-device.js';
import { createBundle } from '../../src/tools/bundle.js';
import { otaError } from '../../src/util/errors.js';
import { backendWith, closeAfterEach, fw } from '../e2e/helpers.js';

// A failed trial is reverted on every target that can revert (the WiFi target sends REVERT over the link). A
// co-processor whose firmware predates REVERT answers "unknown command": that refusal made the whole revert reject,
// so the agent never asked for the reboot that ends the trial and every later cycle failed the same way. A target's
// failed revert is now left to its bootloader's attempt counter, as before targets could revert.

const OLD = '0.0.1';
const NEW = '2.0.0';
const started = closeAfterEach();

describe('a failed trial beside a co-processor that does not know REVERT', () => {
  it('still reboots out of the main trial; the WiFi trial ends by its own boot attempts; the release is given up', async () => {
    const backend = started.backend(await backendWith(createBundle({
      sequence: 1, releaseVersion: NEW, hardwareVersions: ['evt'], parts: [
        { softwareType: 'main-fw', version: NEW, data: fw(NEW, 12_000, 'never-confirm') },
        { softwareType: 'wifi-fw', version: NEW, data: fw(NEW, 9_000), requires: [{ softwareType: 'main-fw', minVersion: NEW }] },
      ],
    }, null), NEW, { http: true }));
    const events: AgentEvent[] = [];
    const device = started.device(new SimDevice({
      serial: 'SN-OLD-WIFI', hardwareVersion: 'evt', api: { baseUrl: backend.baseUrl, projectKey: backend.projectKey },
      mainFlash: new SimFlash(uniformGeometry(4096, 4 + 2 * 8, 8, 0xff)), wifiFlash: new SimFlash(uniformGeometry(4096, 2 + 2 * 4, 4, 0xff)),
      policy: { healthDeadlineMs: 50, backoffBaseMs: 1, backoffMaxMs: 2, progressIntervalMs: 1e9 },
      onEvent: (e) => { events.push(e); },
    }));
    // The co-processor's firmware answers REVERT as an unknown command, as one built before REVERT existed would.
    const coprocessor = device.wifi as unknown as { run: (request: { kind: number }) => Promise<Uint8Array> };
    const run = coprocessor.run.bind(coprocessor);
    coprocessor.run = (request) => request.kind === Cmd.REVERT
      ? Promise.reject(otaError('wifi-command-unknown', `Unknown command ${request.kind}.`, false)) : run(request);
    await device.provision(fw(OLD, 6_000), OLD, fw(OLD, 5_000), OLD);
    await device.boot();
    const outcome = (await device.runOnce()).outcome;
    expect(outcome).toBe('rolled-back');
    expect(events.find((e) => e.type === 'rolled-back')).toMatchObject({ version: NEW });
    // The WiFi trial is left to its bootloader: a few more boots spend its attempts, then the old pair runs confirmed.
    for (let i = 0; i < 6 && (await device.status()).wifi?.trial; i++) await device.boot();
    const status = await device.status();
    expect([status.main.running, status.main.trial, status.wifi?.running, status.wifi?.trial]).toEqual([OLD, false, OLD, false]);
    expect(status.agent?.givenUp).toHaveLength(1);
  });
});
