import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startBackend } from '../../src/backend/index.js';
import type { Backend } from '../../src/backend/index.js';
import { buildFirmwareImage } from '../../hal/sim/firmware-image.js';
import { main } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/command.js';
import { SimDevice } from '../../src/node/sim-device.js';
import type { AgentEvent } from '../../src/agent/events.js';
import type { OtaError } from '../../src/util/errors.js';

// `ota device status` must tell a device that is running from one whose process was killed mid-download: both journals
// say "downloading", and only DIR/lock (held by a live process, or left by a dead one) tells them apart. And while a
// run holds DIR, neither a SimDevice nor a second run may open its flash; after the kill, a SimDevice takes the stale
// lock over and resumes the download from the journal.

let backend: Backend | null = null;
let child: ChildProcess | null = null;
const dirs: string[] = [];
afterEach(async () => {
  if (child !== null && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  child = null;
  await backend?.close();
  backend = null;
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function capture(): CliIo & { text: () => string } {
  const lines: string[] = [];
  return { text: () => lines.join(''), out: (t) => { lines.push(t); }, err: (t) => { lines.push(t); }, env: {}, cwd: process.cwd(), isTty: false };
}

describe('ota device status after a kill -9 mid-download', () => {
  it('says whether a process runs the device, and a killed download resumes from the offset it reports', async () => {
    backend = await startBackend({ http: true });
    const size = 200_000;
    await backend.admin.uploadPayload(buildFirmwareImage({ version: '2.0.0', size }), { hardwareVersion: 'evt', softwareType: 'main-fw', softwareVersion: '2.0.0' });
    backend.admin.deploy({ releaseVersion: '2.0.0', cohort: 'default', rolloutPercent: 100 });
    backend.faults.add({ route: 'cdn', kind: 'throttle', bytesPerSecond: 50_000, times: 1 });
    const dir = join(mkdtempSync(join(tmpdir(), 'ota-status-kill-')), 'dev');
    dirs.push(join(dir, '..'));
    const runArgs = ['device', 'run', '--dir', dir, '--serial', 'SN-STATUS-KILL', '--hardware-version', 'evt', '--software-type', 'main-fw',
      '--url', backend.baseUrl, '--project-key', backend.projectKey, '--once'];
    // tsx as an import hook keeps the program in this one node process: its pid is the lock holder's.
    const proc = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...runArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error('no progress within 30 s: ' + output)); }, 30_000);
      proc.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        // Past half: the first journal checkpoint (64 KiB) is durable.
        if (/\[#{15,}/.test(output)) { clearTimeout(timer); resolve(); }
      });
      proc.once('exit', () => { clearTimeout(timer); reject(new Error('the run ended early: ' + output)); });
    });

    const running = capture();
    expect(await main(['device', 'status', '--dir', dir], running)).toBe(0);
    expect(running.text()).toContain(`device: running in pid ${proc.pid}`);
    // The running device's flash is off limits: to the library and to a second run.
    let refused: OtaError | null = null;
    try {
      new SimDevice({ dir, serial: 'SN-STATUS-KILL', hardwareVersion: 'evt', api: { baseUrl: backend.baseUrl, projectKey: backend.projectKey } }).close();
    } catch (error) {
      refused = error as OtaError;
    }
    expect(refused?.code).toBe('dir-locked');
    expect(refused?.details).toMatchObject({ pid: proc.pid });
    const second = capture();
    expect(await main(runArgs, second)).toBe(2);
    expect(second.text()).toContain(`pid ${proc.pid}`);

    proc.kill('SIGKILL');
    await new Promise((resolve) => { if (proc.exitCode !== null || proc.signalCode !== null) resolve(null); else proc.once('exit', resolve); });

    const after = capture();
    expect(await main(['device', 'status', '--dir', dir], after)).toBe(0);
    const text = after.text();
    expect(text).toContain(`device: not running; pid ${proc.pid} left`);
    expect(text).toMatch(/download was cut off/);
    expect(text).toContain('agent: downloading');
    expect(text).not.toMatch(/attempt 0/);
    const json = capture();
    expect(await main(['device', 'status', '--dir', dir, '--json'], json)).toBe(0);
    const status = JSON.parse(json.text()) as { runner: { running: boolean; pid: number; stale: boolean }; agent: { phase: string; download: { offset: number } } };
    expect(status.runner).toEqual({ running: false, pid: proc.pid, stale: true });
    expect(status.agent.phase).toBe('downloading');
    const durable = status.agent.download.offset;
    expect(durable).toBeGreaterThan(0);
    expect(text).toContain(`resumes from byte ${durable}`);

    // What status reported is what happens: the library takes the stale lock over and resumes at that byte.
    const events: AgentEvent[] = [];
    const device = new SimDevice({ dir, serial: 'SN-STATUS-KILL', hardwareVersion: 'evt', api: { baseUrl: backend.baseUrl, projectKey: backend.projectKey },
      onEvent: (event) => events.push(event) });
    try {
      await device.boot();
      expect((await device.runOnce()).outcome).toBe('confirmed');
    } finally {
      device.close();
    }
    const resumed = events.find((e) => e.type === 'download-resumed');
    expect(resumed !== undefined && resumed.type === 'download-resumed' ? resumed.offset : -1).toBe(durable);
    const done = capture();
    expect(await main(['device', 'status', '--dir', dir], done)).toBe(0);
    expect(done.text()).toContain('device: not running (no process holds DIR/lock)');
    expect(done.text()).toContain('main-fw: running 2.0.0');
  }, 60_000);
});
