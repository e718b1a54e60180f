// The agent without a network: one update of a payload served from RAM in 16 KiB chunks (the size of a TLS record) by
// an in-process fetcher, into the same SimDevice as agent-child.ts. What is left is the agent's own work per byte: the
// sink, SlotTarget's program and read-back, CRC-32, SHA-256, SimFlash and the journal. Prints one JSON line.
// argv[2]: JSON { sizeBytes, sectorBytes }
import { uniformGeometry } from '../../hal/flash.js';
import { buildFirmwareImage } from '../../hal/sim/firmware-image.js';
import { SimFlash } from '../../hal/sim/sim-flash.js';
import type { AgentNetwork } from '../../src/agent/agent.js';
import type { AgentEvent } from '../../src/agent/events.js';
import type { FetchRequest } from '../../src/agent/fetch-port.js';
import { asciiToBytes } from '../../src/util/bytes.js';
import { SimDevice } from '../../src/node/sim-device.js';

const CHUNK = 16 * 1024;
const args = JSON.parse(process.argv[2]) as { sizeBytes: number; sectorBytes: number };
const size = args.sizeBytes;
const payload = buildFirmwareImage({ version: '2.0.0', size });

function fetchFromMemory(request: FetchRequest): Promise<void> {
  return request.start({ offset: request.offset, partial: request.offset > 0, total: size, validator: '"memory"' }).then(() => {
    let at = request.offset;
    const end = request.end >= 0 ? request.end : size;
    const pump = (): Promise<void> => {
      if (at >= end || request.cancelled()) return Promise.resolve();
      const chunk = payload.subarray(at, Math.min(at + CHUNK, end));
      at += chunk.length;
      return request.data(chunk).then(pump);
    };
    return pump();
  });
}

const network: AgentNetwork = {
  http: { get: () => Promise.resolve({ status: 200, headers: {}, body: asciiToBytes('https://cdn.invalid/payload.bin') }) },
  fetcher: { fetch: fetchFromMemory },
};
const sectors = Math.ceil((size + args.sectorBytes) / args.sectorBytes);
const mainFlash = new SimFlash(uniformGeometry(args.sectorBytes, 4 + 2 * sectors, 8, 0xff));
let startedAt = 0;
let startCpu = process.cpuUsage();
let ms = 0;
let cpuMs = 0;
const device = new SimDevice({
  serial: 'memory', hardwareVersion: 'hw-memory', wifi: false, mainFlash, network,
  api: { baseUrl: 'https://api.invalid', projectKey: 'memory' },
  policy: { progressIntervalMs: 1e9, healthDeadlineMs: 60_000 },
  onEvent: (event: AgentEvent) => {
    // OTA_PROF_MARKS=1: event times on the clock of --cpu-prof (µs), to cut a profile down to the update.
    if (process.env.OTA_PROF_MARKS) process.stderr.write(`mark ${event.type} ${process.hrtime.bigint() / 1000n}\n`);
    if (event.type === 'checking' && startedAt === 0) {
      startedAt = performance.now();
      startCpu = process.cpuUsage();
    }
    if (event.type === 'verified') {
      ms = performance.now() - startedAt;
      const used = process.cpuUsage(startCpu);
      cpuMs = (used.user + used.system) / 1000;
    }
  },
});
await device.provision(buildFirmwareImage({ version: '0.0.1', size: 8192 }), '0.0.1');
await device.boot();
let outcome = '';
for (let i = 0; i < 4 && outcome !== 'confirmed'; i++) outcome = (await device.runOnce()).outcome;
device.close();
process.stdout.write(JSON.stringify({ outcome, ms, cpuMs }) + '\n');
