// npm run bench:backend — device API throughput of the mock backend against the ceiling of a minimal Node server.
// The backend and the ceiling server run in this process; the load comes from a second process over loopback
// (keep-alive connections, one request in flight each). Ratios, not absolute numbers, are the result: the
// machine is shared and noisy. Options: --connections N (default 64), --seconds S per phase and round (default
// 1.5), --rounds R (default 3).
import { fork, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { startBackend } from '../src/backend/index.js';

const argv = process.argv.slice(2);
function flag(name: string, fallback: number): number {
  const at = argv.indexOf(`--${name}`);
  return at >= 0 ? Number(argv[at + 1]) : fallback;
}
const connections = flag('connections', 64);
const durationMs = flag('seconds', 1.5) * 1000;
const rounds = flag('rounds', 3);
const warmupMs = 500;
const DEVICES = 2000;

interface Result { count: number; total: number; rps: number; p50ms: number; p99ms: number; wrongStatus: number; cpuUsPerRequest: number }

let client: ChildProcess | null = null;

/** Runs one load job in the (persistent) client process; also measures this process's CPU time per request. */
function load(port: number, pathTemplate: string, headers: string, expectStatus: number): Promise<Result> {
  if (!client) {
    client = fork(fileURLToPath(new URL('./lib/backend-load-client.ts', import.meta.url)), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  }
  const worker = client;
  const cpuBefore = process.cpuUsage();
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null): void => reject(new Error(`load client exited with ${code}`));
    worker.once('exit', onExit);
    worker.once('message', (result: Omit<Result, 'cpuUsPerRequest'>) => {
      worker.off('exit', onExit);
      const cpu = process.cpuUsage(cpuBefore);
      resolve({ ...result, cpuUsPerRequest: (cpu.user + cpu.system) / Math.max(1, result.total) });
    });
    worker.send({ port, connections, warmupMs, durationMs, pathTemplate, devices: DEVICES, headers, expectStatus });
  });
}

async function main(): Promise<void> {
  const ceiling = createServer({ keepAlive: true }, (_req, res) => { res.writeHead(204); res.end(); });
  ceiling.keepAliveTimeout = 10_000;
  await new Promise<void>((resolve) => ceiling.listen(0, '127.0.0.1', resolve));
  const ceilingPort = (ceiling.address() as { port: number }).port;

  const backend = await startBackend({ http: true, dailyRequestLimit: 1e12 });
  await backend.admin.uploadPayload(new Uint8Array(256 * 1024), { hardwareVersion: 'evt', softwareType: 'main', softwareVersion: '1.1.0' });
  backend.admin.deploy({ releaseVersion: '1.1.0', cohort: 'default' });
  const port = Number(new URL(backend.baseUrl).port);
  const query = (version: string): string =>
    `/api/v0/releases/latest/url?&device_serial=bench-{i}&hardware_version=evt&software_type=main&current_version=${version}`;
  const headers = `User-Agent:MemfaultSDK/1.43.0\r\nMemfault-Project-Key:${backend.projectKey}\r\n`;
  const upToDate = query('1.1.0');
  const outdated = query('1.0.0');

  // Each round measures the ceiling and both backend phases back to back; the result is the median over rounds
  // of each phase's figures and of the per-round ratios, so load from other processes that comes and goes
  // between rounds cancels out instead of landing on one side of the ratio.
  const plan: [string, number, string, number][] = [
    ['ceiling: constant 204', ceilingPort, upToDate, 204],
    ['backend: 204 latest', port, upToDate, 204],
    ['backend: 200 signed URL', port, outdated, 200],
  ];
  const results: Result[][] = plan.map(() => []);
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < plan.length; i++) results[i].push(await load(plan[i][1], plan[i][2], headers, plan[i][3]));
  }
  client?.send('exit');
  await backend.close();
  ceiling.close();

  const median = (values: number[]): number => {
    const sorted = [...values].sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  };
  const summary = results.map((rs) => ({
    rps: median(rs.map((r) => r.rps)), p50ms: median(rs.map((r) => r.p50ms)), p99ms: median(rs.map((r) => r.p99ms)),
    wrongStatus: rs.reduce((sum, r) => sum + r.wrongStatus, 0), cpuUs: median(rs.map((r) => r.cpuUsPerRequest)),
  }));
  // Server CPU time per request, ceiling over backend: immune to the client being starved, unlike throughput.
  const cpuRatio = (phase: number): number => median(results[phase].map((r, round) => results[0][round].cpuUsPerRequest / r.cpuUsPerRequest));
  const ratio = (phase: number): number => median(results[phase].map((r, round) => r.rps / results[0][round].rps));
  console.log(`device API, ${connections} keep-alive connections from a second process, median of ${rounds} rounds of ${durationMs / 1000} s per phase`);
  console.log(`${'phase'.padEnd(26)} ${'req/s'.padStart(9)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'ratio'.padStart(6)} ${'cpu µs/req'.padStart(11)} ${'cpu ratio'.padStart(10)} ${'bad'.padStart(5)}`);
  summary.forEach((r, i) => {
    console.log(`${plan[i][0].padEnd(26)} ${r.rps.toFixed(0).padStart(9)} ${r.p50ms.toFixed(2).padStart(8)} ${r.p99ms.toFixed(2).padStart(8)} ${(i === 0 ? 1 : ratio(i)).toFixed(2).padStart(6)} ${r.cpuUs.toFixed(1).padStart(11)} ${(i === 0 ? 1 : cpuRatio(i)).toFixed(2).padStart(10)} ${String(r.wrongStatus).padStart(5)}`);
  });
  const checks = summary[1];
  const answers = summary[2];
  console.log(JSON.stringify({
    ratioToCeiling: Number(ratio(1).toFixed(3)), rps: Math.round(checks.rps), p99ms: Number(checks.p99ms.toFixed(2)),
    ratio200ToCeiling: Number(ratio(2).toFixed(3)), rps200: Math.round(answers.rps), p99ms200: Number(answers.p99ms.toFixed(2)),
    cpuRatioToCeiling: Number(cpuRatio(1).toFixed(3)), cpuRatio200ToCeiling: Number(cpuRatio(2).toFixed(3)),
    ceilingRps: Math.round(summary[0].rps), connections, rounds,
  }));
  if (checks.wrongStatus > 0 || answers.wrongStatus > 0) process.exitCode = 1;
}

main().catch((error) => { console.error(error); process.exit(1); });
