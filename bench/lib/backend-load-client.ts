// The load generator of bench/backend.ts, run as a second process (forked, jobs over IPC): C keep-alive
// connections, one request in flight each, for a fixed time; answers each job with the request counts and
// latency percentiles.
import { connect, type Socket } from 'node:net';

interface Job {
  port: number;
  connections: number;
  warmupMs: number;
  durationMs: number;
  /** Request path with `{i}` replaced by 0..devices-1, cycled through so per-device state is exercised. */
  pathTemplate: string;
  devices: number;
  headers: string;
  expectStatus: number;
}


function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length - 1) * p))];
}

async function run(job: Job): Promise<{ count: number; total: number; rps: number; p50ms: number; p99ms: number; wrongStatus: number }> {
  const requests = Array.from({ length: job.devices }, (_, i) => Buffer.from(`GET ${job.pathTemplate.replace('{i}', String(i))} HTTP/1.1\r\nHost: 127.0.0.1\r\n${job.headers}\r\n`));
  const latencies: number[] = [];
  let count = 0;
  let total = 0;
  let wrongStatus = 0;
  let next = 0;
  let measuring = false;
  let stopping = false;
  const sockets: Socket[] = [];
  const finished: Promise<void>[] = [];
  for (let c = 0; c < job.connections; c++) {
    finished.push(new Promise<void>((resolve, reject) => {
      const socket = connect({ port: job.port, host: '127.0.0.1', noDelay: true });
      sockets.push(socket);
      let buffer: Buffer = Buffer.alloc(0);
      let sentAt = 0;
      const send = (): void => {
        if (stopping) { socket.end(); resolve(); return; }
        sentAt = performance.now();
        socket.write(requests[next++ % requests.length]);
      };
      socket.on('connect', send);
      socket.on('error', reject);
      socket.on('data', (chunk: Buffer) => {
        buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
        for (;;) {
          const end = buffer.indexOf('\r\n\r\n');
          if (end < 0) return;
          const head = buffer.subarray(0, end).toString('latin1');
          const match = /\r\ncontent-length:\s*([0-9]+)/i.exec(head);
          const length = match ? Number(match[1]) : 0;
          if (buffer.length < end + 4 + length) return;
          const status = Number(head.slice(9, 12));
          buffer = buffer.subarray(end + 4 + length);
          total++;
          if (measuring) {
            count++;
            latencies.push(performance.now() - sentAt);
            if (status !== job.expectStatus) wrongStatus++;
          }
          send();
        }
      });
    }));
  }
  await new Promise((r) => setTimeout(r, job.warmupMs));
  measuring = true;
  const started = performance.now();
  await new Promise((r) => setTimeout(r, job.durationMs));
  measuring = false;
  const elapsed = (performance.now() - started) / 1000;
  stopping = true;
  await Promise.all(finished);
  for (const socket of sockets) socket.destroy();
  const sorted = Float64Array.from(latencies).sort();
  return { count, total, rps: count / elapsed, p50ms: percentile(sorted, 0.5), p99ms: percentile(sorted, 0.99), wrongStatus };
}

process.on('message', (job: Job | 'exit') => {
  if (job === 'exit') { process.disconnect(); return; }
  run(job).then((result) => process.send?.(result), (error) => { process.stderr.write(String(error) + '\n'); process.exit(1); });
});
