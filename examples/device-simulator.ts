// One simulated device through one over-the-air update, end to end, in a single process:
//
//   1. start the mock Memfault-style backend (HTTPS, with a test CA it generates);
//   2. build two firmware images, pack them into a signed bundle, upload it and deploy it to the "default" cohort;
//   3. create a simulated two-MCU device (main MCU + WiFi co-processor) whose flash lives in files in a temp
//      directory, factory-program it, power it on;
//   4. let the agent check, download, verify, activate, reboot into the trial and confirm; print every event;
//   5. close everything.
//
// Run:  npx tsx examples/device-simulator.ts [--keep]
//       --keep leaves the flash files, so you can inspect them: npx tsx src/cli/main.ts device status --dir <dir>
//
// In your own project the imports below are the package entry points: 'ota-agent/backend', 'ota-agent/node',
// 'ota-agent/sim', 'ota-agent/tools' and 'ota-agent' (the portable core).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startBackend } from '../src/backend/index.js';
import type { AgentEvent } from '../src/index.js';
import { SimDevice, ed25519Verifier } from '../src/node/index.js';
import { buildFirmwareImage } from '../hal/sim/index.js';
import { createBundle, ed25519Signer, generateEd25519 } from '../src/tools/index.js';

/** What the example did, for callers (and the test that keeps this example honest). */
export interface DeviceSimulatorResult {
  /** How the update cycle ended: 'confirmed' when all went well. */
  outcome: string;
  /** Versions running after the update. */
  mainVersion: string | null;
  wifiVersion: string | null;
  /** How the check after the update ended: 'up-to-date'. */
  nextCheck: string;
  /** The agent's event types, in order (progress events left out). */
  events: string[];
  /** The flash directory (deleted unless `keep`). */
  dir: string;
}

/** Options of the example. */
export interface DeviceSimulatorOptions {
  /** Keep the flash files after the run (default false). */
  keep?: boolean;
}

const HARDWARE_VERSION = 'evt';

/** One human line per agent event. Events are plain objects with a `type` to switch on (src/agent/events.ts). */
function describe(event: AgentEvent): string | null {
  const version = 'version' in event && event.version ? ` ${event.version}` : '';
  switch (event.type) {
    case 'checking': return 'checking for an update';
    case 'update-available': return `update available${version}`;
    case 'download-started': return `downloading${version}${event.total !== undefined && event.total >= 0 ? ` (${event.total} bytes)` : ''}`;
    case 'download-progress': return `  ${event.received} / ${event.total} bytes`;
    case 'download-resumed': return `resumed at byte ${event.offset}`;
    case 'verified': return `verified${version}: every part read back from flash (size, CRC-32, SHA-256)`;
    case 'staged': return `activated${version}; the next boot is a trial`;
    case 'rebooting': return 'rebooting';
    case 'trial-started': return `running${version} as a trial; the self-test decides`;
    case 'confirmed': return `confirmed${version}`;
    case 'rolled-back': return `rolled back${version}`;
    case 'up-to-date': return `up to date (${event.reason ?? 'no reason given'})`;
    case 'backoff': return `backing off ${event.delayMs} ms`;
    case 'error': return `error ${event.code}: ${event.message}`;
    default: return null;   // 'state' events (every journaled phase) are for debugging
  }
}

/** Runs the example; `print` receives every line it would write to the console. */
export async function main(options: DeviceSimulatorOptions = {}, print: (line: string) => void = console.log): Promise<DeviceSimulatorResult> {
  // 1. The mock backend. With no options it listens on 127.0.0.1 (random ports) over HTTPS, with a fresh data
  //    directory it deletes on close(). The device API and the payload CDN are two listeners with two different
  //    roots, as in production; `trustedRootsDer` holds both, the way a device bundles its roots.
  const backend = await startBackend();
  const dir = mkdtempSync(join(tmpdir(), 'ota-example-device-'));
  let device: SimDevice | null = null;
  try {
    print(`backend: device API ${backend.baseUrl}, CDN ${backend.cdnBaseUrl}`);

    // 2. A release: one image per MCU, in one bundle signed with Ed25519. The device holds only the public key.
    //    buildFirmwareImage makes a simulated image whose header carries its version (and how it behaves on boot).
    const keys = generateEd25519();
    const bundle = createBundle({
      sequence: 1,                                 // anti-rollback counter
      releaseVersion: '1.0.0',
      hardwareVersions: [HARDWARE_VERSION],        // the device refuses a bundle built for other hardware
      parts: [
        { softwareType: 'wifi-fw', version: '2.0.0', data: buildFirmwareImage({ version: '2.0.0', size: 40 * 1024 }) },
        { softwareType: 'main-fw', version: '1.0.0', data: buildFirmwareImage({ version: '1.0.0', size: 120 * 1024 }) },
      ],
    }, ed25519Signer(keys.privatePem));
    // The same calls as `ota upload-ota-payload` and `ota deploy-release` (memfault-cli's flags).
    await backend.admin.uploadPayload(bundle, { hardwareVersion: HARDWARE_VERSION, softwareType: 'main-fw', softwareVersion: '1.0.0', notes: 'example release' });
    backend.admin.deploy({ releaseVersion: '1.0.0', cohort: 'default', rolloutPercent: 100 });
    print(`release 1.0.0 uploaded (${bundle.length} bytes, signed bundle) and deployed to cohort "default"`);

    // 3. The device. `dir` makes both flashes files (main.flash, wifi.flash): kill the process mid-download and
    //    run it again on the same directory, and it resumes like a device after a power cut.
    const events: string[] = [];
    device = new SimDevice({
      dir,
      serial: 'example-0001',
      hardwareVersion: HARDWARE_VERSION,
      api: { baseUrl: backend.baseUrl, projectKey: backend.projectKey },
      ca: backend.trustedRootsDer,               // the only roots trusted: never the system store
      trust: { verifiers: [ed25519Verifier(keys.publicPem)], allowUnsigned: false },
      policy: { progressIntervalMs: 200, healthDeadlineMs: 5000 },
      onEvent: (event) => {
        if (event.type !== 'download-progress' && event.type !== 'state') events.push(event.type);
        const line = describe(event);
        if (line !== null) print(`  [agent] ${line}`);
      },
    });
    // Factory images, confirmed, in slot A of each MCU (main-fw 0.9.0, wifi-fw 1.9.0).
    await device.provision(buildFirmwareImage({ version: '0.9.0', size: 100 * 1024 }), '0.9.0',
      buildFirmwareImage({ version: '1.9.0', size: 32 * 1024 }), '1.9.0');
    await device.boot();                          // power-on: both bootloaders, the serial link, a fresh agent
    const before = await device.status();
    print(`device example-0001 in ${dir}: main-fw ${before.main.running}, wifi-fw ${before.wifi?.running}`);

    // 4. One update. runOnce() is one check-and-update cycle; the simulated device reboots itself when the agent
    //    asks and the cycle continues in the trial boot until the self-test confirms. (device.start() would poll, through the reboots too.)
    const result = await device.runOnce();
    const after = await device.status();
    print(`update ended "${result.outcome}"${result.error ? ` (${result.error.code})` : ''}: ` +
      `main-fw ${after.main.running}, wifi-fw ${after.wifi?.running}`);

    // The next check finds nothing new: the backend answers 204 with memfault-reason "latest".
    const next = await device.runOnce();
    print(`next check: ${next.outcome}`);
    return { outcome: result.outcome, mainVersion: after.main.running, wifiVersion: after.wifi?.running ?? null,
      nextCheck: next.outcome, events, dir };
  } finally {
    // 5. Close the flash files and connections, then the backend (which deletes its temp data directory).
    device?.close();
    await backend.close();
    if (options.keep) print(`flash kept in ${dir}; inspect it with: npx tsx src/cli/main.ts device status --dir ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

// Run when executed directly (npx tsx examples/device-simulator.ts), not when imported.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main({ keep: process.argv.includes('--keep') }).then((result) => {
    // Nothing is left pending (the confirmation cancelled the trial's health deadline, the backend is closed), so
    // the process ends on its own with this status.
    process.exitCode = result.outcome === 'confirmed' ? 0 : 1;
  }, (error: unknown) => {
    // A bad argument or a failed run: its message (and code) is the whole story; a stack trace would bury it.
    const failure = error as { message?: string; code?: string };
    console.error(`device-simulator: ${failure.message ?? String(error)}${failure.code ? ` [${failure.code}]` : ''}`);
    process.exit(1);
  });
}
