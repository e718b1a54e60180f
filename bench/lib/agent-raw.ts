import { createHash } from 'node:crypto';
import { connect } from 'node:tls';
import { crc32 } from 'node:zlib';

/** The per-byte work the agent issue requires of any client, done with nothing around it. */
interface Work {
  /** Payload-sized memory standing in for the flash the bytes are programmed into. */
  flash: Uint8Array;
  sha256: ReturnType<typeof createHash>;
  crc: number;
}

function doWork(work: Work, chunk: Buffer, at: number): void {
  work.flash.set(chunk, at);
  work.crc = crc32(chunk, work.crc);
  work.sha256.update(chunk);
}

/**
 * Reads `url` over raw node:tls (HTTP/1.1 GET) and resolves with the body bytes and milliseconds. With `work` of the
 * payload's size, every body byte is also copied into it and hashed (CRC-32 and SHA-256): the floor of a client that
 * does what the agent must, with none of its framing, state or checks.
 */
export function rawTlsGet(url: string, caPem: string, workBytes = 0): Promise<{ bytes: number; ms: number; cpuMs: number; crc32?: number }> {
  const parsed = new URL(url);
  const work: Work | null = workBytes > 0 ? { flash: new Uint8Array(workBytes).fill(0xff), sha256: createHash('sha256'), crc: 0 } : null;
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
        if (work !== null && body > 0) doWork(work, chunk.subarray(chunk.length - body), 0);
      } else {
        if (work !== null) doWork(work, chunk, body);
        body += chunk.length;
      }
      if (length >= 0 && body >= length) {
        socket.destroy();
        // The digest is part of the work (its last block is hashed here); only the CRC is compared.
        if (work !== null) work.sha256.digest();
        const used = process.cpuUsage(cpu);
        resolve({ bytes: body, ms: performance.now() - started, cpuMs: (used.user + used.system) / 1000, crc32: work?.crc });
      }
    });
    socket.on('error', reject);
  });
}

// As a child process: argv[2] = URL, argv[3] = CA path, argv[4] = payload size to do the agent's work on (optional);
// prints {"bytes":…,"ms":…,"cpuMs":…}.
if (process.argv[1] !== undefined && process.argv[1].endsWith('agent-raw.ts') && process.argv.length >= 4) {
  const { readFileSync } = await import('node:fs');
  const result = await rawTlsGet(process.argv[2], readFileSync(process.argv[3], 'utf8'), Number(process.argv[4] ?? 0));
  process.stdout.write(JSON.stringify(result) + '\n');
}
