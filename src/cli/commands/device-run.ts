import { existsSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildFirmwareImage } from '../../../hal/sim/firmware-image.js';
import { MAX_SOFTWARE_TYPE_LENGTH, MAX_VERSION_LENGTH } from '../../../hal/boot-record.js';
import {
  DEFAULT_MAIN_SLOT_BYTES, DEFAULT_WIFI_SLOT_BYTES, MAIN_SECTOR_SIZE, SimDevice, mainGeometryFor, slotBytesOfFlashFile, wifiGeometryFor,
} from '../../node/sim-device.js';
import type { TrustPolicy } from '../../bundle/header.js';
import { keyMaterialMessage, looksLikeKeyMaterial, verifierFromKeyText } from '../../tools/keys.js';
import { readProblem } from '../../tools/file-checks.js';
import { makeDirectories } from '../../tools/make-directories.js';
import { isOtaError, otaError } from '../../util/errors.js';
import { normalBaseUrl, serverRecordOf } from '../admin-client.js';
import { loadCaFile, readOptionFile } from '../device-ca.js';
import { takeDeviceLock } from '../device-lock.js';
import { DeviceNarrator } from '../device-narrator.js';
import { intOption, requireOption, stringOption, UsageError } from '../args.js';
import type { CliIo, Command, ParsedArgs } from '../command.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_UNAVAILABLE } from '../exit-codes.js';
import { formatSize, sizeOption } from '../size-option.js';
import { STOP_EXIT_CODES, onStopRequest } from '../stop-request.js';
import type { StopReason } from '../stop-request.js';
import { isUnreachable } from '../unreachable.js';
import { systemClock } from '../../node/clock.js';
import { FileFlash } from '../../node/file-flash.js';

// `ota device run`: a simulated device whose flash lives in DIR. Killing the process is a power loss; running the
// command again resumes. Prints each agent event and a progress bar; exits non-zero with the reason on failure.
// Every flag is checked before anything is created on disk; SIGINT / SIGTERM (or stdout's reader going away) stop
// the agent cleanly (a download journals its durable offset), a second one exits at once.

/** Factory images: the main one fills 16 KiB, the WiFi one 8 KiB; slots must hold them. */
const FACTORY_MAIN_BYTES = 16 * 1024;
const FACTORY_WIFI_BYTES = 8 * 1024;
const MAX_SLOT_BYTES = 64 * 1024 * 1024;

/** Process-level actions, replaceable in tests. */
export const deviceRunHooks = {
  /** Ends the process at once (a second stop request): like a power cut, which the journal is built for. */
  exitNow: (code: number): void => { process.exit(code); },
};

/** Everything a run needs, checked up front. */
interface RunPlan {
  dir: string;
  serial: string;
  hardwareVersion: string;
  softwareType: string;
  url: string;
  projectKey: string;
  ca: Uint8Array[] | undefined;
  trust: TrustPolicy;
  interval: number | undefined;
  healthDeadline: number | undefined;
  factory: string;
  wifi: boolean;
  mainSlotBytes: number;
  wifiSlotBytes: number;
  reprovision: boolean;
  once: boolean;
}

function fileSize(path: string): number | null {
  try {
    return statSync(path).size;
  } catch {
    return null;
  }
}

function textOption(args: ParsedArgs, name: string, max: number, what: string): string {
  const value = stringOption(args, name);
  if (value === undefined) throw new UsageError(`--${name} is required`);
  if (value.length === 0 || value.length > max || !/^[\x20-\x7e]+$/.test(value) || value.trim() !== value) {
    throw new UsageError(`--${name} must be ${what}: 1 to ${max} printable ASCII characters without leading or trailing spaces, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** Slot size for one MCU: the flag, else what DIR was provisioned with, else the default; a mismatch is a usage error. */
function slotBytes(args: ParsedArgs, flag: string, path: string, mcu: 'main' | 'wifi', min: number, fallback: number, reprovision: boolean): number {
  const given = sizeOption(args, flag, MAIN_SECTOR_SIZE, min, MAX_SLOT_BYTES);
  const size = reprovision ? null : fileSize(path);
  if (size === null) return given ?? fallback;
  const recorded = slotBytesOfFlashFile(size, mcu);
  if (recorded === null) {
    throw new UsageError(`${path} is ${size} bytes, which is no flash image this simulator makes; delete it, or pass --reprovision to start over`);
  }
  if (given !== undefined && given !== recorded) {
    throw new UsageError(`--${flag} ${formatSize(given)} does not match ${path}, provisioned with ${formatSize(recorded)} slots; omit ` +
      `--${flag} (the size is kept in the flash file), or pass --reprovision to start over with ${formatSize(given)} slots ` +
      '(erases main, WiFi and journal)');
  }
  return recorded;
}

/** Checks every flag and reads the CA and key files; throws UsageError naming the flag. Creates nothing. */
function planOf(args: ParsedArgs, io: CliIo): RunPlan {
  const dir = resolve(io.cwd, requireOption(args, 'dir'));
  const serial = textOption(args, 'serial', 128, 'the device serial');
  // The device API's rule for device_serial (reference/memfault-api.md): refused here, before DIR is provisioned.
  if (!/^[-a-zA-Z0-9_]+$/.test(serial)) {
    throw new UsageError(`--serial must be 1 to 128 characters of letters, digits, "-" and "_" (the device API refuses others), got ${JSON.stringify(serial)}`);
  }
  const hardwareVersion = textOption(args, 'hardware-version', 128, 'the hardware version');
  const softwareType = textOption(args, 'software-type', MAX_SOFTWARE_TYPE_LENGTH, 'the main MCU\'s software type (it is kept in the boot record)');
  if (existsSync(dir) && !statSync(dir).isDirectory()) {
    throw new UsageError(`--dir ${dir} is a file, not a directory; pass a directory for the device flash (it is created when missing)`);
  }
  // Flags and environment first, then the server.json of a local `ota serve` (which never prints its secrets).
  const record = serverRecordOf(args, io);
  const given = stringOption(args, 'url') ?? record?.baseUrl;
  if (given === undefined) throw new UsageError('--url (or MEMFAULT_URL) is required: the device API base URL; or --data (OTA_DATA) of a local `ota serve`');
  const userinfo = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)@/i.exec(given);
  if (userinfo !== null) {
    // Never echoed: user:password@ is a credential, and the device API authenticates with the project key alone.
    throw new UsageError('--url must not carry credentials (user:password@ before the host; not printed here): the device API ' +
      `authenticates with the project key alone; pass --url ${given.replace(userinfo[1] + '@', '')}`);
  }
  // One spelling (scheme case, trailing slash) so the URL printed by `ota serve` finds its server.json however it is typed.
  const url = normalBaseUrl(given);
  const fromRecord = record !== null && normalBaseUrl(record.baseUrl) === url ? record : null;
  const projectKey = stringOption(args, 'project-key') ?? fromRecord?.projectKey;
  if (projectKey === undefined) throw new UsageError('--project-key (or MEMFAULT_PROJECT_KEY) is required; or --data (OTA_DATA) of a local `ota serve`');
  const caFlag = stringOption(args, 'ca') !== undefined ? 'ca' : 'data';
  const caPath = stringOption(args, 'ca') ?? fromRecord?.caPath;
  const ca = caPath !== undefined ? loadCaFile(resolve(io.cwd, caPath), caFlag) : undefined;
  const keyPath = stringOption(args, 'key');
  let trust: TrustPolicy = { verifiers: [], allowUnsigned: true };
  if (keyPath !== undefined) {
    const what = 'an Ed25519 public key PEM or an HMAC key file (make them with `ota keys generate`)';
    // A key pasted where its path belongs (an HMAC key is a secret) is not repeated into the (CI) log.
    if (readProblem(resolve(io.cwd, keyPath)) !== null && looksLikeKeyMaterial(keyPath)) throw new UsageError(keyMaterialMessage('--key'));
    const text = readOptionFile(resolve(io.cwd, keyPath), 'key', what);
    try {
      trust = { verifiers: [verifierFromKeyText(text)], allowUnsigned: false };
    } catch (error) {
      throw new UsageError(`--key ${keyPath}: ${error instanceof Error || (error !== null && typeof error === 'object') ? (error as Error).message : String(error)} ` +
        `Pass ${what}.`);
    }
  }
  const interval = intOption(args, 'interval', 1, 86400);
  const healthDeadline = intOption(args, 'health-deadline', 1, 86400);
  const factoryRaw = stringOption(args, 'factory-version');
  const factory = factoryRaw === undefined ? '0.0.1' : textOption(args, 'factory-version', MAX_VERSION_LENGTH, 'the factory image version');
  const reprovision = args.options.reprovision === true;
  const wifi = args.options['no-wifi'] !== true;
  const mainPath = join(dir, 'main.flash');
  const wifiPath = join(dir, 'wifi.flash');
  const mainSlotBytes = slotBytes(args, 'slot-size', mainPath, 'main', FACTORY_MAIN_BYTES, DEFAULT_MAIN_SLOT_BYTES, reprovision);
  const wifiSlotBytes = slotBytes(args, 'wifi-slot-size', wifiPath, 'wifi', FACTORY_WIFI_BYTES, DEFAULT_WIFI_SLOT_BYTES, reprovision);
  if (!reprovision && existsSync(mainPath)) {
    // A device keeps its co-processor: running it with another make-up would misread (or leave behind) half of it.
    if (wifi && !existsSync(wifiPath)) {
      throw new UsageError(`${dir} holds a device without a WiFi co-processor (no wifi.flash); pass --no-wifi, or --reprovision to start over with one`);
    }
    if (!wifi && existsSync(wifiPath)) {
      throw new UsageError(`${dir} holds a device with a WiFi co-processor (wifi.flash); drop --no-wifi, or pass --reprovision to start over without one`);
    }
  }
  return { dir, serial, hardwareVersion, softwareType, url, projectKey, ca, trust, interval, healthDeadline, factory, wifi, mainSlotBytes, wifiSlotBytes,
    reprovision, once: args.options.once === true };
}

/** Provisions blank flash; refuses flash that holds data without a valid boot record (never wipes half a device). */
async function provisionIfBlank(device: SimDevice, plan: RunPlan, io: CliIo): Promise<void> {
  const contents = await device.contents();
  const mainPath = join(plan.dir, 'main.flash');
  const wifiPath = join(plan.dir, 'wifi.flash');
  const startOver = `Delete ${plan.dir}, or pass --reprovision to erase main, WiFi and journal together and start over.`;
  const mainImage = (): Uint8Array => buildFirmwareImage({ version: plan.factory, size: FACTORY_MAIN_BYTES });
  const wifiImage = (): Uint8Array => buildFirmwareImage({ version: plan.factory, size: FACTORY_WIFI_BYTES });
  if (contents.main === 'unrecognized') {
    throw otaError('device-flash-unrecognized', `${mainPath} holds data but no valid boot record (its boot-record sectors are corrupt, ` +
      'or the file is not this simulator\'s flash). Refusing to factory-provision over it: that would erase its images while the ' +
      `WiFi flash and the agent's journal keep their state. ${startOver}`, false, { path: mainPath });
  }
  if (contents.wifi === 'unrecognized') {
    throw otaError('device-flash-unrecognized', `${wifiPath} holds data but no valid boot record (its boot-record sectors are corrupt). ` +
      `Refusing to factory-provision over it while the main MCU and the journal keep their state. ${startOver}`, false, { path: wifiPath });
  }
  if (contents.main === 'blank') {
    if (contents.wifi === 'provisioned') {
      throw otaError('device-flash-unrecognized', `${mainPath} is blank but ${wifiPath} holds a provisioned WiFi image: this is half a ` +
        `device, and provisioning the main MCU alone would pair it with a WiFi state from another life. ${startOver}`, false, { path: mainPath });
    }
    io.out(`factory-provisioning ${plan.dir}: ${plan.softwareType} ${plan.factory}${plan.wifi ? `, wifi-fw ${plan.factory}` : ''} ` +
      `(${formatSize(plan.mainSlotBytes)} slots${plan.wifi ? `, WiFi ${formatSize(plan.wifiSlotBytes)} slots` : ''})\n`);
    await device.provision(mainImage(), plan.factory, wifiImage(), plan.factory);
    return;
  }
  if (contents.wifi === 'blank') {
    // Provisioning was cut after the main MCU (it goes first): finish it; the blank WiFi flash holds nothing to lose.
    io.out(`factory-provisioning the blank WiFi co-processor of ${plan.dir}: wifi-fw ${plan.factory}\n`);
    await device.provisionWifi(wifiImage(), plan.factory);
  }
}

/**
 * The start-up warning for a plain-HTTP base URL: every device API request carries the project key in a header, so
 * anyone on the path can read it. Names the host only (never the key, nor user:password@ or a query of the URL).
 */
function cleartextWarning(url: string): string | null {
  const match = /^http:\/\/([^/?#]+)/.exec(url);
  if (match === null) return null;
  const host = match[1].slice(match[1].lastIndexOf('@') + 1);
  return `warning: the device API URL http://${host} is plain HTTP, not HTTPS: the project key is sent in cleartext with every ` +
    'request, readable by anyone on the network path; use an https:// URL (with --ca for a private CA) outside a local test setup\n';
}

/**
 * A hint for a plain-HTTP URL whose server hung up without an answer: a TLS port (`ota serve` without --http) drops
 * a plaintext request that way, and the bare error does not say so.
 */
function plainToTlsHint(url: string, error: { code: string } | null | undefined): string {
  if (!url.startsWith('http://') || !error || (error.code !== 'http-no-response' && error.code !== 'connection-reset')) return '';
  return `hint: ${url} is plain HTTP; if that port serves HTTPS (as \`ota serve\` does without --http), use ${url.replace(/^http:/, 'https:')} with --ca\n`;
}

/** Waits until `at` (clock ms), or until the function handed to `setWake` is called (a stop request). */
function sleepUntil(at: number, stopped: () => boolean, setWake: (wake: (() => void) | null) => void): Promise<void> {
  if (stopped()) return Promise.resolve();
  // systemClock's timer steps over waits longer than setTimeout can hold (a Retry-After of years) and keeps the process alive.
  return new Promise<void>((done) => {
    const cancel = systemClock.timer(at - Date.now(), done, true);
    setWake(() => { cancel(); done(); });
  }).then(() => { setWake(null); });
}

/** Runs `open`; a flash file refused as damaged (cut, grown, a wear record that is none) also names --reprovision. */
function damagedFlashHint<T>(open: () => T): T {
  try {
    return open();
  } catch (error) {
    if (isOtaError(error) && (error.code === 'flash-file-size' || error.code === 'flash-wear-invalid')) {
      throw otaError(error.code, `${error.message} Or pass --reprovision to erase main, WiFi and journal and start over.`, false, error.details, error);
    }
    throw error;
  }
}

/** `ota device run`. */
export const deviceRunCommand: Command = {
  name: 'device run',
  summary: 'Run a simulated device (flash in DIR) against the device API: poll, download, install, confirm',
  usage: '--dir DIR --serial S --hardware-version HV --software-type ST [--url U --project-key K --ca PEM | --data DIR] [--key PUB] [--once] ' +
    '[--interval SECONDS] [--health-deadline SECONDS] [--no-wifi] [--factory-version V] [--slot-size SIZE] [--wifi-slot-size SIZE] [--reprovision]',
  options: {
    dir: { kind: 'string', description: 'Directory holding the device flash (created and factory-provisioned when empty)', valueName: 'DIR' },
    serial: { kind: 'string', description: 'Device serial', valueName: 'S' },
    'hardware-version': { kind: 'string', description: 'Hardware version', valueName: 'HV' },
    'software-type': { kind: 'string', description: 'Software type of the main MCU (at most 16 characters)', valueName: 'ST' },
    url: { kind: 'string', description: 'Device API base URL', env: 'MEMFAULT_URL', valueName: 'U' },
    'project-key': { kind: 'string', description: 'Memfault-Project-Key', env: 'MEMFAULT_PROJECT_KEY', valueName: 'K' },
    ca: { kind: 'string', description: 'PEM file of the roots to trust for HTTPS', env: 'OTA_CA', valueName: 'PEM' },
    data: { kind: 'string', description: 'data directory of a local `ota serve`: URL, project key and CA from its server.json (default .ota-backend)', env: 'OTA_DATA', valueName: 'DIR' },
    key: { kind: 'string', description: 'Bundle verification key (Ed25519 public PEM or HMAC key file); without it unsigned payloads are accepted', valueName: 'FILE' },
    once: { kind: 'boolean', description: 'Run one check-and-update cycle, then exit' },
    'factory-version': { kind: 'string', description: 'Version provisioned into blank flash (default 0.0.1; at most 32 characters)', valueName: 'V' },
    'no-wifi': { kind: 'boolean', description: 'Simulate the main MCU only (no WiFi co-processor)' },
    interval: { kind: 'string', description: 'Seconds between checks while polling (default: the policy, hourly)', valueName: 'SECONDS' },
    'health-deadline': { kind: 'string', description: 'Seconds a trial image has to pass its self-test before it is reverted (default: the policy, 300)', valueName: 'SECONDS' },
    'slot-size': { kind: 'string', description: 'Size of each main slot when provisioning, e.g. 512K or 2M (default 256K; kept in DIR)', valueName: 'SIZE' },
    'wifi-slot-size': { kind: 'string', description: 'Size of each WiFi slot when provisioning (default 128K; kept in DIR)', valueName: 'SIZE' },
    reprovision: { kind: 'boolean', description: 'Erase main, WiFi and journal in DIR and factory-provision afresh' },
  },
  run: async (args, io) => {
    const plan = planOf(args, io);
    const cleartext = cleartextWarning(plan.url);
    if (cleartext !== null) io.err(cleartext);
    if (plan.trust.allowUnsigned) io.err('note: no --key given; unsigned bundles and raw images are accepted (development only)\n');
    try {
      makeDirectories(plan.dir);
    } catch (error) {
      throw new UsageError(`--dir: cannot create the directory ${plan.dir} (${(error as NodeJS.ErrnoException).code ?? 'error'}); pass another --dir`);
    }
    const releaseLock = takeDeviceLock(plan.dir);
    let device: SimDevice | null = null;
    let stopping: StopReason | null = null;
    let wake: (() => void) | null = null;
    let abandon: (code: number) => void = () => undefined;
    const abandoned = new Promise<number>((done) => { abandon = done; });
    let gone = false;
    const narrator = new DeviceNarrator(io.out, io.isTty, () => {
      const crashes = device?.lastBoot?.crashes ?? 0;
      return crashes > 0 ? `the image crashed on boot ${crashes} times and the bootloader went back to the previous image` : null;
    });
    narrator.final = plan.once;
    const unlisten = onStopRequest((reason) => {
      if (stopping !== null) {
        gone = true;
        io.err(`\n${reason} again: exiting now without waiting for the agent; ` +
          `${narrator.downloading() ? 'the download resumes from its last journal checkpoint' : 'the journal keeps the last durable state'}\n`);
        abandon(STOP_EXIT_CODES[reason]);
        return;
      }
      stopping = reason;
      narrator.final = true;
      narrator.clear();
      const why = reason === 'output-closed' ? 'stdout was closed' : `${reason}; send it again to exit at once`;
      io.err(narrator.downloading()
        ? `\nstopping (${why}): the download state is kept in the journal; run again to resume\n`
        : `\nstopping (${why})\n`);
      if (wake !== null) wake();
      if (device !== null) void device.stop();
    });
    const work = async (): Promise<number> => {
      if (plan.reprovision) {
        // The wear records go with their files: a re-made flash file is a new part (FileFlash.open starts its record).
        for (const name of ['main.flash', 'wifi.flash']) {
          rmSync(join(plan.dir, name), { force: true });
          rmSync(FileFlash.wearPathOf(join(plan.dir, name)), { force: true });
        }
        io.out(`reprovisioning ${plan.dir}: main, WiFi and journal erased\n`);
      }
      device = damagedFlashHint(() => new SimDevice({
        // DIR/lock is held since before the reprovisioning above: the device does not take it a second time.
        dir: plan.dir, lock: false, serial: plan.serial, hardwareVersion: plan.hardwareVersion, softwareType: plan.softwareType, wifi: plan.wifi,
        mainGeometry: mainGeometryFor(plan.mainSlotBytes), wifiGeometry: wifiGeometryFor(plan.wifiSlotBytes),
        api: { baseUrl: plan.url, projectKey: plan.projectKey }, ca: plan.ca, trust: plan.trust,
        policy: {
          ...(plan.interval !== undefined ? { intervalMs: plan.interval * 1000, firstCheckMs: 0, firstCheckJitterMs: 0 } : {}),
          ...(plan.healthDeadline !== undefined ? { healthDeadlineMs: plan.healthDeadline * 1000 } : {}),
        },
        onEvent: (event) => { narrator.onEvent(event); },
      }));
      await provisionIfBlank(device, plan, io);
      const boot = await device.boot();
      io.out(`booted ${plan.softwareType} ${boot.main.version}${boot.main.trial ? ' (trial)' : ''}${boot.wifi ? `, wifi-fw ${boot.wifi.version}${boot.wifi.trial ? ' (trial)' : ''}` : ''}` +
        `${boot.wifiError ? `; the WiFi co-processor does not answer (${boot.wifiError.code}): updates wait until it does` : ''}\n`);
      for (;;) {
        if (stopping !== null) return STOP_EXIT_CODES[stopping];
        narrator.newCycle();
        const result = await device.runOnce();
        narrator.clear();
        if (stopping !== null) return STOP_EXIT_CODES[stopping];
        if (result.outcome === 'rolled-back' && narrator.rollback !== null) {
          const running = device.lastBoot?.main.version;
          const text = `rolled back from ${narrator.rollback.version ?? 'the new image'}${running ? ` to ${running}` : ''}: ${narrator.rollback.reason}`;
          if (plan.once) {
            io.err(`ota device run: ${text}\n`);
            return EXIT_FAILURE;
          }
        }
        if (result.outcome === 'halted' || (plan.once && (result.outcome === 'failed' || result.outcome === 'rolled-back'))) {
          const reason = result.error ? `${result.error.message} [${result.error.code}]` : result.outcome;
          io.err(`ota device run: ${reason}\n${plainToTlsHint(plan.url, result.error)}`);
          return isUnreachable(result.error) ? EXIT_UNAVAILABLE : EXIT_FAILURE;
        }
        if (plan.once) return EXIT_OK;
        const state = await device.agent!.state();
        const wait = Math.max(0, state.notBefore - Date.now());
        io.out(`next check in ${Math.round(wait / 1000)} s\n`);
        await sleepUntil(state.notBefore, () => stopping !== null, (w) => { wake = w; });
      }
    };
    let code: number;
    try {
      code = await Promise.race([work(), abandoned]);
    } finally {
      unlisten();
      (device as SimDevice | null)?.close();
      releaseLock();
    }
    if (gone) deviceRunHooks.exitNow(code);
    return code;
  },
};
