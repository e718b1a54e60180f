// createEspruinoAgent against fakes of the firmware: what the adapters add to the core's agent.
import { describe, expect, it } from 'vitest';
import { Journal } from '../../src/agent/journal.js';
import { createEspruinoAgent } from '../../src/espruino/device-agent.js';
import { StorageFlash } from '../../src/espruino/storage-flash.js';
import { StorageFileTarget } from '../../src/espruino/storage-target.js';
import type { Clock } from '../../src/util/clock.js';
import { FakeCrypto, FakeStorage, fakeRuntime } from './fakes/espruino-fakes.js';

/** A clock whose sleeps wait until the test wakes them. */
class HeldClock implements Clock {
  sleeps: { ms: number; wake: () => void }[] = [];
  now(): number {
    return 1_800_000_000_000;
  }
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => { this.sleeps.push({ ms, wake: resolve }); });
  }
  wakeAll(): void {
    const woken = this.sleeps;
    this.sleeps = [];
    for (const s of woken) s.wake();
  }
}

const turn = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

describe('createEspruinoAgent', () => {
  it('waits a backoff after a journal write Storage refuses, instead of starting the next cycle at once (no spin)', async () => {
    // Room for neither 8 KiB sector file of the journal: every journal write fails with storage-full.
    const storage = new FakeStorage(4000);
    const runtime = fakeRuntime({ Storage: storage, crypto: new FakeCrypto(true) });
    const clock = new HeldClock();
    const errors: string[] = [];
    const agent = createEspruinoAgent({
      api: { baseUrl: 'http://127.0.0.1:9', projectKey: 'k' }, device: { serial: 'S1', hardwareVersion: 'evt' }, softwareType: 'app',
      targets: [new StorageFileTarget({ softwareType: 'app', banks: ['app.a.js', 'app.b.js'], capacity: 16384, runtime })],
      journal: new Journal(new StorageFlash({ prefix: 'otaj', sectorSize: 8192, sectors: 2, runtime })),
      hmacKey: new Uint8Array(32).fill(7), runtime, clock,
      policy: { firstCheckMs: 0, firstCheckJitterMs: 0, backoffBaseMs: 5000 },
      onEvent: (e) => {
        if (e.type !== 'error') return;
        errors.push(e.code as string);
        // Without a pause the cycles chain through microtasks alone and this test would never get a turn.
        if (errors.length >= 20) void agent.stop();
      },
    });
    agent.start();
    await turn();
    // The first cycle fails at its first journal write; the next one waits a backoff (equal jitter: half the base to it).
    expect(errors).toEqual(['storage-full']);
    expect(clock.sleeps.length).toBe(1);
    expect(clock.sleeps[0].ms).toBeGreaterThanOrEqual(2500);
    expect(clock.sleeps[0].ms).toBeLessThanOrEqual(5000);
    await turn();
    expect(errors).toEqual(['storage-full']);
    clock.wakeAll();
    await turn();
    expect(errors).toEqual(['storage-full', 'storage-full']);
    // The second backoff's ceiling doubles.
    expect(clock.sleeps.length).toBe(1);
    expect(clock.sleeps[0].ms).toBeGreaterThanOrEqual(5000);
    expect(clock.sleeps[0].ms).toBeLessThanOrEqual(10000);
    const stopped = agent.stop();
    clock.wakeAll();
    await stopped;
    expect(errors).toEqual(['storage-full', 'storage-full']);
  });
});
