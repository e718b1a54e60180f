import { spawn } from 'node:child_process';
import { connect } from 'node:tls';
import { readFileSync } from 'node:fs';
const p = JSON.parse(readFileSync('/tmp/prof-pki.json', 'utf8'));
const server = spawn(process.execPath, ['--import', 'tsx', 'bench/lib/download-server.ts', JSON.stringify({ certPem: p.certPem, keyPem: p.keyPem })], { stdio: ['ignore', 'pipe', 'inherit'] });
const port: number = await new Promise((r) => server.stdout.once('data', (d) => r(JSON.parse(d.toString()).port)));
const mode = process.argv[2];
const buf = Buffer.alloc(65536);
let total = 0; let calls = 0; const t0 = performance.now();
await new Promise<void>((resolve) => {
  const opts: any = { host: 'localhost', port, servername: 'localhost', ca: p.ca };
  if (mode === 'onread') opts.onread = { buffer: buf, callback: (n: number, b: Buffer) => { total += n; calls++; if (total >= 64 * 1048576) resolve(); return true; } };
  const s = connect(opts, () => s.write('GET /64m HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'));
  s.on('data', (d: Buffer) => { total += d.length; calls++; if (total >= 64 * 1048576) resolve(); });
  s.on('end', () => resolve());
});
console.log(mode, total, calls, (total / 1048576 / ((performance.now() - t0) / 1000)).toFixed(0), 'MiB/s rss', (process.resourceUsage().maxRSS / 1024).toFixed(1));
server.kill(); process.exit(0);
