import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildFirmwareImage } from '../../../hal/sim/firmware-image.js';
import { SimDevice } from '../../node/sim-device.js';
import { verifierFromKeyText } from '../../tools/keys.js';
import { serverRecordOf } from '../admin-client.js';
import { pemToDerList } from '../device-ca.js';
import { intOption, requireOption, stringOption, UsageError } from '../args.js';
import type { Command } from '../command.js';
import { EXIT_FAILURE, EXIT_OK } from '../exit-codes.js';
import { ProgressBar, describeEvent } from '../progress.js';

/** Takes DIR/lock for this process: two processes on one flash would corrupt it. A lock of a dead process is stale. */
function takeLock(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'lock');
  try {
    writeFileSync(path, String(process.pid), { flag: 'wx' });
    return path;
  } catch {
    const holder = Number(readFileSync(path, 'utf8'));
    let alive = false;
    try {
      if (holder > 0 && holder !== process.pid) {
        process.kill(holder, 0);
        // A killed process may linger as a zombie until reaped: it holds nothing.
        alive = true;
        let stat = '';
        try { stat = readFileSync(`/proc/${holder}/stat`, 'utf8'); } catch { /* no procfs: trust kill(0) */ }
        if (/^\d+ \(.*\) Z/.test(stat)) alive = false;
      }
    } catch {
      alive = false;
    }
    if (alive) throw new UsageError(`another "ota device run" (pid ${holder}) is using ${dir}; stop it first`);
    writeFileSync(path, String(process.pid));
    return path;
  }
}

// `ota device run`: a simulated device whose flash lives in DIR. Killing the process is a power loss; running the
// command again resumes. Prints each agent event and a progress bar; exits non-zero with the reason on failure.

/** `ota device run`. */
export const deviceRunCommand: Command = {
  name: 'device run',
  summary: 'Run a simulated device (flash in DIR) against the device API: poll, download, install, confirm',
  usage: '--dir DIR --serial S --hardware-version HV --software-type ST [--url U --project-key K --ca PEM | --data DIR] [--key PUB] [--once]',
  options: {
    dir: { kind: 'string', description: 'Directory holding the device flash (created and factory-provisioned when empty)', valueName: 'DIR' },
    serial: { kind: 'string', description: 'Device serial', valueName: 'S' },
    'hardware-version': { kind: 'string', description: 'Hardware version', valueName: 'HV' },
    'software-type': { kind: 'string', description: 'Software type of the main MCU', valueName: 'ST' },
    url: { kind: 'string', description: 'Device API base URL', env: 'MEMFAULT_URL', valueName: 'U' },
    'project-key': { kind: 'string', description: 'Memfault-Project-Key', env: 'MEMFAULT_PROJECT_KEY', valueName: 'K' },
    ca: { kind: 'string', description: 'PEM file of the roots to trust for HTTPS', env: 'OTA_CA', valueName: 'PEM' },
    data: { kind: 'string', description: 'data directory of a local `ota serve`: URL, project key and CA from its server.json (default .ota-backend)', env: 'OTA_DATA', valueName: 'DIR' },
    key: { kind: 'string', description: 'Bundle verification key (Ed25519 public PEM or HMAC key file); without it unsigned payloads are accepted', valueName: 'FILE' },
    once: { kind: 'boolean', description: 'Run one check-and-update cycle, then exit' },
    'factory-version': { kind: 'string', description: 'Version provisioned into blank flash (default 0.0.1)', valueName: 'V' },
    'no-wifi': { kind: 'boolean', description: 'Simulate the main MCU only (no WiFi co-processor)' },
    interval: { kind: 'string', description: 'Seconds between checks while polling (default: the policy, hourly)', valueName: 'SECONDS' },
  },
  run: async (args, io) => {
    const dir = resolve(io.cwd, requireOption(args, 'dir'));
    const serial = requireOption(args, 'serial');
    const hardwareVersion = requireOption(args, 'hardware-version');
    const softwareType = requireOption(args, 'software-type');
    // Flags and environment first, then the server.json of a local `ota serve` (which never prints its secrets).
    const record = serverRecordOf(args, io);
    const url = stringOption(args, 'url') ?? record?.baseUrl;
    const fromRecord = record !== null && record.baseUrl === url ? record : null;
    const projectKey = stringOption(args, 'project-key') ?? fromRecord?.projectKey;
    if (url === undefined) throw new UsageError('--url (or MEMFAULT_URL) is required: the device API base URL; or --data (OTA_DATA) of a local `ota serve`');
    if (projectKey === undefined) throw new UsageError('--project-key (or MEMFAULT_PROJECT_KEY) is required; or --data (OTA_DATA) of a local `ota serve`');
    const caPath = stringOption(args, 'ca') ?? fromRecord?.caPath;
    const ca = caPath !== undefined ? pemToDerList(readFileSync(resolve(io.cwd, caPath), 'utf8')) : undefined;
    const keyPath = stringOption(args, 'key');
    const trust = keyPath !== undefined
      ? { verifiers: [verifierFromKeyText(readFileSync(resolve(io.cwd, keyPath), 'utf8'))], allowUnsigned: false }
      : { verifiers: [], allowUnsigned: true };
    if (keyPath === undefined) io.err('note: no --key given; unsigned bundles and raw images are accepted (development only)\n');
    const interval = intOption(args, 'interval', 1, 86400);
    const factory = stringOption(args, 'factory-version') ?? '0.0.1';
    const bar = new ProgressBar(io.out, io.isTty);
    const lock = takeLock(dir);
    const device = new SimDevice({
      dir, serial, hardwareVersion, softwareType, wifi: args.options['no-wifi'] !== true,
      api: { baseUrl: url, projectKey }, ca, trust,
      policy: interval !== undefined ? { intervalMs: interval * 1000, firstCheckMs: 0, firstCheckJitterMs: 0 } : undefined,
      onEvent: (event) => {
        if (bar.onEvent(event)) return;
        const text = describeEvent(event);
        if (text !== null) io.out(`${new Date(event.at).toISOString()} ${text}\n`);
      },
    });
    let stopping = false;
    const onSignal = (): void => {
      stopping = true;
      io.err('\nstopping: the download state is kept in the journal; run again to resume\n');
      void device.agent?.stop();
    };
    process.once('SIGINT', onSignal);
    try {
      if (!(await device.isProvisioned())) {
        io.out(`factory-provisioning ${dir}: ${softwareType} ${factory}\n`);
        await device.provision(buildFirmwareImage({ version: factory, size: 16 * 1024 }), factory,
          buildFirmwareImage({ version: factory, size: 8 * 1024 }), factory);
      }
      const boot = await device.boot();
      io.out(`booted ${softwareType} ${boot.main.version}${boot.main.trial ? ' (trial)' : ''}${boot.wifi ? `, wifi-fw ${boot.wifi.version}` : ''}\n`);
      for (;;) {
        const result = await device.runOnce();
        bar.clear();
        if (stopping) return EXIT_OK;
        if (result.outcome === 'halted' || (args.options.once === true && (result.outcome === 'failed' || result.outcome === 'rolled-back'))) {
          const reason = result.error ? `${result.error.message} [${result.error.code}]` : result.outcome;
          io.err(`ota device run: ${reason}\n`);
          return EXIT_FAILURE;
        }
        if (args.options.once === true) return EXIT_OK;
        const state = await device.agent!.state();
        const wait = Math.max(0, state.notBefore - Date.now());
        io.out(`next check in ${Math.round(wait / 1000)} s\n`);
        await new Promise<void>((done) => {
          const timer = setTimeout(done, wait);
          process.once('SIGINT', () => { clearTimeout(timer); stopping = true; done(); });
        });
        if (stopping) return EXIT_OK;
      }
    } finally {
      process.removeListener('SIGINT', onSignal);
      device.close();
      rmSync(lock, { force: true });
    }
  },
};
