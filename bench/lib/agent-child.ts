// One agent update in its own process, so its peak RSS is its own. Prints one JSON line.
// argv[2]: JSON { baseUrl, projectKey, caPath, hardwareVersion, serial, flash: 'sim' | 'file', dir?, slotBytes, sectorBytes, retries }
import { existsSync, readFileSync } from 'node:fs';
import { uniformGeometry } from '../../hal/flash.js';
import { buildFirmwareImage } from '../../hal/sim/firmware-image.js';
import { SimFlash } from '../../hal/sim/sim-flash.js';
import { networkOverHttp } from '../../src/agent/http-adapter.js';
import type { AgentEvent } from '../../src/agent/events.js';
import { HttpClient } from '../../src/http/client.js';
import { systemClock } from '../../src/node/clock.js';
import { FileFlash } from '../../src/node/file-flash.js';
import { SimDevice } from '../../src/node/sim-device.js';
import { NodeTlsTransport } from '../../src/node/transports/tls.js';
import { pemToDerList } from '../../src/cli/device-ca.js';
import { join } from 'node:path';

interface Args {
  baseUrl: string; projectKey: string; caPath: string; hardwareVersion: string; serial: string;
  flash: 'sim' | 'file'; dir?: string; slotBytes: number; sectorBytes: number; retries: number;
}

const args = JSON.parse(process.argv[2]) as Args;

/**
 * This process's own peak RSS in KiB. Not getrusage's maxRSS: on Linux that keeps the high-water mark of the
 * pre-exec image, i.e. of the forked copy of the benchmark parent (which holds the payloads it serves), so it
 * grew with the payload without the agent using a byte more. VmHWM belongs to the exec'd process alone.
 */
function peakRssKiB(): number {
  if (existsSync('/proc/self/status')) {
    const match = /VmHWM:\s*(\d+)\s*kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (match !== null) return Number(match[1]);
  }
  return process.resourceUsage().maxRSS;
}

const ca = pemToDerList(readFileSync(args.caPath, 'utf8'));
const sectorsPerSlot = Math.ceil(args.slotBytes / args.sectorBytes);
const geometry = uniformGeometry(args.sectorBytes, 4 + 2 * sectorsPerSlot, 8, 0xff);
const mainFlash = args.flash === 'sim' ? new SimFlash(geometry) : FileFlash.open(join(args.dir as string, 'main.flash'), geometry, { sync: false });
const client = new HttpClient({ transport: new NodeTlsTransport({ ca }), clock: systemClock, ca, bufferSize: 64 * 1024 });
const inner = networkOverHttp(client);
let wire = 0;
const network = {
  http: inner.http,
  fetcher: { fetch: (request: Parameters<typeof inner.fetcher.fetch>[0]) => inner.fetcher.fetch({ ...request, data: (chunk: Uint8Array) => { wire += chunk.length; return request.data(chunk); } }) },
};
const marks: { [type: string]: number } = {};
const cpuAt: { [type: string]: number } = {};
let total = 0;
let resumes = 0;
const device = new SimDevice({
  serial: args.serial, hardwareVersion: args.hardwareVersion, wifi: false, mainFlash, network,
  api: { baseUrl: args.baseUrl, projectKey: args.projectKey },
  policy: { retriesPerCycle: args.retries, backoffBaseMs: 10, backoffMaxMs: 20, progressIntervalMs: 1e9, healthDeadlineMs: 60_000 },
  onEvent: (event: AgentEvent) => {
    if (marks[event.type] === undefined) {
      marks[event.type] = performance.now();
      const cpu = process.cpuUsage();
      cpuAt[event.type] = (cpu.user + cpu.system) / 1000;
      // OTA_PROF_MARKS=1: event times on the clock of --cpu-prof (µs), to cut a profile down to the update.
      if (process.env.OTA_PROF_MARKS) process.stderr.write(`mark ${event.type} ${process.hrtime.bigint() / 1000n}\n`);
    }
    if (event.type === 'update-available' || event.type === 'download-started') total = event.total && event.total > 0 ? event.total : total;
    if (event.type === 'download-resumed') resumes++;
  },
});
await device.provision(buildFirmwareImage({ version: '0.0.1', size: 8192 }), '0.0.1');
await device.boot();
const rssBefore = peakRssKiB();
// OTA_RSS_TRACE=1: where the memory is while the update runs (stderr, every 50 ms), for docs/performance.md.
const trace = process.env.OTA_RSS_TRACE ? setInterval(() => {
  const m = process.memoryUsage();
  const mib = (n: number): string => (n / 1048576).toFixed(1);
  process.stderr.write(`rss ${mib(m.rss)} hwm ${(peakRssKiB() / 1024).toFixed(1)} heapUsed ${mib(m.heapUsed)} heapTotal ${mib(m.heapTotal)} ` +
    `external ${mib(m.external)} arrayBuffers ${mib(m.arrayBuffers)} (MiB)\n`);
}, 50) : null;
let outcome = '';
for (let i = 0; i < 4 && outcome !== 'confirmed'; i++) outcome = (await device.runOnce()).outcome;
const rssAfter = peakRssKiB();
if (trace !== null) clearInterval(trace);
const status = await device.status();
client.close();
device.close();
process.stdout.write(JSON.stringify({
  outcome, running: status.main.running, wire, resumes,
  updateMs: marks.verified - marks.checking, updateCpuMs: cpuAt.verified - cpuAt.checking, downloadMs: marks.verified - marks['download-started'],
  maxRssKiB: rssAfter, rssBeforeKiB: rssBefore, payload: status.main.slots.find((s) => s.version === status.main.running)?.size ?? 0,
}) + '\n');
