import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startBackend } from '../../src/backend/index.js';
import type { Backend } from '../../src/backend/index.js';
import { buildFirmwareImage } from '../../hal/sim/firmware-image.js';
import { testPki } from '../../src/tools/pki.js';
import { main, processIo } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/command.js';
import { deviceRunHooks } from '../../src/cli/commands/device-run.js';
import { onStopRequest, requestStopForClosedOutput } from '../../src/cli/stop-request.js';
import type { StopReason } from '../../src/cli/stop-request.js';
import { EventEmitter } from 'node:events';

// `ota device run` as QA drove it by hand: bad flags, corrupted flash, signals, stalled downloads, refusals,
// rollbacks, a server that ignores Range, and bigger slots. In-process against the mock backend.

interface Captured extends CliIo { text(): string; errors(): string }

function capture(): Captured {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out: (t) => { out.push(t); }, err: (t) => { err.push(t); }, env: {}, cwd: process.cwd(), isTty: false,
    text: () => out.join(''), errors: () => err.join(''),
  };
}

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ota-devrun-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => { for (const dir of dirs) rmSync(dir, { recursive: true, force: true }); });

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => { setTimeout(resolve, ms); });
}

/** Polls `condition` every 20 ms, at most `limit` times (a bounded wait, not a timing assertion). */
async function until(condition: () => boolean, what: () => string, limit = 1000): Promise<void> {
  for (let i = 0; i < limit; i++) {
    if (condition()) return;
    await sleep(20);
  }
  throw new Error(`gave up waiting: ${what()}`);
}

/** Resolves with the run's exit code, or 'hung' when it does not end within `ms` (the HTTP idle timeout is 30 s). */
function orHung(run: Promise<number>, ms: number): Promise<number | 'hung'> {
  return Promise.race([run, sleep(ms).then(() => 'hung' as const)]);
}

const UNREACHABLE = 'http://127.0.0.1:1';

function deviceArgs(dir: string, url: string, projectKey: string, extra: string[]): string[] {
  return ['device', 'run', '--dir', dir, '--serial', 'SN-QA', '--hardware-version', 'evt', '--software-type', 'main-fw',
    '--url', url, '--project-key', projectKey, ...extra];
}

describe('ota device run: flags are checked before anything is created', () => {
  const base = tempDir();
  const notPem = join(base, 'bad.pem');
  const publicPem = join(base, 'pub.pem');
  const badKey = join(base, 'key.txt');
  const aFile = join(base, 'a-file');
  const chainPem = join(base, 'chain.pem');
  beforeAll(() => {
    writeFileSync(chainPem, testPki('ecdsa').leaf.chainPem);
    writeFileSync(notPem, 'hello, not a certificate\n');
    writeFileSync(publicPem, generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }));
    writeFileSync(badKey, 'not a key');
    writeFileSync(aFile, 'x');
  });

  const cases: [string, string[], RegExp][] = [
    ['missing --ca file', ['--ca', '/nonexistent/ca.pem'], /--ca \/nonexistent\/ca\.pem does not exist; pass the path of a PEM file of CA certificates/],
    ['--ca without a certificate', ['--ca', notPem], /--ca .*bad\.pem holds no PEM certificate; pass a PEM file of CA certificates/],
    ['--ca holding a public key', ['--ca', publicPem], /--ca .*pub\.pem holds a PUBLIC KEY, not a certificate/],
    ['--ca holding a server chain', ['--ca', chainPem], /--ca .*chain\.pem: certificate 1 of 2 \(CN=localhost[^)]*\) is not a root: it is issued by .*Intermediate.*put the root that issued it in the bundle/],
    ['missing --key file', ['--key', '/nonexistent/key.pem'], /--key \/nonexistent\/key\.pem does not exist/],
    ['unreadable --key', ['--key', badKey], /--key .*key\.txt: .*Pass an Ed25519 public key PEM or an HMAC key file/],
    ['40-character --factory-version', ['--factory-version', 'v'.repeat(40)], /--factory-version must be the factory image version: 1 to 32 printable/],
    ['empty --factory-version', ['--factory-version', ''], /--factory-version must be .*got ""/],
    ['--serial the device API refuses', ['--serial', 'SN/1'], /--serial must be 1 to 128 characters of letters, digits, "-" and "_" .*got "SN\/1"/],
    ['--slot-size not in sectors', ['--slot-size', '1000'], /--slot-size must be a size from 16K to 64M in multiples of 4K .*got "1000"/],
    ['--slot-size with a bad suffix', ['--slot-size', '3X'], /--slot-size must be a size/],
    ['--wifi-slot-size too small', ['--wifi-slot-size', '4K'], /--wifi-slot-size must be a size from 8K/],
  ];
  for (const [name, extra, message] of cases) {
    it(`${name}: usage error (exit 2) naming the flag, no DIR created`, async () => {
      const dir = join(base, `dev-${name.replace(/\W+/g, '-')}`);
      const io = capture();
      expect(await main(deviceArgs(dir, UNREACHABLE, 'pk', extra), io)).toBe(2);
      expect(io.errors()).toMatch(message);
      expect(existsSync(dir)).toBe(false);
    });
  }

  it('--dir naming a file and a too-long --software-type are usage errors', async () => {
    const io = capture();
    expect(await main(deviceArgs(aFile, UNREACHABLE, 'pk', []), io)).toBe(2);
    expect(io.errors()).toMatch(/--dir .*a-file is a file, not a directory/);
    const dir = join(base, 'dev-type');
    const type = capture();
    expect(await main(['device', 'run', '--dir', dir, '--serial', 'S', '--hardware-version', 'evt', '--software-type', 't'.repeat(17),
      '--url', UNREACHABLE, '--project-key', 'pk'], type)).toBe(2);
    expect(type.errors()).toMatch(/--software-type must be .* 1 to 16 printable/);
    expect(existsSync(dir)).toBe(false);
  });
});

describe('ota device run: flash state', () => {
  it('an unreachable backend exits 3; corrupted boot records are refused without touching main, WiFi or journal; --reprovision starts over', async () => {
    const dir = tempDir();
    const first = capture();
    expect(await main(deviceArgs(dir, UNREACHABLE, 'pk', ['--once']), first)).toBe(3);
    expect(first.text()).toContain('factory-provisioning');
    expect(first.errors()).toMatch(/connection-refused/);
    // One cycle only: no next attempt follows, so the backoff is told as what a polling device would do.
    expect(first.text()).toMatch(/a polling device would try again in \d+s \(connection-refused\)/);
    expect(first.text()).not.toMatch(/next attempt in/);
    // Random bytes over the boot-record sectors (fixed seed).
    const mainPath = join(dir, 'main.flash');
    const flash = readFileSync(mainPath);
    let seed = 12345;
    for (let i = 0; i < 8192; i++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      flash[i] = seed >>> 24;
    }
    writeFileSync(mainPath, flash);
    const wifiBefore = readFileSync(join(dir, 'wifi.flash'));
    const refused = capture();
    expect(await main(deviceArgs(dir, UNREACHABLE, 'pk', ['--once']), refused)).toBe(1);
    expect(refused.text()).not.toContain('factory-provisioning');
    expect(refused.errors()).toMatch(/main\.flash holds data but no valid boot record.*Delete .*, or pass --reprovision to erase main, WiFi and journal together/);
    expect(readFileSync(mainPath).equals(flash)).toBe(true);
    expect(readFileSync(join(dir, 'wifi.flash')).equals(wifiBefore)).toBe(true);
    expect(existsSync(join(dir, 'lock'))).toBe(false);

    const again = capture();
    expect(await main(deviceArgs(dir, UNREACHABLE, 'pk', ['--once', '--reprovision']), again)).toBe(3);
    expect(again.text()).toMatch(/reprovisioning .*: main, WiFi and journal erased\n.*factory-provisioning/s);
    const status = capture();
    expect(await main(['device', 'status', '--dir', dir], status)).toBe(0);
    expect(status.text()).toMatch(/main-fw: running 0\.0\.1/);
    expect(status.text()).toMatch(/wifi-fw: running 0\.0\.1/);
  });

  it('device status on flash it does not recognise says what it expected, what it found and what to do, and exits 1 (text and --json)', async () => {
    const dir = tempDir();
    expect(await main(deviceArgs(dir, UNREACHABLE, 'pk', ['--once']), capture())).toBe(3);
    const mainPath = join(dir, 'main.flash');
    const flash = readFileSync(mainPath);
    flash.fill(0x5a, 0, 8192);
    writeFileSync(mainPath, flash);
    const text = capture();
    expect(await main(['device', 'status', '--dir', dir], text)).toBe(1);
    expect(text.text()).toBe('');
    expect(text.errors()).toMatch(/does not hold a recognised device: expected the flash of a device provisioned by "ota device run" \(or blank flash\), found main\.flash holding data but no valid boot record .*, wifi\.flash provisioned, \d+ valid journal records\./);
    expect(text.errors()).toContain(`run "ota device run --dir ${dir} --reprovision …"`);
    expect(text.errors()).not.toMatch(/running nothing/);
    const json = capture();
    expect(await main(['device', 'status', '--dir', dir, '--json'], json)).toBe(1);
    const shown = JSON.parse(json.text()) as { error: { code: string; message: string; details: { main: string; wifi: string } } };
    expect(shown.error.code).toBe('device-flash-unrecognized');
    expect(shown.error.message).toMatch(/--reprovision/);
    expect(shown.error.details).toMatchObject({ main: 'unrecognized', wifi: 'provisioned' });
    expect(readFileSync(mainPath).equals(flash)).toBe(true);
  });

  it('half a device (main flash deleted, WiFi provisioned) is refused, not re-provisioned over the WiFi', async () => {
    const dir = tempDir();
    expect(await main(deviceArgs(dir, UNREACHABLE, 'pk', ['--once']), capture())).toBe(3);
    rmSync(join(dir, 'main.flash'));
    const wifiBefore = readFileSync(join(dir, 'wifi.flash'));
    const io = capture();
    expect(await main(deviceArgs(dir, UNREACHABLE, 'pk', ['--once']), io)).toBe(1);
    expect(io.errors()).toMatch(/main\.flash is blank but .*wifi\.flash holds a provisioned WiFi image/);
    expect(readFileSync(join(dir, 'wifi.flash')).equals(wifiBefore)).toBe(true);
    // device run made a blank main.flash to look at; status says what device run said, not "running nothing".
    const status = capture();
    expect(await main(['device', 'status', '--dir', dir], status)).toBe(1);
    expect(status.errors()).toMatch(/found main\.flash blank, wifi\.flash provisioned, .*\(half a device: the main MCU is blank\)/);
  });
});

describe('ota device run: the base URL\'s scheme', () => {
  it('an http:// URL warns once on stderr that the project key travels in cleartext, never printing it, and still runs; https:// does not', async () => {
    const key = 'pk-secret-4711';
    const plain = capture();
    expect(await main(deviceArgs(tempDir(), 'http://127.0.0.1:1/api', key, ['--once']), plain)).toBe(3);
    const warnings = plain.errors().split('\n').filter((line) => line.startsWith('warning:'));
    expect(warnings).toEqual(['warning: the device API URL http://127.0.0.1:1 is plain HTTP, not HTTPS: the project key is sent in cleartext ' +
      'with every request, readable by anyone on the network path; use an https:// URL (with --ca for a private CA) outside a local test setup']);
    expect(plain.errors() + plain.text()).not.toContain(key);
    expect(plain.text()).toContain('checking for an update');
    const tls = capture();
    await main(deviceArgs(tempDir(), 'https://127.0.0.1:1', key, ['--once']), tls);
    expect(tls.text()).toContain('checking for an update');
    expect(tls.errors()).not.toMatch(/cleartext|warning/);
  });

  it('a --url holding user:password@ is a usage error that does not print the password', async () => {
    const dir = join(tempDir(), 'dev');
    const io = capture();
    expect(await main(deviceArgs(dir, 'http://user:hunter2@127.0.0.1:1/api', 'pk', ['--once']), io)).toBe(2);
    expect(io.errors()).toMatch(/--url must not carry credentials \(user:password@ before the host; not printed here\).*pass --url http:\/\/127\.0\.0\.1:1\/api/);
    expect(io.errors() + io.text()).not.toContain('hunter2');
    expect(existsSync(dir)).toBe(false);
  });

  it('a --url with credentials and a scheme that is not http(s) is refused without printing the password either', async () => {
    const dir = join(tempDir(), 'dev');
    const io = capture();
    expect(await main(deviceArgs(dir, 'ftp://user:hunter2@127.0.0.1:1', 'pk', ['--once']), io)).toBe(2);
    expect(io.errors()).toMatch(/--url must not carry credentials/);
    expect(io.errors() + io.text()).not.toContain('hunter2');
    expect(existsSync(dir)).toBe(false);
  });
});

describe('ota device run against the mock backend', () => {
  let backend: Backend;
  beforeAll(async () => { backend = await startBackend({ http: true }); });
  afterAll(async () => { await backend.close(); });
  afterEach(() => {
    for (const rule of backend.faults.list()) backend.faults.remove(rule.id);
  });
  const args = (dir: string, extra: string[]): string[] => deviceArgs(dir, backend.baseUrl, backend.projectKey, ['--no-wifi', ...extra]);

  async function release(version: string, size: number, behaviour?: 'crash-on-boot' | 'never-confirm'): Promise<void> {
    await backend.admin.uploadPayload(buildFirmwareImage({ version, size, behaviour }), { hardwareVersion: 'evt', softwareType: 'main-fw', softwareVersion: version });
    backend.admin.deploy({ releaseVersion: version, cohort: 'default', rolloutPercent: 100 });
  }

  it('polling: one SIGINT listener whatever the wait, a Retry-After of years sleeps instead of spinning, Ctrl-C exits 130, SIGTERM 143, a closed stdout 141', async () => {
    backend.faults.add({ route: 'device-api', kind: 'status', status: 503, retryAfter: '9999999999', times: 'always' });
    const stops = [['SIGINT', 130, () => { process.emit('SIGINT'); }], ['SIGTERM', 143, () => { process.emit('SIGTERM'); }],
      // `ota device run | head`: the reader went away (main.ts's stdout reports EPIPE this way).
      ['SIGINT', 141, () => { expect(requestStopForClosedOutput()).toBe(true); }]] as const;
    for (const [signal, code, stop] of stops) {
      const dir = tempDir();
      const before = process.listenerCount(signal);
      const io = capture();
      const run = main(args(dir, []), io);
      await until(() => io.text().includes('next check in'), () => io.text() + io.errors());
      await sleep(300);
      expect(io.text().match(/checking for an update/g)?.length, io.text()).toBe(1);
      expect(process.listenerCount(signal) - before).toBeLessThanOrEqual(1);
      stop();
      expect(await orHung(run, 10_000)).toBe(code);
      expect(io.errors()).toMatch(/stopping/);
      expect(io.errors()).not.toMatch(/download state/);
      expect(process.listenerCount(signal)).toBe(before);
      expect(existsSync(join(dir, 'lock'))).toBe(false);
    }
  });

  /** Starts a download of a 200 000-byte `version` in a new DIR, stalls it past 120 000 bytes and Ctrl-C's it: the journal keeps it. */
  async function stoppedDownload(version: string): Promise<{ dir: string; io: Captured }> {
    await release(version, 200_000);
    backend.faults.add({ route: 'cdn', kind: 'stall', afterBytes: 120_000, ms: 120_000, times: 1 });
    const dir = tempDir();
    const io = capture();
    const run = main(args(dir, ['--once']), io);
    await until(() => /\] +\d+% /.test(io.text()), () => io.text() + io.errors());
    await sleep(500);
    process.emit('SIGINT');
    expect(await orHung(run, 15_000)).toBe(130);
    return { dir, io };
  }

  it('Ctrl-C during a stalled download stops at once and journals the durable offset; a 200 to the resume says it restarted from 0', async () => {
    const { dir, io } = await stoppedDownload('2.0.0');
    expect(io.errors()).toMatch(/stopping \(SIGINT; send it again to exit at once\): the download state is kept in the journal/);
    expect(existsSync(join(dir, 'lock'))).toBe(false);
    const status = capture();
    expect(await main(['device', 'status', '--dir', dir, '--json'], status)).toBe(0);
    const agent = JSON.parse(status.text()).agent as { phase: string; download: { offset: number }; release: { url: string } };
    expect(agent.phase).toBe('downloading');
    // The journaled link is signed: its token is a credential and is not printed.
    expect(agent.release.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/[^?]+$/);
    expect(status.text()).not.toContain('token=');
    expect(agent.download.offset).toBeGreaterThan(0);

    backend.faults.add({ route: 'cdn', kind: 'ignore-range', times: 1 });
    const resumed = capture();
    expect(await main(args(dir, ['--once']), resumed)).toBe(0);
    // The agent tells a 200 with the same ETag (Range ignored) from one with a new ETag (the payload changed).
    expect(resumed.text()).toMatch(/the server ignored the Range request and sent the whole payload: download restarted from byte 0/);
    expect(resumed.text()).not.toMatch(/payload changed on the server/);
    expect(resumed.text()).not.toMatch(/resumed at byte/);
    expect(resumed.text()).toContain('confirmed 2.0.0');
  });

  it('a resume after a stop says once where it continues, of how much, and that the flash already written was read back', async () => {
    const { dir } = await stoppedDownload('2.0.1');
    const status = capture();
    expect(await main(['device', 'status', '--dir', dir, '--json'], status)).toBe(0);
    const hashOffset = (JSON.parse(status.text()).agent as { download: { hashOffset: number } }).download.hashOffset;
    expect(hashOffset).toBeGreaterThan(0);
    const resumed = capture();
    expect(await main(args(dir, ['--once']), resumed)).toBe(0);
    const told = resumed.text().match(/download resumed at .*/g) ?? [];
    expect(told).toEqual([`download resumed at byte ${hashOffset} of 200000 (${(hashOffset / 1024).toFixed(1)} KiB of 195.3 KiB, release 2.0.1) from the journal: ` +
      'the payload already in flash was read back to rebuild its checksum; the rest comes with Range + If-Range']);
    expect(resumed.text()).toContain('confirmed 2.0.1');
  });

  it('a payload that changed on the server (new ETag, so If-Range answers 200) is not told as a server that ignored Range', async () => {
    const { dir } = await stoppedDownload('2.0.2');
    backend.faults.add({ route: 'cdn', kind: 'etag', times: 1 });
    const resumed = capture();
    expect(await main(args(dir, ['--once']), resumed)).toBe(0);
    expect(resumed.text()).toMatch(/the payload changed on the server since the download began \(its ETag is new\): download restarted from byte 0/);
    expect(resumed.text()).not.toMatch(/the server ignored the Range request|resumed at byte/);
    expect(resumed.text()).toContain('confirmed 2.0.2');
  });

  it('a second Ctrl-C before the stop completes exits at once', async () => {
    await release('2.1.0', 50_000);
    backend.faults.add({ route: 'cdn', kind: 'stall', ms: 120_000, times: 1 });
    const dir = tempDir();
    const exits: number[] = [];
    const saved = deviceRunHooks.exitNow;
    deviceRunHooks.exitNow = (code) => { exits.push(code); };
    try {
      const io = capture();
      const run = main(args(dir, ['--once']), io);
      await until(() => io.text().includes('downloading'), () => io.text() + io.errors());
      // Back to back: the first asks the agent to stop, the second comes before the stop completes.
      process.emit('SIGINT');
      process.emit('SIGINT');
      expect(await orHung(run, 10_000)).toBe(130);
      expect(exits).toEqual([130]);
      expect(io.errors()).toMatch(/SIGINT again: exiting now/);
      expect(existsSync(join(dir, 'lock'))).toBe(false);
    } finally {
      deviceRunHooks.exitNow = saved;
    }
  });

  it('a release too large for the slot is reported refused (no backoff line); --slot-size makes room and is kept in DIR', async () => {
    await release('3.0.0', 300_000);
    const dir = tempDir();
    const io = capture();
    expect(await main(args(dir, ['--once']), io)).toBe(1);
    expect(io.text()).toMatch(/the offered release refused \(image-too-large\): The image is 300000 bytes .*; it will not be retried until a different release is offered/);
    expect(io.text()).not.toMatch(/next attempt in/);
    const status = capture();
    expect(await main(['device', 'status', '--dir', dir], status)).toBe(0);
    expect(status.text()).toMatch(/agent: backoff, release .* refused \(image-too-large\); it will not be retried/);
    expect(status.text()).not.toMatch(/failures in a row/);

    const big = tempDir();
    const sized = capture();
    expect(await main(args(big, ['--once', '--slot-size', '512K']), sized)).toBe(0);
    expect(sized.text()).toMatch(/factory-provisioning .*\(512K slots\)/);
    expect(sized.text()).toContain('confirmed 3.0.0');
    const later = capture();
    expect(await main(args(big, ['--once']), later)).toBe(0);
    expect(later.text()).toContain('up to date');
    const other = capture();
    expect(await main(args(big, ['--once', '--slot-size', '1M']), other)).toBe(2);
    expect(other.errors()).toMatch(/--slot-size 1M does not match .*main\.flash, provisioned with 512K slots; omit --slot-size/);
    const shown = capture();
    expect(await main(['device', 'status', '--dir', big], shown)).toBe(0);
    expect(shown.text()).toMatch(/slot B: confirmed +3\.0\.0/);
  });

  it('a rollback says from which version to which, and why', async () => {
    await release('4.0.0', 20_000, 'crash-on-boot');
    const dir = tempDir();
    const io = capture();
    expect(await main(args(dir, ['--once']), io)).toBe(1);
    expect(io.errors()).toMatch(/ota device run: rolled back from 4\.0\.0 to 0\.0\.1: the image crashed on boot \d+ times/);
    expect(io.text()).toMatch(/rolled back from 4\.0\.0: the image crashed on boot/);
  });

  it('--health-deadline sets how long a trial image has to confirm: a never-confirming one is reverted after it', async () => {
    await release('4.1.0', 20_000, 'never-confirm');
    const dir = tempDir();
    const io = capture();
    expect(await orHung(main(args(dir, ['--once', '--health-deadline', '1']), io), 30_000)).toBe(1);
    expect(io.text()).toMatch(/error health-deadline: Nothing confirmed the trial image within 1000 ms/);
    expect(io.errors()).toMatch(/rolled back from 4\.1\.0 to 0\.0\.1/);
  });
});

describe('output to a closed pipe', () => {
  it('EPIPE ends the output: later writes are dropped and a running command is asked to stop, once', () => {
    const fake = (): EventEmitter & { written: string[]; write(text: string): boolean } =>
      Object.assign(new EventEmitter(), { written: [] as string[], write(text: string): boolean { this.written.push(text); return true; } });
    const stdout = fake();
    const stderr = fake();
    const reasons: StopReason[] = [];
    const unlisten = onStopRequest((reason) => { reasons.push(reason); });
    try {
      const io = processIo(stdout, stderr);
      io.out('one\n');
      stdout.emit('error', Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
      stdout.emit('error', Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
      io.out('two\n');
      io.err('still here\n');
      expect(stdout.written).toEqual(['one\n']);
      expect(stderr.written).toEqual(['still here\n']);
      expect(reasons).toEqual(['output-closed']);
      expect(() => stderr.emit('error', Object.assign(new Error('disk full'), { code: 'ENOSPC' }))).toThrow(/disk full/);
    } finally {
      unlisten();
    }
  });

  it('`ota device status | head` ends quietly when the reader goes away (EPIPE is the end of output)', async () => {
    const dir = tempDir();
    await main(deviceArgs(dir, UNREACHABLE, 'pk', ['--once']), capture());
    expect(existsSync(join(dir, 'main.flash'))).toBe(true);
    const child = spawn(join(process.cwd(), 'node_modules/.bin/tsx'), ['src/cli/main.ts', 'device', 'status', '--dir', dir],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    // The reader leaves before the first line: every write of the child meets a closed pipe.
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    const code = await new Promise<number | null>((resolve) => { child.once('exit', (c) => resolve(c)); });
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });
});
