// The Espruino bundle in a real Espruino 2v29 interpreter (a Linux build). Espruino is not on npm or Debian, so this
// runs only when ESPRUINO_BIN points at one (docs/portability.md says how to build it); otherwise it says so.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runOnEspruino } from '../../scripts/espruino-run.mjs';
import { espruinoBundle } from './bundles.js';
import { runAgentOnEspruino, runRevertOnEspruino } from './espruino-agent-run.js';

const bin = process.env.ESPRUINO_BIN;
// An Espruino WiFi-sized build (8,190 variables), where a whole update must fit: /work/shared/tools/espruino-linux.sh
// GIT_DIR OUT_DIR 8190 makes one. Separate from ESPRUINO_BIN, which may be any size.
const bin8190 = process.env.ESPRUINO_BIN_8190;
if (bin8190 === undefined || bin8190 === '') {
  console.warn('test/portability/espruino-run.test.ts: ESPRUINO_BIN_8190 is not set, so the whole update was NOT run on an ' +
    '8,190-variable Espruino build (Espruino WiFi). Build one with /work/shared/tools/espruino-linux.sh GIT_DIR OUT_DIR 8190 and ' +
    'set ESPRUINO_BIN_8190=OUT_DIR/bin/espruino.');
}
if (bin === undefined || bin === '') {
  console.warn('test/portability/espruino-run.test.ts: ESPRUINO_BIN is not set, so the Espruino bundle was NOT run in a real ' +
    'Espruino interpreter (the static gate and the QuickJS runs still ran). Build one with /work/shared/tools/espruino-linux.sh ' +
    'or as docs/portability.md describes, then set ESPRUINO_BIN=/path/to/bin/espruino.');
}

/** A complete update in the interpreter `binary`: check, download, verify, stage, trial boot, confirm. */
async function completeUpdate(binary: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ota-espruino-bundle-'));
  try {
    const bundle = join(dir, 'ota-agent.espruino.js');
    writeFileSync(bundle, await espruinoBundle());
    const result = await runAgentOnEspruino(binary, bundle);
    console.log(`real Espruino (${binary}): free blocks after loading the agent / lowest at an agent event: ` +
      `boot 1 ${result.free[0].afterLoad} / ${result.free[0].lowest}, boot 2 ${result.free[1].afterLoad} / ${result.free[1].lowest}; ` +
      `lowest per phase: ${JSON.stringify(result.free[0].byPhase)}, ${JSON.stringify(result.free[1].byPhase)}`);
    expect(result.boot1).toEqual(['EVENT warning espruino-tls-unauthenticated', 'JOURNAL idle', 'EVENT checking', 'EVENT update-available', 'EVENT download-started', 'EVENT verified', 'EVENT staged',
      'EVENT rebooting', 'EVENT reboot-requested', 'CYCLE rebooting', 'STATUS {"softwareType":"app","runningVersion":null,"trial":false}']);
    // Boot 1 ends with the trial activated but not yet booted: the first application (version unknown) still runs.
    expect(result.boot2[0]).toBe('APP 1.0.0 running');
    // The journal written in boot 1 reads back in boot 2 (a regex escape Espruino misread once made every record unreadable).
    expect(result.boot2).toContain('JOURNAL rebooting');
    expect(result.boot2.indexOf('EVENT trial-started')).toBeLessThan(result.boot2.indexOf('EVENT confirmed'));
    expect(result.boot2).toContain('EVENT confirmed');
    expect(result.boot2).toContain('CYCLE confirmed');
    expect(result.boot2[result.boot2.length - 1]).toBe('STATUS {"softwareType":"app","runningVersion":"1.0.0","trial":false}');
    expect(Buffer.from(result.appImage).toString()).toMatch(/^print\("APP 1\.0\.0 running"\);/);
    expect(result.appImage.length).toBe(3328);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('the Espruino bundle on real Espruino (ESPRUINO_BIN, ESPRUINO_BIN_8190)', () => {
  it.runIf(bin !== undefined && bin !== '')('loads with require("ota-agent") from Storage and passes the device self-test', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ota-espruino-bundle-'));
    try {
      const bundle = join(dir, 'ota-agent.espruino.js');
      writeFileSync(bundle, await espruinoBundle());
      const [result] = await runOnEspruino({ bins: [bin as string], bundle });
      console.log(`real Espruino (${result.memory?.total} variables): the agent costs ${result.memory?.agentBlocks} blocks; ` +
        `${result.memory?.freeAfterLoad} free after loading it`);
      expect(result.errors).toEqual([]);
      expect(result.uploaded.stored).toBe(result.uploaded.size);
      expect(result.trialBeforeBoot).toBe(false);
      expect(result.trialAfterActivate).toBe(true);
      expect(result.trialAfterConfirm).toBe(false);
      expect(result.version).toBe('2.0.0');
      expect(result.corrupted).toBe('image-digest-mismatch');
      // A target hook's promise is waited for, and its failure reaches the agent.
      expect(result.hookOrder).toEqual(['hook', 'rejected co-refused']);
      expect(result.hmacValid).toBe(true);
      expect(result.hmacForged).toBe(false);
      expect(result.stream?.bytes).toBe(result.expectedStream?.bytes);
      expect(result.stream?.crc).toBe(result.expectedStream?.crc32);
      expect(result.warnings).toEqual(['espruino-tls-unauthenticated']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);

  it.runIf(bin !== undefined && bin !== '')('runs a complete update with the agent: check, download, verify, stage, trial boot, confirm', async () => {
    await completeUpdate(bin as string);
  }, 300_000);

  it.runIf(bin8190 !== undefined && bin8190 !== '')('runs a complete update on an 8,190-variable build (Espruino WiFi, ESPRUINO_BIN_8190)', async () => {
    // It ran out of memory while downloading until the sockets stopped holding the requests' promise chains (and the
    // idle keep-alive socket and the pending HTTP timeout timers went): this fails again if that comes back.
    await completeUpdate(bin8190 as string);
  }, 300_000);

  it.runIf(bin !== undefined && bin !== '')('boots past a leftover pointer, and a trial whose self-test cannot answer reverts at the next boot', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ota-espruino-bundle-'));
    try {
      const bundle = join(dir, 'ota-agent.espruino.js');
      writeFileSync(bundle, await espruinoBundle());
      const [boot1, boot2, boot3] = await runRevertOnEspruino(bin as string, bundle);
      // The leftover pointer names app.b.js, which is gone: the loader boots app.a.js and the update lands in app.b.js.
      expect(boot1[0]).toBe('APP 0.9.0 running');
      expect(boot1).toContain('EVENT staged');
      expect(boot1).toContain('CYCLE rebooting');
      expect(boot2[0]).toBe('APP 1.0.0 running');
      expect(boot2).toContain('EVENT error self-test-failed');
      expect(boot2).toContain('CYCLE rebooting');
      // Reverted by the agent, not after the loader's three boots: the very next boot runs the previous application.
      expect(boot3[0]).toBe('APP 0.9.0 running');
      expect(boot3).toContain('EVENT rolled-back');
      expect(boot3[boot3.length - 1]).toBe('STATUS {"softwareType":"app","runningVersion":null,"trial":false}');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
