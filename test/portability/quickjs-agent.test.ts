// A complete update inside QuickJS: the agent of each built bundle (the Espruino ES5 file, its adapters replaced by
// host bridges, and the ES2020 file) checks the mock backend over HTTPS (node:tls through the bridge), downloads a
// signed bundle through an injected connection drop and resumes, verifies, stages into A/B flash (a SimFlash in
// Node through the bridge), reboots into the trial and confirms. The staged image must be byte-identical and the
// events equal to the same run of the TypeScript core in Node.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBackend } from '../../src/backend/index.js';
import type { Backend } from '../../src/backend/index.js';
import { createBundle } from '../../src/tools/bundle.js';
import { hmacSigner } from '../../src/tools/keys.js';
import { createAgent } from '../../src/agent/agent.js';
import { apiOverHttp, fetcherOverHttp } from '../../src/agent/http-adapter.js';
import { Journal } from '../../src/agent/journal.js';
import { bundleFormat } from '../../src/agent/sinks/bundle.js';
import { HttpClient } from '../../src/http/client.js';
import { hmacVerifier } from '../../src/integrity/hmac.js';
import { portableHashes } from '../../src/integrity/sha256.js';
import { crc32Update } from '../../src/integrity/crc32.js';
import { otaError } from '../../src/util/errors.js';
import { GuestVm } from './quickjs/guest-vm.js';
import { GUEST_PORTS } from './quickjs/guest-ports.js';
import { GUEST_AGENT } from './quickjs/guest-agent.js';
import { ES2020_GUEST_RUNTIME, ESPRUINO_GUEST_RUNTIME } from './quickjs/espruino-bridge.js';
import { hostDevice, hostOps, nodeGuest } from './quickjs/host-ops.js';
import { es2020Bundle, espruinoBundle } from './bundles.js';

const HMAC_KEY = new Uint8Array(32).fill(0x3c);
const IMAGE = new Uint8Array(6000).map((_, i) => (i * 29 + (i >> 7)) & 0xff);
const DROP_AFTER = 2500;
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

let backend: Backend;
let bundleSize = 0;

function input(serial: string) {
  return {
    baseUrl: backend.baseUrl, projectKey: backend.projectKey, serial, hardwareVersion: 'evt', softwareType: 'main-fw',
    currentVersion: '0.9.0', hmacKey: toHex(HMAC_KEY), bufferSize: 1024, maxCycles: 8,
    policy: { backoffBaseMs: 5, backoffMaxMs: 20, retriesPerCycle: 3, progressIntervalMs: 0, snapshotBytes: 512, requestTimeoutMs: 10000 },
  };
}

beforeAll(async () => {
  backend = await startBackend({});
  const bundle = createBundle({ sequence: 1, releaseVersion: '1.0.0', hardwareVersions: ['evt'],
    parts: [{ softwareType: 'main-fw', version: '1.0.0', data: IMAGE }] }, hmacSigner(HMAC_KEY));
  bundleSize = bundle.length;
  await backend.admin.uploadPayload(bundle, { hardwareVersion: 'evt', softwareType: 'main-fw', softwareVersion: '1.0.0' });
  backend.admin.deploy({ releaseVersion: '1.0.0', cohort: 'default' });
}, 60_000);

afterAll(async () => {
  await backend?.close();
});

/** One update; the drop fault is armed just before it so every run meets it once. */
async function run(serial: string, start: (device: ReturnType<typeof hostDevice>) => Promise<any>) {
  // A clean close mid-body (Content-Length unchanged): the client sees the connection end early and must resume.
  backend.faults.add({ kind: 'truncate', route: 'cdn', afterBytes: DROP_AFTER, times: 1 });
  const device = hostDevice();
  const result = await start(device);
  return { result, device };
}

let reference: any = null;

async function nodeRun() {
  if (reference !== null) return reference;
  const OtaAgent = { createAgent, apiOverHttp, fetcherOverHttp, Journal, bundleFormat, HttpClient, hmacVerifier, portableHashes, crc32Update, otaError };
  reference = await run('QJS-NODE', (device) => {
    const guest = nodeGuest(GUEST_PORTS + ES2020_GUEST_RUNTIME + GUEST_AGENT, hostOps(device, backend.trustedRootsDer), OtaAgent);
    return guest.runUpdate(input('QJS-NODE'));
  });
  return reference;
}

describe('the Node reference run of the guest update script', () => {
  it('updates through a dropped connection and confirms', async () => {
    const { result, device } = await nodeRun();
    expect(result.staged).toBe(toHex(IMAGE));
    expect(result.running).toBe('1.0.0');
    expect(result.trial).toBe(false);
    expect(result.events, JSON.stringify(result.events)).toContain('download-resumed@true');
    expect(result.events).toContain('confirmed');
    expect(device.connects).toBeGreaterThan(2);
    // Resumed, not restarted: the payload crossed the wire about once (plus heads and the replayed header).
    expect(device.bytesRead).toBeLessThan(bundleSize + DROP_AFTER);
  });
});

const variants = [
  { name: 'Espruino ES5 file', bundle: espruinoBundle, runtime: ESPRUINO_GUEST_RUNTIME, file: 'ota-agent.espruino.js', serial: 'QJS-ES5' },
  { name: 'ES2020 file', bundle: es2020Bundle, runtime: ES2020_GUEST_RUNTIME, file: 'ota-agent.es2020.js', serial: 'QJS-ES2020' },
];

describe.each(variants)('a complete update in QuickJS: $name', (variant) => {
  it('checks, downloads through a drop with a resume, verifies, stages, boots the trial and confirms, as in Node', async () => {
    const expected = await nodeRun();
    const memoryLimit = 24 * 1024 * 1024;
    let vm: GuestVm | null = null;
    try {
      const { result, device } = await run(variant.serial, async (device) => {
        vm = await GuestVm.create({ bundle: await variant.bundle(), name: variant.file, glue: GUEST_PORTS + variant.runtime + GUEST_AGENT,
          ops: hostOps(device, backend.trustedRootsDer), memoryLimit });
        return vm.call('runUpdate', input(variant.serial));
      });
      expect(result.staged).toBe(toHex(IMAGE));
      expect(Buffer.from(await device.flashes.main.read(8 * 1024, IMAGE.length)).equals(Buffer.from(IMAGE))).toBe(true);
      expect(result.running).toBe('1.0.0');
      expect(result.trial).toBe(false);
      expect(result.events).toEqual(expected.result.events);
      expect(result.outcomes).toEqual(expected.result.outcomes);
      expect((vm as unknown as GuestVm).memoryUsed()).toBeLessThan(memoryLimit);
      expect((vm as unknown as GuestVm).jobFailures()).toEqual([]);
    } finally {
      (vm as GuestVm | null)?.dispose();
    }
  }, 120_000);
});
