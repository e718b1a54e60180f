import { describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import { HttpClient } from '../../src/http/client.js';
import { downloadWithResume, type DownloadSink } from '../../src/http/download.js';
import { NodeTlsTransport } from '../../src/node/transports/tls.js';
import { systemClock } from '../../src/node/clock.js';
import { testPki } from '../../src/tools/pki.js';

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SIZE = 32 * 1024 * 1024;
const SECTOR = 4096;
const BUFFER = 16 * 1024;
const SEED = Number(process.env.OTA_RESUME_SEED ?? 0x5eed) >>> 0;

describe('32 MiB download over TLS with connection drops', () => {
  it('resumes byte-identical, receiving at most one working buffer extra per drop', async () => {
    console.log(`resume-tls seed ${SEED} (replay: OTA_RESUME_SEED=${SEED})`);
    const random = mulberry32(SEED);
    const payload = Buffer.alloc(SIZE);
    for (let i = 0; i < SIZE; i += 4) payload.writeUInt32LE((random() * 0x100000000) >>> 0, i);
    const drops = [1, 2, 3, 4].map(() => 1 + Math.floor(random() * (SIZE - 2))).sort((a, b) => a - b);
    const pki = testPki('ecdsa');
    let request = 0;
    const server: Server = createServer({ cert: pki.leaf.chainPem, key: pki.leaf.keyPem }, (req, res) => {
      const range = /^bytes=(\d+)-$/.exec(String(req.headers.range ?? ''));
      const start = range && req.headers['if-range'] === '"p1"' ? Number(range[1]) : 0;
      res.setHeader('ETag', '"p1"');
      if (start > 0) {
        res.statusCode = 206;
        res.setHeader('Content-Range', `bytes ${start}-${SIZE - 1}/${SIZE}`);
      }
      res.setHeader('Content-Length', String(SIZE - start));
      const drop = drops[request++];
      if (drop !== undefined && drop > start) {
        // Send up to the drop point, then cut the TCP connection mid-body.
        res.write(payload.subarray(start, drop), () => res.socket?.destroy());
      } else {
        res.end(payload.subarray(start));
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      const target = Buffer.alloc(SIZE);
      let written = 0;
      // Durable at flash-sector granularity, like an image writer: a drop loses the unflushed tail.
      const sink: DownloadSink = {
        write: (chunk) => {
          target.set(chunk, written);
          written += chunk.length;
        },
        restart: () => { written = 0; },
        resumeOffset: () => {
          written -= written % SECTOR;
          return written;
        },
      };
      const http = new HttpClient({ transport: new NodeTlsTransport(), ca: [pki.root.certDer], clock: systemClock, bufferSize: BUFFER });
      const result = await downloadWithResume(http, { url: `https://localhost:${port}/payload`, offset: 0, size: SIZE }, sink, { clock: systemClock, retryDelayMs: 1, maxDrops: 8 });
      http.close();
      expect(written).toBe(SIZE);
      expect(createHash('sha256').update(target).digest('hex')).toBe(createHash('sha256').update(payload).digest('hex'));
      // Drop points are increasing and each resume starts at or below the previous one, so every planned drop happens.
      expect(result.drops).toBe(drops.length);
      expect(result.restarted).toBe(false);
      expect(result.totalReceived).toBeGreaterThanOrEqual(SIZE);
      expect(result.totalReceived).toBeLessThanOrEqual(SIZE + result.drops * BUFFER);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
