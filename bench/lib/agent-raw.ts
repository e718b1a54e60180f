import { connect } from 'node:tls';

/** Reads `url` over raw node:tls (HTTP/1.1 GET, bytes discarded); resolves with the body bytes and milliseconds. */
export function rawTlsGet(url: string, caPem: string): Promise<{ bytes: number; ms: number; cpuMs: number }> {
  const parsed = new URL(url);
  const started = performance.now();
  const cpu = process.cpuUsage();
  return new Promise((resolve, reject) => {
    const socket = connect({ host: parsed.hostname, port: Number(parsed.port), ca: caPem, servername: /^[\d.]+$/.test(parsed.hostname) ? undefined : parsed.hostname });
    let head = '';
    let headDone = false;
    let length = -1;
    let body = 0;
    socket.once('secureConnect', () => {
      socket.write(`GET ${parsed.pathname}${parsed.search} HTTP/1.1\r\nHost: ${parsed.host}\r\nConnection: close\r\nAccept-Encoding: identity\r\n\r\n`);
    });
    socket.on('data', (chunk: Buffer) => {
      if (!headDone) {
        head += chunk.toString('latin1');
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        headDone = true;
        const match = /content-length:\s*(\d+)/i.exec(head.slice(0, end));
        length = match ? Number(match[1]) : -1;
        body = Buffer.byteLength(head, 'latin1') - end - 4;
      } else {
        body += chunk.length;
      }
      if (length >= 0 && body >= length) {
        socket.destroy();
        const used = process.cpuUsage(cpu);
        resolve({ bytes: body, ms: performance.now() - started, cpuMs: (used.user + used.system) / 1000 });
      }
    });
    socket.on('error', reject);
  });
}

// As a child process: argv[2] = URL, argv[3] = CA path; prints {"bytes":…,"ms":…}.
if (process.argv[1] !== undefined && process.argv[1].endsWith('agent-raw.ts') && process.argv.length >= 4) {
  const { readFileSync } = await import('node:fs');
  const result = await rawTlsGet(process.argv[2], readFileSync(process.argv[3], 'utf8'));
  process.stdout.write(JSON.stringify(result) + '\n');
}
