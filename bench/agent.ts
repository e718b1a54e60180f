// npm run bench:agent — end-to-end update of a 64 MiB single-part release over loopback TLS, agent vs curl and
// vs a raw node:tls reader on the same signed CDN URL in the same run, and vs that reader doing the work the issue asks
// of the agent (copy into payload-sized memory, CRC-32, SHA-256: the floor of any node:tls client that does it); the agent alone with the payload in RAM (its own
// cost per byte); peak RSS for 1 MiB vs 64 MiB, with Node's defaults and with V8's young generation held at 1 MiB;
// bytes on the wire under 10 injected link failures. Prints a table and one JSON line.
//   --rounds N (default 9)   --size-mib N (default 64)
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBackend } from '../src/backend/index.js';
import { crc32 } from 'node:zlib';
import { buildFirmwareImage } from '../hal/sim/firmware-image.js';

const argv = process.argv.slice(2);
const option = (name: string, fallback: number): number => {
  const at = argv.indexOf(`--${name}`);
  return at >= 0 ? Number(argv[at + 1]) : fallback;
};
const ROUNDS = option('rounds', 9);
const MIB = 1024 * 1024;
const BIG = option('size-mib', 64) * MIB;
const SMALL = 1 * MIB;
const SECTOR = 64 * 1024;

interface ChildResult {
  outcome: string; running: string; wire: number; resumes: number; updateMs: number; updateCpuMs: number; downloadMs: number;
  maxRssKiB: number; rssBeforeKiB: number; payload: number;
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};

/** One agent update in a child process; `nodeFlags` go before the script (V8 settings for the memory rows). */
function runChild(args: object, nodeFlags: string[] = []): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeFlags, '--import', 'tsx', join(import.meta.dirname, 'lib/agent-child.ts'), JSON.stringify(args)],
      { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString(); });
    child.on('exit', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      try {
        const result = JSON.parse(line) as ChildResult;
        if (result.outcome !== 'confirmed') reject(new Error(`agent run ended "${result.outcome}"`));
        else resolve(result);
      } catch {
        reject(new Error(`agent child exited ${code} without a result: ${out.slice(-500)}`));
      }
    });
  });
}

/** Runs a program (never spawnSync: the backend answers from this process's event loop). */
function run(command: string, args: string[]): Promise<{ code: number | null; out: string; ms: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString(); });
    child.on('exit', (code) => resolve({ code, out, ms: performance.now() - started }));
  });
}

async function signedUrl(baseUrl: string, key: string, ca: string, hardwareVersion: string): Promise<string> {
  const result = await run('curl', ['-s', '--cacert', ca, '-H', `Memfault-Project-Key: ${key}`,
    `${baseUrl}/api/v0/releases/latest/url?device_serial=bench-curl&hardware_version=${hardwareVersion}&software_type=main-fw&current_version=0.0.1`]);
  const url = result.out.trim();
  if (!url.startsWith('https://')) throw new Error(`no payload URL from the device API: "${url}"`);
  return url;
}

async function curlGet(url: string, ca: string): Promise<{ bytes: number; ms: number }> {
  const result = await run('curl', ['-s', '--cacert', ca, '-o', '/dev/null', '-w', '%{size_download}', url]);
  if (result.code !== 0) throw new Error(`curl failed with ${result.code}`);
  return { bytes: Number(result.out), ms: result.ms };
}

/** The agent with the payload served from RAM (no TLS, no sockets): its own cost per byte. */
async function agentAlone(size: number): Promise<{ ms: number; cpuMs: number }> {
  const result = await run(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'lib/agent-memory-child.ts'),
    JSON.stringify({ sizeBytes: size, sectorBytes: SECTOR })]);
  const parsed = JSON.parse(result.out.trim().split('\n').pop() ?? '{}') as { outcome?: string; ms: number; cpuMs: number };
  if (parsed.outcome !== 'confirmed') throw new Error(`the in-memory agent run ended "${parsed.outcome}"`);
  return parsed;
}

/** The raw node:tls reader in its own process; with `workBytes`, it also copies and hashes every byte (agent-raw.ts). */
async function rawGet(url: string, ca: string, workBytes = 0): Promise<{ bytes: number; ms: number; cpuMs: number; crc32?: number }> {
  const result = await run(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'lib/agent-raw.ts'), url, ca, String(workBytes)]);
  return JSON.parse(result.out.trim()) as { bytes: number; ms: number; cpuMs: number; crc32?: number };
}

const dataDir = mkdtempSync(join(tmpdir(), 'ota-bench-agent-'));
const backend = await startBackend({ dataDir: join(dataDir, 'backend') });
try {
  const caPath = backend.caPath as string;
  const bigImage = buildFirmwareImage({ version: '2.0.0', size: BIG });
  const bigCrc = crc32(bigImage);
  await backend.admin.uploadPayload(bigImage, { hardwareVersion: 'hw-big', softwareType: 'main-fw', softwareVersion: '2.0.0' });
  await backend.admin.uploadPayload(buildFirmwareImage({ version: '2.0.0', size: SMALL }), { hardwareVersion: 'hw-small', softwareType: 'main-fw', softwareVersion: '2.0.0' });
  backend.admin.deploy({ releaseVersion: '2.0.0', cohort: 'default', rolloutPercent: 100 });
  backend.configure({ dailyRequestLimit: 100_000 });
  const url = await signedUrl(backend.baseUrl, backend.projectKey, caPath, 'hw-big');
  const common = { baseUrl: backend.baseUrl, projectKey: backend.projectKey, caPath, slotBytes: BIG + SECTOR, sectorBytes: SECTOR, retries: 5 };
  const curl: number[] = [];
  const raw: number[] = [];
  const rawWork: number[] = [];
  const agent: number[] = [];
  const agentDownload: number[] = [];
  const alone: number[] = [];
  const cpuPerMiB = { raw: [] as number[], rawWork: [] as number[], agent: [] as number[], alone: [] as number[] };
  for (let round = 0; round < ROUNDS; round++) {
    const c = await curlGet(url, caPath);
    if (c.bytes !== BIG) throw new Error(`curl read ${c.bytes} bytes`);
    curl.push(BIG / MIB / (c.ms / 1000));
    const r = await rawGet(url, caPath);
    if (r.bytes !== BIG) throw new Error(`raw node:tls read ${r.bytes} bytes`);
    raw.push(BIG / MIB / (r.ms / 1000));
    cpuPerMiB.raw.push(r.cpuMs / (BIG / MIB));
    const w = await rawGet(url, caPath, BIG);
    if (w.bytes !== BIG || w.crc32 !== bigCrc) throw new Error(`raw node:tls with the work read ${w.bytes} bytes, CRC-32 ${w.crc32}`);
    rawWork.push(BIG / MIB / (w.ms / 1000));
    cpuPerMiB.rawWork.push(w.cpuMs / (BIG / MIB));
    const a = await runChild({ ...common, hardwareVersion: 'hw-big', serial: `bench-${round}`, flash: 'sim' });
    agent.push(BIG / MIB / (a.updateMs / 1000));
    agentDownload.push(BIG / MIB / (a.downloadMs / 1000));
    cpuPerMiB.agent.push(a.updateCpuMs / (BIG / MIB));
    const m = await agentAlone(BIG);
    alone.push(BIG / MIB / (m.ms / 1000));
    cpuPerMiB.alone.push(m.cpuMs / (BIG / MIB));
    process.stderr.write(`round ${round + 1}/${ROUNDS}: curl ${curl[round].toFixed(0)} MiB/s, raw ${raw[round].toFixed(0)}, raw + work ${rawWork[round].toFixed(0)}, agent ${agent[round].toFixed(0)} MiB/s\n`);
  }
  // Memory: the flash lives in a file (as real flash lives outside RAM), so RSS is the agent's own working set. Measured
  // twice: with Node's defaults (the figure the target is about), and with V8's young generation held at 1 MiB, which
  // shows how much of the difference is V8 growing its young generation over a long download rather than the agent
  // keeping memory (its live heap stays flat).
  const rss: { [size: string]: ChildResult } = {};
  for (const [name, hw, size, flags] of [['small', 'hw-small', SMALL, []], ['big', 'hw-big', BIG, []],
    ['smallYoung1', 'hw-small', SMALL, ['--max-semi-space-size=1']], ['bigYoung1', 'hw-big', BIG, ['--max-semi-space-size=1']]] as const) {
    const dir = mkdtempSync(join(dataDir, 'rss-'));
    rss[name] = await runChild({ ...common, slotBytes: size + SECTOR, hardwareVersion: hw, serial: `bench-rss-${name}`, flash: 'file', dir }, [...flags]);
  }
  // Wire bytes under 10 injected link failures (the CDN cuts the body; each resume continues with Range + If-Range).
  // Every matching rule fires on the same request, so the next cut is armed only once the previous one was used.
  let armed = 0;
  let dropping = true;
  const armNext = async (): Promise<void> => {
    while (dropping && armed < 10) {
      if (backend.faults.list().length === 0) {
        backend.faults.add({ route: 'cdn', kind: 'truncate', afterBytes: Math.floor(BIG / 12) + armed * 4099, times: 1 });
        armed++;
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };
  const arming = armNext();
  const drops = await runChild({ ...common, hardwareVersion: 'hw-big', serial: 'bench-drops', flash: 'sim', retries: 20 });
  dropping = false;
  await arming;
  backend.faults.clear();

  const m = { curl: median(curl), raw: median(raw), rawWork: median(rawWork), agent: median(agent), agentDownload: median(agentDownload), alone: median(alone) };
  const cpu = { raw: median(cpuPerMiB.raw), rawWork: median(cpuPerMiB.rawWork), agent: median(cpuPerMiB.agent), alone: median(cpuPerMiB.alone) };
  const rows: [string, string][] = [
    ['curl (--cacert, -o /dev/null)', `${m.curl.toFixed(1)} MiB/s`],
    ['raw node:tls reader (discards)', `${m.raw.toFixed(1)} MiB/s`],
    ['raw node:tls reader + the work: copy, CRC-32, SHA-256', `${m.rawWork.toFixed(1)} MiB/s`],
    ['agent: check -> download -> SimFlash -> read-back verify', `${m.agent.toFixed(1)} MiB/s`],
    ['agent: download -> SimFlash -> verify only', `${m.agentDownload.toFixed(1)} MiB/s`],
    ['agent alone: payload from RAM, no TLS (its own work per byte)', `${m.alone.toFixed(1)} MiB/s`],
    ['CPU per MiB: raw reader / raw + work / agent / agent alone', `${cpu.raw.toFixed(2)} / ${cpu.rawWork.toFixed(2)} / ${cpu.agent.toFixed(2)} / ${cpu.alone.toFixed(2)} ms`],
    [`peak RSS, ${SMALL / MIB} MiB update (file-backed flash)`, `${(rss.small.maxRssKiB / 1024).toFixed(1)} MiB`],
    [`peak RSS, ${BIG / MIB} MiB update (file-backed flash)`, `${(rss.big.maxRssKiB / 1024).toFixed(1)} MiB`],
    [`the same two with --max-semi-space-size=1`, `${(rss.smallYoung1.maxRssKiB / 1024).toFixed(1)} / ${(rss.bigYoung1.maxRssKiB / 1024).toFixed(1)} MiB`],
    [`wire bytes / payload, ${armed} link failures`, `${(drops.wire / BIG).toFixed(4)} (${drops.resumes} resumes)`],
  ];
  process.stdout.write(`\nota-agent end-to-end update, ${BIG / MIB} MiB over loopback TLS, median of ${ROUNDS} rounds\n`);
  for (const [label, value] of rows) process.stdout.write(`  ${label.padEnd(60)} ${value}\n`);
  const json = {
    agentOverCurl: Number((m.agent / m.curl).toFixed(3)),
    agentOverRaw: Number((m.agent / m.raw).toFixed(3)),
    agentOverRawWork: Number((m.agent / m.rawWork).toFixed(3)),
    rawWorkOverCurl: Number((m.rawWork / m.curl).toFixed(3)),
    rssDeltaMiB: Number(((rss.big.maxRssKiB - rss.small.maxRssKiB) / 1024).toFixed(2)),
    rssDeltaMiBYoung1: Number(((rss.bigYoung1.maxRssKiB - rss.smallYoung1.maxRssKiB) / 1024).toFixed(2)),
    wireOverPayload: Number((drops.wire / BIG).toFixed(4)),
    drops: drops.resumes,
    agentMiBs: Number(m.agent.toFixed(1)), curlMiBs: Number(m.curl.toFixed(1)), rawMiBs: Number(m.raw.toFixed(1)), rawWorkMiBs: Number(m.rawWork.toFixed(1)),
    agentAloneMiBs: Number(m.alone.toFixed(1)), cpuMsPerMiB: { raw: Number(cpu.raw.toFixed(2)), rawWork: Number(cpu.rawWork.toFixed(2)), agent: Number(cpu.agent.toFixed(2)), alone: Number(cpu.alone.toFixed(2)) },
  };
  process.stdout.write(JSON.stringify(json) + '\n');
} finally {
  await backend.close();
  rmSync(dataDir, { recursive: true, force: true });
}
