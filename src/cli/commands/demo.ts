import { startBackend } from '../../backend/index.js';
import type { Backend } from '../../backend/index.js';
import { buildFirmwareImage } from '../../../hal/sim/firmware-image.js';
import type { FirmwareBehaviour } from '../../../hal/sim/firmware-image.js';
import type { SimFlash } from '../../../hal/sim/sim-flash.js';
import type { AgentEvent } from '../../agent/events.js';
import { ed25519Verifier } from '../../node/crypto.js';
import { SimDevice } from '../../node/sim-device.js';
import { createBundle } from '../../tools/bundle.js';
import type { BundlePartInput } from '../../tools/bundle.js';
import { ed25519Signer, generateEd25519 } from '../../tools/keys.js';
import type { Command, CliIo } from '../command.js';
import { EXIT_FAILURE, EXIT_OK } from '../exit-codes.js';
import { ProgressBar, describeEvent, formatBytes } from '../progress.js';

// `npm start`: the whole story in-process, no set-up. A mock backend over HTTPS, a signed two-part bundle, a
// simulated two-MCU device that loses its link and then its power mid-download, resumes with Range, installs,
// boots the trial and confirms; then an aborted rollout and a crashing image that rolls back.

const SERIAL = 'demo-0001';
const HARDWARE = 'evt';

interface Step {
  name: string;
  ok: boolean;
  detail: string;
}

function image(version: string, size: number, behaviour: FirmwareBehaviour = 'healthy'): Uint8Array {
  return buildFirmwareImage({ version, size, behaviour });
}

/** Runs the demo; resolves with the exit code. */
export async function runDemo(io: CliIo): Promise<number> {
  const started = Date.now();
  const steps: Step[] = [];
  const say = (text: string): void => io.out(text + '\n');
  const record = (name: string, ok: boolean, detail: string): void => {
    steps.push({ name, ok, detail });
    say(`${ok ? '✔' : '✘'} ${name}: ${detail}`);
  };
  let backend: Backend | null = null;
  let device: SimDevice | null = null;
  const events: AgentEvent[] = [];
  const bar = new ProgressBar(io.out, io.isTty);
  let onProgress: (event: AgentEvent) => void = () => undefined;
  try {
    say('ota-agent demo: mock backend (HTTPS), signed two-part bundle, simulated two-MCU device\n');
    backend = await startBackend({});
    record('backend', true, `device API ${backend.baseUrl}, CDN ${backend.cdnBaseUrl} (TLS, test CA)`);

    const keys = generateEd25519();
    const signer = ed25519Signer(keys.privatePem);
    const bundle = (version: string, sequence: number, parts: BundlePartInput[]): Uint8Array =>
      createBundle({ sequence, releaseVersion: version, hardwareVersions: [HARDWARE], parts }, signer);
    const release1 = bundle('1.0.0', 1, [
      { softwareType: 'wifi-fw', version: '2.0.0', data: image('2.0.0', 48 * 1024) },
      { softwareType: 'main-fw', version: '1.0.0', data: image('1.0.0', 192 * 1024) },
    ]);
    await backend.admin.uploadPayload(release1, { hardwareVersion: HARDWARE, softwareType: 'main-fw', softwareVersion: '1.0.0', notes: 'demo' });
    backend.admin.deploy({ releaseVersion: '1.0.0', cohort: 'default', rolloutPercent: 100 });
    record('release 1.0.0', true, `two firmware images built, bundle ${formatBytes(release1.length)} signed (Ed25519), uploaded, deployed to "default"`);

    device = new SimDevice({
      serial: SERIAL, hardwareVersion: HARDWARE, api: { baseUrl: backend.baseUrl, projectKey: backend.projectKey }, ca: backend.trustedRootsDer,
      trust: { verifiers: [ed25519Verifier(keys.publicPem)], allowUnsigned: false },
      policy: { healthDeadlineMs: 3000, backoffBaseMs: 100, backoffMaxMs: 1000, progressIntervalMs: 100 },
      onEvent: (event) => {
        events.push(event);
        if (bar.onEvent(event)) { onProgress(event); return; }
        const text = describeEvent(event);
        if (text !== null) say(`    · ${text}`);
        onProgress(event);
      },
    });
    await device.provision(image('0.9.0', 96 * 1024), '0.9.0', image('1.9.0', 32 * 1024), '1.9.0');
    await device.boot();
    record('device', true, `${SERIAL} provisioned: main-fw 0.9.0, wifi-fw 1.9.0 (A/B banks, journal, serial link)`);

    // Story 1: link drop and power cut mid-download, resume, install, trial, confirm.
    backend.faults.add({ route: 'cdn', kind: 'throttle', bytesPerSecond: 768 * 1024, times: 'always' });
    backend.faults.add({ route: 'cdn', kind: 'drop', afterBytes: 60 * 1024, times: 1 });
    const mainFlash = device.mainFlash as SimFlash;
    let resumedOnce = false;
    let cutArmed = false;
    onProgress = (event) => {
      if (event.type === 'download-resumed') resumedOnce = true;
      if (event.type === 'download-progress' && resumedOnce && !cutArmed && (event.received ?? 0) > 150 * 1024) {
        cutArmed = true;
        bar.clear();
        say('    ⚡ power cut (armed on the next flash operation)');
        mainFlash.armCut({ op: mainFlash.ops + 1, mode: 'torn-prefix' });
      }
    };
    say('\n▶ update to 1.0.0 (a connection drop, then a power cut, mid-download)');
    const first = await device.runOnce();
    const dropResumed = events.some((e) => e.type === 'download-resumed');
    record('connection drop', dropResumed, dropResumed ? 'the agent resumed in the same cycle with a Range request' : 'no resume seen');
    record('power cut', cutArmed && first.outcome !== 'confirmed', `cycle ended "${first.outcome}" (${first.error?.code ?? 'no error'}); flash kept what was durable`);
    onProgress = () => undefined;
    const before = events.length;
    say('    ↻ power on');
    await device.boot();
    const second = await device.runOnce();
    const resumed = events.slice(before).find((e) => e.type === 'download-resumed');
    record('resume after power loss', resumed !== undefined && (resumed.offset ?? 0) > 0,
      resumed ? `continued at byte ${resumed.offset} of ${formatBytes(release1.length)} with Range + If-Range` : 'did not resume');
    const s1 = await device.status();
    const ok1 = second.outcome === 'confirmed' && s1.main.running === '1.0.0' && s1.wifi?.running === '2.0.0' && !s1.main.trial && !s1.wifi?.trial;
    record('install both MCUs', ok1, `verified, activated, trial boot, confirmed: main-fw ${s1.main.running}, wifi-fw ${s1.wifi?.running}`);

    // Story 2: a second rollout, aborted while the device downloads it.
    backend.faults.clear();
    backend.faults.add({ route: 'cdn', kind: 'throttle', bytesPerSecond: 256 * 1024, times: 'always' });
    backend.faults.add({ route: 'cdn', kind: 'drop', afterBytes: 48 * 1024, times: 1 });
    const release2 = bundle('1.1.0', 2, [{ softwareType: 'main-fw', version: '1.1.0', data: image('1.1.0', 192 * 1024) }]);
    await backend.admin.uploadPayload(release2, { hardwareVersion: HARDWARE, softwareType: 'main-fw', softwareVersion: '1.1.0' });
    backend.admin.deploy({ releaseVersion: '1.1.0', cohort: 'default', rolloutPercent: 100 });
    say('\n▶ rollout of 1.1.0, aborted mid-download');
    let aborted = false;
    onProgress = (event) => {
      if (event.type === 'download-progress' && !aborted && (event.received ?? 0) > 32 * 1024) {
        aborted = true;
        bar.clear();
        backend!.admin.abortRollout('default');
        // The link then drops; the CDN refuses the resume, as after an expiry, so the agent asks the API again.
        backend!.faults.add({ route: 'cdn', kind: 'status', status: 410, times: 1 });
        say('    ✋ rollout aborted by the operator');
      }
    };
    const third = await device.runOnce();
    onProgress = () => undefined;
    const s2 = await device.status();
    const withdrawn = events.some((e) => e.type === 'up-to-date' && e.reason === 'release-withdrawn');
    record('abort rollout', aborted && withdrawn && s2.main.running === '1.0.0',
      `the device dropped the partial download (${third.outcome}) and stays on ${s2.main.running}`);

    // Story 3: a release whose image crashes on boot.
    backend.faults.clear();
    const release3 = bundle('1.2.0', 3, [{ softwareType: 'main-fw', version: '1.2.0', data: image('1.2.0', 128 * 1024, 'crash-on-boot') }]);
    await backend.admin.uploadPayload(release3, { hardwareVersion: HARDWARE, softwareType: 'main-fw', softwareVersion: '1.2.0' });
    backend.admin.deploy({ releaseVersion: '1.2.0', cohort: 'default', rolloutPercent: 100 });
    say('\n▶ update to 1.2.0, an image that crashes on boot');
    const fourth = await device.runOnce();
    const s3 = await device.status();
    const crashes = device.lastBoot?.crashes ?? 0;
    record('rollback', fourth.outcome === 'rolled-back' && s3.main.running === '1.0.0',
      `1.2.0 crashed ${crashes} time(s), the bootloader reverted, the agent reports rolled back; running ${s3.main.running}`);
    const fifth = await device.runOnce();
    record('no retry of a bad release', fifth.outcome === 'up-to-date', `next check: ${fifth.outcome}`);
  } catch (error) {
    bar.clear();
    const text = error && typeof error === 'object' && 'message' in error ? String((error as { message: unknown }).message) : String(error);
    record('demo', false, `stopped by an unexpected error: ${text}`);
  } finally {
    device?.close();
    await backend?.close();
  }
  const failed = steps.filter((s) => !s.ok);
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  say(`\n${failed.length === 0 ? 'All' : `${steps.length - failed.length} of`} ${steps.length} steps ended as expected in ${seconds} s.`);
  if (failed.length > 0) say(`Failed: ${failed.map((s) => s.name).join(', ')}`);
  return failed.length === 0 ? EXIT_OK : EXIT_FAILURE;
}

/** `ota demo`. */
export const demoCommand: Command = {
  name: 'demo',
  summary: 'Run the whole OTA story in-process: mock backend, signed bundle, device with a drop, a power cut, a rollback',
  usage: '',
  options: {},
  run: (_args, io) => runDemo(io),
};
