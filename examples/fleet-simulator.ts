// A fleet of simulated devices against the mock backend, in one process: a staged rollout to 30 % of the fleet,
// then the rollout widened to everyone.
//
// Each device is a SimDevice (main MCU with A/B banks and the agent's journal on in-memory NOR flash) with its own
// agent, its own TLS connections and its own trust store. They all share one real clock: the devices talk to the
// backend over real sockets on 127.0.0.1, so their timeouts must run on real time (a VirtualClock is for tests
// whose network is simulated too, e.g. MemoryTransport).
//
// Run:  npx tsx examples/fleet-simulator.ts [devices=20] [percent=30] [--no-widen]
//
// In your own project the imports below are the package entry points: 'ota-agent/backend', 'ota-agent/node',
// 'ota-agent/sim' and 'ota-agent' (the portable core).
import { pathToFileURL } from 'node:url';
import { inRollout, startBackend } from '../src/backend/index.js';
import type { Backend } from '../src/backend/index.js';
import type { Connection, Transport } from '../src/index.js';
import { NodeTlsTransport, SimDevice, ed25519Verifier, systemClock } from '../src/node/index.js';
import { buildFirmwareImage } from '../hal/sim/index.js';
import { createBundle, ed25519Signer, generateEd25519 } from '../src/tools/index.js';

/** How big a fleet and rollout to simulate. */
export interface FleetOptions {
  /** Number of devices (default 20). */
  devices?: number;
  /** Rollout percentage of the first wave, 1..100 (default 30). */
  percent?: number;
  /** Size of the new firmware image in bytes (default 48 KiB). */
  imageBytes?: number;
  /** After the first wave, widen the rollout to 100 % and run a second wave (default true). */
  widen?: boolean;
}

/** What one wave of check-ins did. */
export interface WaveResult {
  /** Rollout percentage of this wave. */
  percent: number;
  /** Serials the backend's rollout rule selects at this percentage (`inRollout`). */
  selected: string[];
  /** Serials that installed and confirmed the release in this wave. */
  updated: string[];
  /** Serials that heard "no update" (outside the rollout, or already on the release). */
  stayed: string[];
  /** Serials whose cycle ended otherwise, with the error code. */
  failed: { serial: string; outcome: string; code: string | null }[];
  /** Bytes the payload CDN sent to the fleet in this wave (HTTP heads included). */
  bytesServed: number;
}

/** The whole run. */
export interface FleetResult {
  devices: number;
  release: string;
  payloadBytes: number;
  waves: WaveResult[];
  /** The version each device runs at the end, by serial. */
  running: { [serial: string]: string | null };
  /** The current_version each device last reported to the backend (`admin.devices()`), by serial. */
  reported: { [serial: string]: string | null };
}

const RELEASE = '1.1.0';
const FACTORY = '1.0.0';
const HARDWARE_VERSION = 'evt';

/**
 * A Transport that counts the bytes it reads on connections to one port, around any other Transport. The agent never
 * learns it is wrapped (see examples/custom-transport.ts for a fuller wrapper).
 */
function countingTransport(inner: Transport, port: number, counter: { bytes: number }): Transport {
  return {
    connect: (options) => inner.connect(options).then((connection): Connection => ({
      write: (data) => connection.write(data),
      read: () => connection.read().then((chunk) => {
        if (chunk !== null && options.port === port) counter.bytes += chunk.length;
        return chunk;
      }),
      close: () => connection.close(),
      info: connection.info,
    })),
  };
}

/** Runs every device's agent for one check-and-update cycle, all at once, and sorts the outcomes. */
async function wave(fleet: SimDevice[], percent: number, counter: { bytes: number }): Promise<WaveResult> {
  const start = counter.bytes;
  const outcomes = await Promise.all(fleet.map((device) => device.runOnce()));
  const result: WaveResult = { percent, selected: [], updated: [], stayed: [], failed: [], bytesServed: 0 };
  fleet.forEach((_device, i) => {
    const serial = serialOf(i);
    // The backend's rollout rule is public: a device is in a staged rollout when its stable bucket (a hash of the
    // serial and the release version) is below the percentage. Raising the percentage only ever adds devices.
    if (inRollout(serial, RELEASE, percent)) result.selected.push(serial);
    const outcome = outcomes[i];
    if (outcome.outcome === 'confirmed') result.updated.push(serial);
    else if (outcome.outcome === 'up-to-date') result.stayed.push(serial);
    else result.failed.push({ serial, outcome: outcome.outcome, code: outcome.error ? outcome.error.code : null });
  });
  result.bytesServed = counter.bytes - start;
  return result;
}

function serialOf(index: number): string {
  return `fleet-${String(index + 1).padStart(4, '0')}`;
}

/** Runs the example; `print` receives every line it would write to the console. */
export async function main(options: FleetOptions = {}, print: (line: string) => void = console.log): Promise<FleetResult> {
  const count = options.devices ?? 20;
  const percent = options.percent ?? 30;
  const imageBytes = options.imageBytes ?? 48 * 1024;
  if (!Number.isInteger(count) || count < 1 || count > 500) throw new Error(`devices must be an integer from 1 to 500; got ${count}`);
  if (!Number.isInteger(percent) || percent < 1 || percent > 100) throw new Error(`percent must be an integer from 1 to 100; got ${percent}`);

  const backend: Backend = await startBackend();
  const fleet: SimDevice[] = [];
  try {
    // The release: one firmware image in a bundle signed with Ed25519 (every device holds the public key and
    // refuses anything unsigned). device-simulator.ts shows a bundle with images for two MCUs.
    const keys = generateEd25519();
    const bundle = createBundle({ sequence: 1, releaseVersion: RELEASE, hardwareVersions: [HARDWARE_VERSION],
      parts: [{ softwareType: 'main-fw', version: RELEASE, data: buildFirmwareImage({ version: RELEASE, size: imageBytes }) }] },
    ed25519Signer(keys.privatePem));
    await backend.admin.uploadPayload(bundle, { hardwareVersion: HARDWARE_VERSION, softwareType: 'main-fw', softwareVersion: RELEASE });
    const cdnPort = Number(new URL(backend.cdnBaseUrl).port);
    const served = { bytes: 0 };

    // The fleet: every device factory-programmed with the same image and powered on.
    const factory = buildFirmwareImage({ version: FACTORY, size: 24 * 1024 });
    for (let i = 0; i < count; i++) {
      const device = new SimDevice({
        serial: serialOf(i),
        hardwareVersion: HARDWARE_VERSION,
        wifi: false,                              // main MCU only: keeps a big fleet light
        api: { baseUrl: backend.baseUrl, projectKey: backend.projectKey },
        ca: backend.trustedRootsDer,
        transport: countingTransport(new NodeTlsTransport(), cdnPort, served),
        clock: systemClock,                       // one shared clock for the whole fleet
        trust: { verifiers: [ed25519Verifier(keys.publicPem)], allowUnsigned: false },
        policy: { healthDeadlineMs: 5000 },
      });
      await device.provision(factory, FACTORY);
      await device.boot();
      fleet.push(device);
    }
    print(`${count} devices on ${FACTORY}; release ${RELEASE} (a ${bundle.length}-byte signed bundle) uploaded`);

    // Wave 1 is a staged rollout, wave 2 (unless --no-widen) the same release to everyone. In each wave every device
    // checks in once: those in the rollout download, install, reboot into the trial and confirm; the others hear
    // "204, nothing for you". deploy() supersedes the cohort's previous deployment, as on Memfault.
    const waves: WaveResult[] = [];
    const rollouts = options.widen === false || percent === 100 ? [percent] : [percent, 100];
    for (const p of rollouts) {
      backend.admin.deploy({ releaseVersion: RELEASE, cohort: 'default', rolloutPercent: p });
      const w = await wave(fleet, p, served);
      waves.push(w);
      print(`rollout ${p} %: ${w.updated.length} updated, ${w.stayed.length} stayed, ${w.failed.length} failed; ` +
        `the backend selects ${w.selected.length} of ${count}; CDN served ${w.bytesServed} bytes`);
      for (const f of w.failed) print(`  ${f.serial}: ${f.outcome} (${f.code ?? 'no error code'})`);
    }

    // What each device runs now, read from its flash (the boot records), and what the backend believes: one more
    // check-in round reports every device's current_version, which the backend keeps per device.
    const running: { [serial: string]: string | null } = {};
    for (let i = 0; i < fleet.length; i++) running[serialOf(i)] = (await fleet[i].status()).main.running;
    await Promise.all(fleet.map((device) => device.runOnce()));
    const reported: { [serial: string]: string | null } = {};
    for (const device of backend.admin.devices()) reported[device.serial] = device.lastVersion ?? null;
    const onRelease = Object.values(running).filter((v) => v === RELEASE).length;
    const reportedOnRelease = Object.values(reported).filter((v) => v === RELEASE).length;
    print(`now ${onRelease} of ${count} devices run ${RELEASE}; the backend has heard ${RELEASE} from ${reportedOnRelease}`);
    return { devices: count, release: RELEASE, payloadBytes: bundle.length, waves, running, reported };
  } finally {
    for (const device of fleet) device.close();
    await backend.close();
  }
}

function intArg(text: string | undefined, fallback: number): number {
  return text === undefined ? fallback : Number(text);
}

// Run when executed directly (npx tsx examples/fleet-simulator.ts), not when imported.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const positional = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  main({ devices: intArg(positional[0], 20), percent: intArg(positional[1], 30), widen: !process.argv.includes('--no-widen') })
    .then((result) => {
      process.exitCode = result.waves.some((w) => w.failed.length > 0) ? 1 : 0;
    }, (error: unknown) => {
      // A bad argument or a failed run: its message (and code) is the whole story; a stack trace would bury it.
      const failure = error as { message?: string; code?: string };
      console.error(`fleet-simulator: ${failure.message ?? String(error)}${failure.code ? ` [${failure.code}]` : ''}`);
      process.exit(1);
    });
}
