import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startBackend } from '../../src/backend/index.js';
import type { Backend } from '../../src/backend/index.js';
import { buildFirmwareImage } from '../../hal/sim/firmware-image.js';
import { main } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/command.js';
import { parseArgs } from '../../src/cli/args.js';
import { serveBackend, serveCommand } from '../../src/cli/commands/serve.js';

let backend: Backend | null = null;
const dirs: string[] = [];
afterEach(async () => {
  await backend?.close();
  backend = null;
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function capture(): CliIo & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (t) => { stdout.push(t); }, err: (t) => { stderr.push(t); }, env: {}, cwd: process.cwd(), isTty: false };
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ota-device-'));
  dirs.push(dir);
  return dir;
}

describe('ota device run / ota device status', () => {
  it('runs the tutorial flow from the command line and shows the slots and the journal', async () => {
    backend = await startBackend({});
    await backend.admin.uploadPayload(buildFirmwareImage({ version: '1.0.0-alpha', size: 24_000 }),
      { hardwareVersion: 'evt', softwareType: 'main-fw', softwareVersion: '1.0.0-alpha' });
    backend.admin.deploy({ releaseVersion: '1.0.0-alpha', cohort: 'default', rolloutPercent: 100 });
    const dir = tempDir();
    const argv = ['device', 'run', '--dir', dir, '--serial', 'SN-CLI', '--hardware-version', 'evt', '--software-type', 'main-fw',
      '--url', backend.baseUrl, '--project-key', backend.projectKey, '--ca', backend.caPath!, '--once', '--no-wifi'];
    const io = capture();
    expect(await main(argv, io)).toBe(0);
    const out = io.stdout.join('');
    expect(out).toContain('factory-provisioning');
    expect(out).toContain('update available');
    expect(out).toMatch(/\[#+\] 100% /);
    expect(out).toContain('confirmed 1.0.0-alpha');
    expect(io.stdout.join('') + io.stderr.join('')).not.toContain(backend.projectKey);
    const again = capture();
    expect(await main(argv, again)).toBe(0);
    expect(again.stdout.join('')).toContain('up to date (latest)');
    const status = capture();
    expect(await main(['device', 'status', '--dir', dir], status)).toBe(0);
    const text = status.stdout.join('');
    expect(text).toContain('main-fw: running 1.0.0-alpha');
    expect(text).toMatch(/slot A: confirmed +0\.0\.1/);
    expect(text).toMatch(/slot B: confirmed +1\.0\.0-alpha/);
    expect(text).toMatch(/journal: \d+ valid records/);
  });

  it('`ota serve` prints no secret; `ota device run --data` takes the URL, project key and CA from its server.json', async () => {
    const dir = tempDir();
    const served = capture();
    backend = await serveBackend(parseArgs(serveCommand, ['--port', '0', '--data', join(dir, 'backend')], {}), served);
    const banner = served.stdout.join('');
    expect(banner).toContain(backend.baseUrl);
    expect(banner).toContain(join(dir, 'backend', 'server.json'));
    expect(banner).not.toContain(backend.projectKey);
    expect(banner).not.toContain(backend.orgToken);
    await backend.admin.uploadPayload(buildFirmwareImage({ version: '1.0.0', size: 9_000 }),
      { hardwareVersion: 'evt', softwareType: 'main-fw', softwareVersion: '1.0.0' });
    backend.admin.deploy({ releaseVersion: '1.0.0', cohort: 'default', rolloutPercent: 100 });
    const io = capture();
    const code = await main(['device', 'run', '--dir', join(dir, 'dev'), '--serial', 'SN-DATA', '--hardware-version', 'evt',
      '--software-type', 'main-fw', '--data', join(dir, 'backend'), '--once', '--no-wifi'], io);
    expect(code, io.stderr.join('')).toBe(0);
    expect(io.stdout.join('')).toContain('confirmed 1.0.0');
    expect(io.stdout.join('') + io.stderr.join('')).not.toContain(backend.projectKey);
    // The printed URL typed with a trailing slash and an upper-case scheme is the same backend: its server.json applies.
    const respelled = capture();
    const spelled = backend.baseUrl.replace(/^https/, 'HTTPS') + '/';
    expect(await main(['device', 'run', '--dir', join(dir, 'dev3'), '--serial', 'SN-SLASH', '--hardware-version', 'evt',
      '--software-type', 'main-fw', '--data', join(dir, 'backend'), '--url', spelled, '--once', '--no-wifi'], respelled), respelled.stderr.join('')).toBe(0);
    expect(respelled.stdout.join('')).toContain('confirmed 1.0.0');
    const missing = capture();
    expect(await main(['device', 'run', '--dir', join(dir, 'dev2'), '--serial', 'SN-NONE', '--hardware-version', 'evt',
      '--software-type', 'main-fw', '--data', join(dir, 'nothing'), '--once'], missing)).toBe(2);
    expect(missing.stderr.join('')).toMatch(/--url .* is required.*--data/);
  });

  it('fails with the reason and a non-zero exit on a wrong project key; usage errors exit 2', async () => {
    backend = await startBackend({});
    const dir = tempDir();
    const io = capture();
    const code = await main(['device', 'run', '--dir', dir, '--serial', 'SN-KEY', '--hardware-version', 'evt', '--software-type', 'main-fw',
      '--url', backend.baseUrl, '--project-key', 'wrong-key', '--ca', backend.caPath!, '--once', '--no-wifi'], io);
    expect(code).toBe(1);
    expect(io.stderr.join('')).toContain('projectKey');
    expect(io.stderr.join('')).not.toContain('wrong-key');
    const usage = capture();
    expect(await main(['device', 'run', '--dir', dir], usage)).toBe(2);
    const missing = capture();
    expect(await main(['device', 'status', '--dir', join(dir, 'nothing')], missing)).toBe(1);
  });

  it('an http:// URL at the HTTPS port fails with a hint to use https://, not only "closed without a response"', async () => {
    backend = await startBackend({});
    const plain = backend.baseUrl.replace('https://', 'http://');
    const io = capture();
    const code = await main(['device', 'run', '--dir', tempDir(), '--serial', 'SN-PLAIN', '--hardware-version', 'evt', '--software-type', 'main-fw',
      '--url', plain, '--project-key', backend.projectKey, '--once', '--no-wifi'], io);
    expect(code).not.toBe(0);
    const err = io.stderr.join('');
    expect(err).toMatch(/\[(http-no-response|connection-reset)\]/);
    expect(err).toContain(`hint: ${plain} is plain HTTP; if that port serves HTTPS (as \`ota serve\` does without --http), use ${backend.baseUrl} with --ca`);
  });

  it('killing the process mid-download is a power loss; running again resumes with a Range request', async () => {
    backend = await startBackend({});
    const size = 200_000;
    await backend.admin.uploadPayload(buildFirmwareImage({ version: '2.0.0', size }), { hardwareVersion: 'evt', softwareType: 'main-fw', softwareVersion: '2.0.0' });
    backend.admin.deploy({ releaseVersion: '2.0.0', cohort: 'default', rolloutPercent: 100 });
    backend.faults.add({ route: 'cdn', kind: 'throttle', bytesPerSecond: 50_000, times: 1 });
    const dir = tempDir();
    const args = ['src/cli/main.ts', 'device', 'run', '--dir', dir, '--serial', 'SN-KILL', '--hardware-version', 'evt', '--software-type', 'main-fw',
      '--url', backend.baseUrl, '--project-key', backend.projectKey, '--ca', backend.caPath!, '--once', '--no-wifi'];
    // tsx runs the program in a child node process: start a process group and kill all of it.
    const child = spawn(join(process.cwd(), 'node_modules/.bin/tsx'), args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const pull = (): void => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* already gone */ } };
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { pull(); reject(new Error('no progress within 30 s: ' + output)); }, 30_000);
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        // Half printed: data is flowing into flash and past the first journal checkpoint (64 KiB). Pull the plug.
        if (/\[#{15,}/.test(output)) { clearTimeout(timer); pull(); resolve(); }
      });
    });
    await new Promise((resolve) => child.once('exit', resolve));
    // Let the group's node process die too before the flash files are opened again.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const status = capture();
    await main(['device', 'status', '--dir', dir, '--json'], status);
    const before = JSON.parse(status.stdout.join('')) as { agent: { phase: string; download: { offset: number } | null } };
    expect(before.agent.phase).toBe('downloading');
    const io = capture();
    const code = await main(args.slice(1), io);
    expect(code, io.stdout.join('') + io.stderr.join('')).toBe(0);
    const out = io.stdout.join('');
    expect(out).toMatch(/download resumed at byte [1-9]\d*/);
    expect(out).toContain('confirmed 2.0.0');
  }, 90_000);
});
