// Runs one download in this process and prints {…RunResult, peakRssMiB, retainedMiB} as JSON. argv: runner name,
// JSON Job. Runners come from download-runners.ts, plus the mbedTLS ones when that module loads.
import { RUNNERS, oursWith, type Job, type Runner } from './download-runners.js';

const [name, jobText] = process.argv.slice(2);
let runner: Runner | undefined = RUNNERS[name];
if (!runner) {
  const extra = await import('./download-mbedtls.js').then((m) => m.mbedtlsRunners(oursWith), (error: unknown) => {
    process.stderr.write(`mbedTLS runners unavailable: ${String(error)}\n`);
    return {} as { [name: string]: Runner };
  });
  runner = extra[name];
}
if (!runner) {
  process.stderr.write(`unknown runner ${name}\n`);
  process.exit(2);
}
const result = await runner(JSON.parse(jobText) as Job);
const peakRssMiB = process.resourceUsage().maxRSS / 1024;
// What the process still holds once garbage is collected: separates retention (a leak, a growing buffer) from
// Node's per-read Buffers that merely wait for the collector.
// Two collections with a turn of the event loop between them, so freed Buffers' backing stores are released too.
const gc = (globalThis as { gc?: () => void }).gc;
if (gc) {
  gc();
  await new Promise((resolve) => setImmediate(resolve));
  gc();
}
const memory = process.memoryUsage();
const retainedMiB = (memory.heapUsed + memory.external) / 1024 / 1024;
process.stdout.write(JSON.stringify({ ...result, peakRssMiB, retainedMiB }) + '\n');
process.exit(0);
