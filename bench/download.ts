// npm run bench:download — payload download throughput over loopback TLS: curl, a raw node:tls reader, and our
// HTTP client (HttpClient over NodeTlsTransport into a CRC-32 sink), alternating in rounds; then peak RSS of our
// client for a 1 MiB and a 64 MiB payload. The server runs in its own process; every client download runs in a
// fresh child process so its peak RSS is its own. Ratios are the result (the machine is shared and noisy).
// Options: --rounds N (default 5), --buffer BYTES (our working buffer, default 65536), --rss-runs N (default 3).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { testPki } from '../src/tools/pki.js';
import { CLIENTS, type ClientSpec } from './lib/download-clients.js';
import type { Job, RunResult } from './lib/download-runners.js';

const argv = process.argv.slice(2);
function flag(name: string, fallback: number): number {
  const at = argv.indexOf(`--${name}`);
  return at >= 0 ? Number(argv[at + 1]) : fallback;
}
const rounds = flag('rounds', 5);
const bufferSize = flag('buffer', 65536);
const rssRuns = flag('rss-runs', 3);
const MiB = 1024 * 1024;

interface Measured extends RunResult {
  peakRssMiB: number;
  retainedMiB: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString(); });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${command} exited with ${code}`))));
  });
}

async function curl(port: number, path: string, caFile: string): Promise<Measured> {
  const out = await run('curl', ['-s', '-o', '/dev/null', '--cacert', caFile, '--resolve', `localhost:${port}:127.0.0.1`,
    '-w', '%{time_total} %{size_download} %{time_connect} %{time_appconnect} %{ssl_verify_result}', `https://localhost:${port}${path}`]);
  const [total, size, connect, appconnect, verify] = out.trim().split(' ').map(Number);
  if (verify !== 0) throw new Error(`curl could not verify the server (${verify})`);
  return { bytes: size, ms: total * 1000, handshakeMs: (appconnect - connect) * 1000, crc: null, cipher: '', protocol: '', peakRssMiB: -1, retainedMiB: -1 };
}

async function child(name: string, job: Job): Promise<Measured> {
  const script = fileURLToPath(new URL('./lib/download-child.ts', import.meta.url));
  return JSON.parse((await run(process.execPath, ['--expose-gc', '--import', 'tsx', script, name, JSON.stringify(job)])).trim()) as Measured;
}

async function main(): Promise<void> {
  const pki = testPki('ecdsa');
  const work = mkdtempSync(join(tmpdir(), 'ota-bench-download-'));
  const caFile = join(work, 'ca.pem');
  writeFileSync(caFile, pki.root.certPem);
  const serverScript = fileURLToPath(new URL('./lib/download-server.ts', import.meta.url));
  const server = spawn(process.execPath, ['--import', 'tsx', serverScript, JSON.stringify({ certPem: pki.leaf.chainPem, keyPem: pki.leaf.keyPem })], { stdio: ['ignore', 'pipe', 'inherit'] });
  const ready = await new Promise<{ port: number; crc1m: number; crc64m: number }>((resolve, reject) => {
    let out = '';
    server.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]));
    });
    server.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  const port = ready.port;
  const jobFor = (path: string): Job => ({ host: 'localhost', port, path, caPem: pki.root.certPem, bufferSize });
  const measure = async (spec: ClientSpec, path: string): Promise<Measured> => {
    const result = spec.name === 'curl' ? await curl(port, path, caFile) : await child(spec.name, jobFor(path));
    const size = path === '/64m' ? 64 * MiB : MiB;
    if (result.bytes !== size) throw new Error(`${spec.name} received ${result.bytes} bytes of ${size}`);
    const expectedCrc = path === '/64m' ? ready.crc64m : ready.crc1m;
    if (result.crc !== null && result.crc !== expectedCrc) throw new Error(`${spec.name} computed CRC-32 ${result.crc}, expected ${expectedCrc}`);
    return result;
  };

  try {
    console.log(`bench:download — 64 MiB over loopback TLS (server: node:https in its own process, ECDSA P-256 leaf), ${rounds} rounds, our working buffer ${bufferSize} B`);
    // One warm-up of each client so the first round does not pay for cold caches.
    for (const spec of CLIENTS) await measure(spec, spec.path ?? '/64m');
    const results: { [name: string]: Measured[] } = {};
    for (let round = 0; round < rounds; round++) {
      for (const spec of CLIENTS) {
        if (spec.maxRuns !== undefined && (results[spec.name]?.length ?? 0) >= spec.maxRuns) continue;
        (results[spec.name] ??= []).push(await measure(spec, spec.path ?? '/64m'));
      }
    }
    const mibs = (m: Measured) => m.bytes / MiB / (m.ms / 1000);
    const stats: { [name: string]: { median: number; min: number; max: number; handshake: number; cipher: string; protocol: string } } = {};
    for (const spec of CLIENTS) {
      const runs = results[spec.name] ?? [];
      const speeds = runs.map(mibs);
      stats[spec.name] = {
        median: median(speeds), min: Math.min(...speeds), max: Math.max(...speeds),
        handshake: median(runs.map((r) => r.handshakeMs)), cipher: runs.find((r) => r.cipher)?.cipher ?? '', protocol: runs.find((r) => r.protocol)?.protocol ?? '',
      };
    }

    // Peak RSS and retained memory (after a forced GC) of our client and of the raw reader, 1 MiB vs 64 MiB.
    const memory: { [key: string]: { peak: number[]; retained: number[] } } = {};
    for (let i = 0; i < rssRuns; i++) {
      for (const name of ['ours', 'raw', 'raw-onread']) {
        for (const path of ['/1m', '/64m']) {
          const m = await measure(CLIENTS.find((c) => c.name === name) as ClientSpec, path);
          const slot = (memory[`${name}${path}`] ??= { peak: [], retained: [] });
          slot.peak.push(m.peakRssMiB);
          slot.retained.push(m.retainedMiB);
        }
      }
    }
    const peak = (key: string) => median(memory[key].peak);
    const retained = (key: string) => median(memory[key].retained);
    const rss1 = peak('ours/1m');
    const rss64 = peak('ours/64m');

    console.log('');
    console.log('| client | runs | MiB/s median | min–max | connect+handshake ms |');
    console.log('|---|---|---|---|---|');
    for (const spec of CLIENTS) {
      const s = stats[spec.name];
      console.log(`| ${spec.label} | ${results[spec.name].length} | ${s.median.toFixed(0)} | ${s.min.toFixed(0)}–${s.max.toFixed(0)} | ${s.handshake >= 0 ? s.handshake.toFixed(1) : '—'} |`);
    }
    const cipher = `${stats.ours.protocol} ${stats.ours.cipher}`;
    const oursOverCurl = stats.ours.median / stats.curl.median;
    const oursOverRaw = stats.ours.median / stats.raw.median;
    const oursOverRawOnread = stats.ours.median / stats['raw-onread'].median;
    console.log('');
    console.log(`cipher (ours): ${cipher}`);
    console.log(`ours/curl ${oursOverCurl.toFixed(3)}   ours/raw ${oursOverRaw.toFixed(3)}   ours/raw-onread ${oursOverRawOnread.toFixed(3)}   raw/curl ${(stats.raw.median / stats.curl.median).toFixed(3)}`);
    console.log('');
    console.log(`| memory (medians of ${rssRuns}) | peak RSS 1 MiB | peak RSS 64 MiB | delta | retained after GC 1 MiB | 64 MiB | delta |`);
    console.log('|---|---|---|---|---|---|---|');
    for (const name of ['ours', 'raw', 'raw-onread']) {
      console.log(`| ${name} | ${peak(`${name}/1m`).toFixed(1)} | ${peak(`${name}/64m`).toFixed(1)} | ${(peak(`${name}/64m`) - peak(`${name}/1m`)).toFixed(1)} | ` +
        `${retained(`${name}/1m`).toFixed(1)} | ${retained(`${name}/64m`).toFixed(1)} | ${(retained(`${name}/64m`) - retained(`${name}/1m`)).toFixed(1)} |`);
    }
    const json: { [key: string]: number | string } = {
      oursOverCurl: Number(oursOverCurl.toFixed(3)),
      oursOverRaw: Number(oursOverRaw.toFixed(3)),
      oursOverRawOnread: Number(oursOverRawOnread.toFixed(3)),
      rssDeltaMiB: Number((rss64 - rss1).toFixed(1)),
      rawRssDeltaMiB: Number((peak('raw/64m') - peak('raw/1m')).toFixed(1)),
      retainedDeltaMiB: Number((retained('ours/64m') - retained('ours/1m')).toFixed(1)),
      curlMiBs: Number(stats.curl.median.toFixed(0)),
      rawMiBs: Number(stats.raw.median.toFixed(0)),
      rawOnreadMiBs: Number(stats['raw-onread'].median.toFixed(0)),
      oursMiBs: Number(stats.ours.median.toFixed(0)),
      cipher,
    };
    for (const spec of CLIENTS) {
      if (!spec.jsonKey) continue;
      json[`${spec.jsonKey}OverNodeTls`] = Number((stats[spec.name].median / stats[spec.baseline ?? 'ours'].median).toFixed(4));
      json[`${spec.jsonKey}HandshakeMs`] = Number(stats[spec.name].handshake.toFixed(1));
      json[`${spec.jsonKey}Cipher`] = `${stats[spec.name].protocol} ${stats[spec.name].cipher}`;
    }
    console.log(JSON.stringify(json));
  } finally {
    server.kill('SIGTERM');
    rmSync(work, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (error) => {
  console.error(error);
  process.exit(1);
});
