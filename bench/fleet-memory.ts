// npx tsx bench/fleet-memory.ts [--devices N] — what one SimDevice costs in a fleet simulator: heap, ArrayBuffers and
// RSS per device for four make-ups (each measured in a child process of its own, after a full GC), and the heap kept
// per poll cycle over a long virtual-time run (the regression the poll loop's promise chain had: ~300 bytes a check).
// Memory, not speed: no reference run is needed. Prints a table and one JSON line.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import { VirtualClock } from '../src/index.js';
import type { AgentNetwork, ApiResponse } from '../src/index.js';
import { SimDevice, mainGeometryFor } from '../src/node/index.js';
import type { SimDeviceOptions } from '../src/node/index.js';
import { buildFirmwareImage, seededRandom } from '../hal/sim/index.js';

const argv = process.argv.slice(2);
const option = (name: string, fallback: number): number => {
  const at = argv.indexOf(`--${name}`);
  return at >= 0 ? Number(argv[at + 1]) : fallback;
};
const DEVICES = option('devices', 200);

const MAKEUPS: { name: string; options: Partial<SimDeviceOptions>; files?: boolean }[] = [
  { name: 'in-memory, default slots (256K/128K), WiFi', options: { wifi: true } },
  { name: 'in-memory, default slots, no WiFi', options: { wifi: false } },
  { name: 'in-memory, 32K slots, no WiFi', options: { wifi: false, mainGeometry: mainGeometryFor(32_768) } },
  { name: 'file-backed (dir), default slots, WiFi', options: { wifi: true }, files: true },
];

const latest: ApiResponse = { status: 204, headers: { 'memfault-reason': 'latest' }, body: new Uint8Array(0) };
const network: AgentNetwork = { http: { get: () => Promise.resolve(latest) }, fetcher: { fetch: () => Promise.reject(new Error('no download')) } };

function collector(): () => NodeJS.MemoryUsage {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  return () => { gc(); gc(); return process.memoryUsage(); };
}

/** Child: builds DEVICES devices of one make-up and prints the memory they added, per device, as JSON. */
async function child(index: number): Promise<void> {
  const memory = collector();
  const makeup = MAKEUPS[index];
  const root = mkdtempSync(join(tmpdir(), 'ota-fleet-memory-'));
  const factory = buildFirmwareImage({ version: '1.0.0', size: 16_384 });
  const clock = new VirtualClock(0);
  const before = memory();
  const fleet: SimDevice[] = [];
  for (let i = 0; i < DEVICES; i++) {
    const device = new SimDevice({ serial: `m-${i}`, hardwareVersion: 'evt', clock, network, api: { baseUrl: 'http://127.0.0.1:9', projectKey: 'k' },
      ...makeup.options, dir: makeup.files ? join(root, `d${i}`) : undefined, fileFlash: { sync: false } });
    await device.provision(factory, '1.0.0', factory.subarray(0, 8192), '1.0.0');
    fleet.push(device);
  }
  const after = memory();
  const per = (key: 'heapUsed' | 'arrayBuffers' | 'rss'): number => Math.round((after[key] - before[key]) / DEVICES / 1024);
  process.stdout.write(JSON.stringify({ heapKiB: per('heapUsed'), arrayBuffersKiB: per('arrayBuffers'), rssKiB: per('rss') }) + '\n');
  for (const device of fleet) device.close();
  rmSync(root, { recursive: true, force: true });
}

/** Heap bytes kept per poll cycle: 10 devices polling an in-memory API for 1 000 virtual hours after a warm-up. */
async function perCycle(): Promise<number> {
  const memory = collector();
  const clock = new VirtualClock(0);
  let checks = 0;
  const counted: AgentNetwork = { http: { get: () => { checks++; return Promise.resolve(latest); } }, fetcher: network.fetcher };
  const fleet: SimDevice[] = [];
  for (let i = 0; i < 10; i++) {
    const device = new SimDevice({ serial: `c-${i}`, hardwareVersion: 'evt', wifi: false, mainGeometry: mainGeometryFor(32_768), clock, network: counted,
      random: seededRandom(i), api: { baseUrl: 'http://127.0.0.1:9', projectKey: 'k' }, policy: { intervalMs: 3_600_000 } });
    await device.provision(buildFirmwareImage({ version: '1.0.0', size: 16_384 }), '1.0.0');
    await device.start();
    fleet.push(device);
  }
  const run = async (hours: number): Promise<void> => {
    const end = clock.now() + hours * 3_600_000;
    for (let wake = clock.nextWake(); wake >= 0 && wake <= end; wake = clock.nextWake()) {
      clock.advanceTo(wake);
      for (let i = 0; i < 1000 && clock.pending() < fleet.length; i++) await new Promise((resolve) => setImmediate(resolve));
    }
  };
  await run(100);
  const before = memory().heapUsed;
  const from = checks;
  await run(1000);
  const kept = (memory().heapUsed - before) / (checks - from);
  await Promise.all(fleet.map((device) => device.stop()));
  return kept;
}

async function main(): Promise<void> {
  const rows: { makeup: string; heapKiB: number; arrayBuffersKiB: number; rssKiB: number }[] = [];
  for (let i = 0; i < MAKEUPS.length; i++) {
    const result = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', String(i), '--devices', String(DEVICES)],
      { encoding: 'utf8', timeout: 300_000 });
    if (result.status !== 0) throw new Error(`child ${i} failed: ${result.stderr}`);
    rows.push({ makeup: MAKEUPS[i].name, ...JSON.parse(result.stdout.trim().split('\n').pop() as string) });
  }
  const kept = await perCycle();
  console.log(`SimDevice memory, ${DEVICES} devices per make-up (per device, after a full GC)`);
  console.log('make-up'.padEnd(46) + 'heap KiB'.padStart(10) + 'ArrayBuffers KiB'.padStart(18) + 'RSS KiB'.padStart(10));
  for (const row of rows) {
    console.log(row.makeup.padEnd(46) + String(row.heapKiB).padStart(10) + String(row.arrayBuffersKiB).padStart(18) + String(row.rssKiB).padStart(10));
  }
  console.log(`heap kept per poll cycle over 1 000 virtual hours: ${kept.toFixed(1)} bytes`);
  console.log(JSON.stringify({ bench: 'fleet-memory', devices: DEVICES, rows, heapBytesPerPollCycle: Math.round(kept * 10) / 10 }));
}

const childAt = argv.indexOf('--child');
if (childAt >= 0) void child(Number(argv[childAt + 1]));
else void main();
