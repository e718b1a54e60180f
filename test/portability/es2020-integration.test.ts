// A firmware engineer's integration of dist/ota-agent.es2020.js, run end to end: the file and the integration example
// of docs/portability.md (verbatim) in a QuickJS VM with a memory limit, the host's flash, sockets and timers
// bridged in (es2020-host.ts), the host's bootloader over the same simulated NOR flash, the mock backend over HTTPS.
// Every scenario a device meets: a two-part signed bundle, a dropped connection, a power cut (the VM thrown away
// mid-download), a corrupted payload, a rollback, a raw image through releases/latest, stop() mid-download, and
// memory running out.
import { afterEach, describe, expect, it } from 'vitest';
import { Es2020Rig, firmware } from './es2020-rig.js';
import type { GuestDevice } from './es2020-host.js';

type Event = Record<string, any>;
const types = (g: GuestDevice): string[] => g.events.map((e: Event) => e.type as string).filter((t) => t !== 'state' && t !== 'download-progress');
const ofType = (g: GuestDevice, type: string): Event[] => g.events.filter((e: Event) => e.type === type);

const MAIN = 48 * 1024;
const WIFI = 24 * 1024;
function twoParts(version: string): { softwareType: string; version: string; data: Uint8Array }[] {
  return [{ softwareType: 'main-fw', version, data: firmware(version, MAIN) }, { softwareType: 'wifi-fw', version, data: firmware(version, WIFI) }];
}

/** Resolves when the guest's sockets have received more than `bytes` (counting from now). */
function afterBytes(g: GuestDevice, bytes: number, then: () => void): void {
  const start = g.received;
  let done = false;
  g.onReceive = (total) => {
    if (!done && total - start > bytes) {
      done = true;
      then();
    }
  };
}

let rig: Es2020Rig | null = null;
afterEach(async () => {
  if (rig !== null) await rig.close();
  rig = null;
});

describe('ES2020 file in QuickJS, integrated as docs/portability.md shows', () => {
  it('installs an HMAC-signed two-part bundle, boots the trial, confirms, and leaves no timer, socket or job behind', async () => {
    rig = await Es2020Rig.create();
    await rig.publishBundle('2.0.0', 1, twoParts('2.0.0'));
    // 200 KiB: just above what evaluating the file needs (docs/portability.md, "Memory"); the update fits in it.
    const g1 = await rig.boot({}, 200 * 1024);
    expect(await rig.runOnce()).toMatchObject({ outcome: 'rebooting', error: null });
    expect(types(g1)).toEqual(['checking', 'update-available', 'download-started', 'verified', 'staged', 'rebooting']);
    const g2 = await rig.boot();
    expect(rig.boots[1].main).toMatchObject({ version: '2.0.0', trial: true });
    expect(rig.boots[1].wifi).toMatchObject({ version: '2.0.0', trial: true });
    expect(await rig.runOnce()).toMatchObject({ outcome: 'confirmed', error: null });
    // A confirmed trial cancels the health deadline's timer; stop() + client.close() leave nothing at all.
    expect(g2.timers.size).toBe(0);
    await g2.call('ota.agent.stop()');
    g2.evaluate('ota.client.close()', 'close.js');
    expect(g2.timers.size).toBe(0);
    expect(g2.sockets.size).toBe(0);
    expect(g2.runtime.hasPendingJob()).toBe(false);
    expect(g2.failures).toEqual([]);
    await rig.boot();
    expect(rig.boots[2].main).toMatchObject({ version: '2.0.0', trial: false });
    expect(rig.boots[2].wifi).toMatchObject({ version: '2.0.0', trial: false });
  });

  it('resumes a dropped download with Range from the byte it had, in the same cycle', async () => {
    rig = await Es2020Rig.create();
    await rig.publishBundle('2.0.0', 1, twoParts('2.0.0'));
    rig.backend.faults.add({ route: 'cdn', kind: 'drop', afterBytes: 20000, times: 1 });
    const g = await rig.boot();
    expect(await rig.runOnce()).toMatchObject({ outcome: 'rebooting' });
    expect(ofType(g, 'download-resumed').map((e) => e.offset)).toEqual([20000]);
    expect(ofType(g, 'download-started')).toHaveLength(1);
  });

  it('after a power cut mid-download (the VM thrown away), a new VM over the same flash resumes and the update confirms', async () => {
    rig = await Es2020Rig.create();
    const r = rig;
    await r.publishBundle('2.0.0', 1, twoParts('2.0.0'));
    const g1 = await r.boot({ policy: { healthDeadlineMs: 5000, checkpointBytes: 8192 } });
    await new Promise<void>((resolve) => {
      afterBytes(g1, 50000, () => {
        g1.kill();
        resolve();
      });
      void r.runOnce().catch(() => undefined);   // never settles: the VM is gone
    });
    const g2 = await r.boot({ policy: { healthDeadlineMs: 5000, checkpointBytes: 8192 } });
    expect(r.boots[1].main).toMatchObject({ version: '1.0.0', trial: false });
    expect(await r.runOnce()).toMatchObject({ outcome: 'rebooting' });
    const resumed = ofType(g2, 'download-resumed');
    expect(resumed).toHaveLength(1);
    expect(resumed[0].offset).toBeGreaterThan(8192);
    expect(resumed[0].offset).toBeLessThan(50000);
    await r.boot();
    expect(await r.runOnce()).toMatchObject({ outcome: 'confirmed' });
  });

  it('refuses a payload corrupted in transit (nothing activated), then downloads it again', async () => {
    rig = await Es2020Rig.create();
    await rig.publishBundle('2.0.0', 1, twoParts('2.0.0'));
    rig.backend.faults.add({ route: 'cdn', kind: 'corrupt', offset: 30000, times: 1 });
    const g = await rig.boot();
    const first = await rig.runOnce();
    expect(first).toMatchObject({ outcome: 'failed', error: { code: 'part-crc-mismatch', retryable: true } });
    expect(first.error?.message).toMatch(/corrupted in transit.*Nothing was activated/);
    expect(types(g)).not.toContain('staged');
    await rig.boot();
    expect(rig.boots[1].main).toMatchObject({ version: '1.0.0', trial: false });
    expect(await rig.runOnce()).toMatchObject({ outcome: 'rebooting' });
  });

  it('rolls back a trial the self-test rejects, and does not install that release again', async () => {
    rig = await Es2020Rig.create();
    await rig.publishBundle('2.0.0', 1, twoParts('2.0.0'));
    await rig.boot();
    expect(await rig.runOnce()).toMatchObject({ outcome: 'rebooting' });
    const trial = await rig.boot({ selfTest: false });
    expect(await rig.runOnce()).toMatchObject({ outcome: 'rebooting' });
    expect(ofType(trial, 'error').map((e) => e.code)).toEqual(['self-test-failed']);
    const after = await rig.boot();
    expect(rig.boots[2].main).toMatchObject({ version: '1.0.0', trial: false });
    expect(rig.boots[2].wifi).toMatchObject({ version: '1.0.0', trial: false });
    expect(await rig.runOnce()).toMatchObject({ outcome: 'rolled-back' });
    expect(ofType(after, 'rolled-back')[0]).toMatchObject({ version: '2.0.0', reason: 'self-test-failed' });
    expect(await rig.runOnce()).toMatchObject({ outcome: 'up-to-date' });
    expect(ofType(after, 'up-to-date')[0]).toMatchObject({ reason: 'release-rejected-before' });
  });

  it('installs a raw image through releases/latest (MD5 checked) and refuses a corrupted one', async () => {
    rig = await Es2020Rig.create();
    await rig.publishRaw('2.0.0', firmware('2.0.0', 40 * 1024));
    rig.backend.faults.add({ route: 'cdn', kind: 'corrupt', offset: 20000, times: 1 });
    const config = { allowUnsigned: true, policy: { healthDeadlineMs: 5000, useLatestJson: true } };
    await rig.boot(config);
    const bad = await rig.runOnce();
    expect(bad).toMatchObject({ outcome: 'failed', error: { code: 'md5-mismatch' } });
    expect(bad.error?.message).toMatch(/nothing was activated/);
    await rig.boot(config);
    expect(rig.boots[1].main.version).toBe('1.0.0');
    expect(await rig.runOnce()).toMatchObject({ outcome: 'rebooting' });
    await rig.boot(config);
    expect(rig.boots[2].main).toMatchObject({ version: '2.0.0', trial: true });
    expect(await rig.runOnce()).toMatchObject({ outcome: 'confirmed' });
  });

  it('stop() mid-download journals the offset, cancels its timers, and a new VM resumes there', async () => {
    rig = await Es2020Rig.create();
    await rig.publishBundle('2.0.0', 1, twoParts('2.0.0'));
    const g = await rig.boot();
    let stopping: Promise<unknown> | null = null;
    afterBytes(g, 30000, () => { stopping = g.call('ota.agent.stop()'); });
    expect(await rig.runOnce()).toMatchObject({ phase: 'downloading', outcome: 'stopped', error: null });
    await stopping;
    const stopped = ofType(g, 'stopped');
    expect(stopped).toHaveLength(1);
    expect(stopped[0].offset).toBeGreaterThan(0);
    expect(g.timers.size).toBe(0);
    g.evaluate('ota.client.close()', 'close.js');
    expect(g.sockets.size).toBe(0);
    expect(g.runtime.hasPendingJob()).toBe(false);
    const g2 = await rig.boot();
    expect(await rig.runOnce()).toMatchObject({ outcome: 'rebooting' });
    expect(ofType(g2, 'download-resumed').map((e) => e.offset)).toEqual([stopped[0].offset]);
  });

  it('running out of memory mid-update ends the cycle with an error (no hang), and a VM with enough memory finishes', async () => {
    rig = await Es2020Rig.create();
    await rig.publishBundle('2.0.0', 1, twoParts('2.0.0'));
    for (const limit of [40 * 1024, 56 * 1024, 64 * 1024]) {
      const g = await rig.boot({}, 4 * 1024 * 1024);
      g.runtime.setMemoryLimit(limit);   // what the heap allows once the file is loaded
      const outcome = await rig.runOnce().then((result) => ({ result }), (error: unknown) => ({ error }));
      if ('result' in outcome) expect(outcome.result.outcome, 'limit ' + limit).toBe('failed');
    }
    await rig.boot({}, 4 * 1024 * 1024);
    expect(await rig.runOnce()).toMatchObject({ outcome: 'rebooting' });
    await rig.boot();
    expect(await rig.runOnce()).toMatchObject({ outcome: 'confirmed' });
  });
});
