import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { WorkerHashPool, workerHashes } from '../../src/node/worker-hashes.js';
import { isOtaError } from '../../src/util/errors.js';
import { toHex } from '../../src/util/bytes.js';

// SHA-256 on the worker thread must be SHA-256: the same digest as node:crypto for any size and any way of cutting the
// input, with hashes interleaved, and a clear error (never a hang) when the worker is gone.

const BATCH = 256 * 1024;

/** Deterministic bytes (an LCG), so a failure replays. */
function bytes(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed >>> 0;
  for (let i = 0; i < size; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

const expected = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

/** Feeds `data` in pieces whose sizes come from `seed` (0 to 3 batches, empty pieces included). */
function feed(hash: { update(d: Uint8Array): void }, data: Uint8Array, seed: number): void {
  let x = seed >>> 0;
  for (let at = 0; at < data.length;) {
    x = (Math.imul(x, 22695477) + 1) >>> 0;
    const n = Math.min(data.length - at, x % (3 * BATCH + 1));
    hash.update(data.subarray(at, at + n));
    at += n;
  }
}

describe('workerHashes (SHA-256 on a worker thread)', () => {
  const pools: WorkerHashPool[] = [];
  afterAll(async () => { await Promise.all(pools.map((p) => p.close())); });

  it.each([0, 1, 4095, 4096, 4097, BATCH - 1, BATCH, BATCH + 1, 3 * BATCH, 5 * 1024 * 1024 + 3])(
    'hashes %i bytes, cut at random places, to the digest node:crypto computes', (size) => {
      const data = bytes(size, size + 7);
      for (const seed of [1, 2, 3]) {
        const hash = workerHashes.sha256();
        feed(hash, data, seed * 31 + size);
        expect(toHex(hash.digest()), `size ${size}, cut seed ${seed * 31 + size}`).toBe(expected(data));
      }
    });

  it('keeps interleaved hashes apart, short and long alike', () => {
    const inputs = [bytes(3 * BATCH + 5, 1), bytes(100, 2), bytes(2 * BATCH, 3), bytes(BATCH + 1, 4)];
    const hashes = inputs.map(() => workerHashes.sha256());
    for (let at = 0; at < 3 * BATCH + 5; at += 10_000) {
      inputs.forEach((input, i) => { if (at < input.length) hashes[i].update(input.subarray(at, at + 10_000)); });
    }
    // Digests in another order than the hashes were started, with an untouched hash in between.
    const untouched = workerHashes.sha256();
    expect([3, 0, 2, 1].map((i) => toHex(hashes[i].digest()))).toEqual([3, 0, 2, 1].map((i) => expected(inputs[i])));
    expect(toHex(untouched.digest())).toBe(expected(new Uint8Array(0)));
  });

  it('does not hand out bytes it was given by reference: the caller may reuse its buffer at once', () => {
    const data = bytes(2 * BATCH + 17, 9);
    const scratch = new Uint8Array(5000);
    const hash = workerHashes.sha256();
    for (let at = 0; at < data.length; at += scratch.length) {
      const piece = data.subarray(at, at + scratch.length);
      scratch.set(piece);
      hash.update(scratch.subarray(0, piece.length));
      scratch.fill(0xee);
    }
    expect(toHex(hash.digest())).toBe(expected(data));
  });

  it('refuses an update or a second digest after the digest', () => {
    const hash = workerHashes.sha256();
    hash.update(bytes(BATCH + 1, 5));
    hash.digest();
    expect(() => hash.update(new Uint8Array(1))).toThrow(/after digest/);
    expect(() => hash.digest()).toThrow(/twice/);
  });

  it('fails a hash whose worker is gone with hash-worker-failed, and the next hash starts a new worker', async () => {
    const pool = new WorkerHashPool();
    pools.push(pool);
    const data = bytes(3 * BATCH, 11);
    const orphan = pool.sha256();
    orphan.update(data.subarray(0, 2 * BATCH));
    await pool.close();
    let caught: unknown = null;
    try {
      orphan.update(data.subarray(2 * BATCH));
      orphan.digest();
    } catch (e) {
      caught = e;
    }
    expect(isOtaError(caught) && caught.code).toBe('hash-worker-failed');
    expect(isOtaError(caught) && caught.retryable).toBe(true);
    const fresh = pool.sha256();
    fresh.update(data);
    expect(toHex(fresh.digest())).toBe(expected(data));
  });

  it('never keeps a Node process alive', async () => {
    const result = await new Promise<{ code: number | null; out: string }>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'worker-hashes.fixture.ts')],
        { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString(); });
      // A bound, not a measurement: a process held open by the worker would never exit by itself.
      const guard = setTimeout(() => child.kill('SIGKILL'), 20_000);
      child.on('error', reject);
      child.on('close', (code) => { clearTimeout(guard); resolve({ code, out }); });
    });
    expect(result).toEqual({ code: 0, out: expected(new Uint8Array(1024 * 1024).fill(7)) });
  }, 30_000);
});
