import { createHash } from 'node:crypto';
import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import type { Hash, HashFactory } from '../integrity/hash.js';
import { otaError } from '../util/errors.js';
import type { OtaError } from '../util/errors.js';

// SHA-256 on a worker thread. An update's image is hashed while this thread already receives, decrypts and programs
// the next bytes: on a host with a spare core that takes SHA-256, the largest share of the agent's own work per byte
// (docs/performance.md), off the download's critical path. `digest()` stays synchronous, as the portable `Hash`
// contract wants, by blocking on an Atomics wait until the worker has caught up. The backlog it can wait for is
// bounded (MAX_IN_FLIGHT batches), so that wait is short and memory never grows with the payload.
//
// Batches travel as transferred ArrayBuffers and come back the same way to be filled again: a fresh 256 KiB buffer per
// batch would be a fresh mapping from the allocator, and its page faults cost more than the hashing saves.

/** Bytes gathered before a batch goes to the worker; a hash that never fills one (a manifest, a key) stays here. */
const BATCH = 256 * 1024;
/** Batches posted but not yet hashed: at most 1 MiB in transit at any time. */
const MAX_IN_FLIGHT = 4;
/** Returned batches kept for reuse. */
const MAX_FREE = MAX_IN_FLIGHT + 2;
/** Longest wait for the worker before the hash gives up (it hashes over 1 GB/s; a full backlog takes milliseconds). */
const WAIT_MS = 30_000;

// Words shared with the worker: [batches hashed, digests done]. They wrap as int32; only differences count.
const HASHED = 0;
const DIGESTS = 1;

// Plain JavaScript evaluated by the worker: no module resolution, so it runs the same under tsx, vitest and dist/.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const control = new Int32Array(workerData.control);
const result = new Uint8Array(workerData.result);
const back = workerData.back;
const open = new Map();
parentPort.on('message', (m) => {
  if (m.op === 'update') {
    let hash = open.get(m.id);
    if (hash === undefined) { hash = createHash('sha256'); open.set(m.id, hash); }
    hash.update(new Uint8Array(m.data, 0, m.length));
    back.postMessage(m.data, [m.data]);
    Atomics.add(control, ${HASHED}, 1);
    Atomics.notify(control, ${HASHED});
  } else if (m.op === 'digest') {
    const hash = open.get(m.id);
    open.delete(m.id);
    result.set(hash === undefined ? createHash('sha256').digest() : hash.digest());
    Atomics.add(control, ${DIGESTS}, 1);
    Atomics.notify(control, ${DIGESTS});
  } else if (m.op === 'drop') {
    open.delete(m.id);
  }
});
`;

/** One worker thread, the words it shares with this thread, and the batch buffers in circulation. */
class HashWorker {
  readonly worker: Worker;
  readonly control = new Int32Array(new SharedArrayBuffer(8));
  readonly result = new Uint8Array(new SharedArrayBuffer(32));
  posted = 0;
  nextId = 1;
  failure: string | null = null;
  private readonly returns: MessagePort;
  private readonly free: ArrayBuffer[] = [];

  constructor() {
    const channel = new MessageChannel();
    this.returns = channel.port1;
    this.worker = new Worker(WORKER_SOURCE, { eval: true, transferList: [channel.port2],
      workerData: { control: this.control.buffer, result: this.result.buffer, back: channel.port2 } });
    // Every wait on the worker is synchronous, so nothing is pending when idle: it never keeps the process alive.
    this.worker.unref();
    this.returns.unref();
    this.worker.on('error', (error: Error) => { this.failure = error.message; });
    this.worker.on('exit', (code) => { if (this.failure === null) this.failure = `it exited with code ${code}`; });
  }

  /** A batch buffer: one the worker gave back, or a new one. */
  take(): ArrayBuffer {
    for (let back = receiveMessageOnPort(this.returns); back !== undefined; back = receiveMessageOnPort(this.returns)) {
      const buffer = back.message as ArrayBuffer;
      // The last batch of a hash may be a smaller buffer grown for a short input: only whole batches are reused.
      if (buffer.byteLength === BATCH && this.free.length < MAX_FREE) this.free.push(buffer);
    }
    return this.free.pop() ?? new ArrayBuffer(BATCH);
  }

  /** Posts `length` bytes of `batch` (transferred) for hash `id`; blocks while MAX_IN_FLIGHT batches are unhashed. */
  send(id: number, batch: ArrayBuffer, length: number): void {
    if (this.failure !== null) throw workerFailed(this.failure);
    this.worker.postMessage({ op: 'update', id, data: batch, length }, [batch]);
    this.posted = (this.posted + 1) | 0;
    this.waitFor(HASHED, () => ((this.posted - Atomics.load(this.control, HASHED)) | 0) <= MAX_IN_FLIGHT);
  }

  /** The digest of hash `id`, once the worker has hashed every batch posted before it. */
  digest(id: number): Uint8Array {
    // This thread waits for each digest before it asks for another, so one result slot serves every hash.
    const before = Atomics.load(this.control, DIGESTS);
    this.worker.postMessage({ op: 'digest', id });
    this.waitFor(DIGESTS, () => Atomics.load(this.control, DIGESTS) !== before);
    return new Uint8Array(this.result);
  }

  /** Blocks until `ready()` holds, waking on changes of control[index]; throws if the worker died or never answers. */
  private waitFor(index: number, ready: () => boolean): void {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      // Read the word before the test: a change between the two then ends the wait at once instead of being missed.
      const seen = Atomics.load(this.control, index);
      if (ready()) return;
      // 'exit' and 'error' events cannot arrive while this thread blocks: a stopped thread shows as threadId -1.
      if (this.failure === null && this.worker.threadId < 0) this.failure = 'it stopped';
      if (this.failure !== null) throw workerFailed(this.failure);
      const left = deadline - Date.now();
      if (left <= 0) throw workerFailed(`no answer in ${WAIT_MS} ms`);
      Atomics.wait(this.control, index, seen, Math.min(left, 100));
    }
  }
}

function workerFailed(why: string): OtaError {
  return otaError('hash-worker-failed', `SHA-256 on the worker thread failed (${why}); the image was not verified. ` +
    'Retry the update; if it keeps failing, hash on the calling thread with nodeHashes.', true);
}

// An abandoned hash (a cancelled download) would otherwise keep its state in the worker for the process's life.
const abandoned = new FinalizationRegistry<{ owner: HashWorker; id: number }>(({ owner, id }) => {
  if (owner.failure === null) owner.worker.postMessage({ op: 'drop', id });
});

class WorkerSha256 implements Hash {
  // Bytes not yet sent: the first batch grows from a small buffer, so short hashes never take 256 KiB.
  private staging: Uint8Array<ArrayBuffer> | null = null;
  private filled = 0;
  private owner: HashWorker | null = null;
  private id = 0;
  private done = false;

  constructor(private readonly live: () => HashWorker) {}

  /** Copies `data` into the batch being gathered; a full batch goes to the worker. */
  update(data: Uint8Array): void {
    if (this.done) throw new Error('SHA-256 update after digest: make a new hash');
    let at = 0;
    while (at < data.length) {
      const room = this.room(data.length - at);
      const n = Math.min(room, data.length - at);
      this.staging = this.staging as Uint8Array<ArrayBuffer>;
      this.staging.set(n === data.length ? data : data.subarray(at, at + n), this.filled);
      this.filled += n;
      at += n;
      if (this.filled === BATCH) this.send();
    }
  }

  /** The digest of everything fed so far; waits for the worker when part of it went there. */
  digest(): Uint8Array {
    if (this.done) throw new Error('SHA-256 digest taken twice: make a new hash');
    this.done = true;
    if (this.owner === null) {
      // Never left this thread: hash it here, without a round trip.
      const inline = createHash('sha256');
      if (this.staging !== null) inline.update(this.staging.subarray(0, this.filled));
      return new Uint8Array(inline.digest());
    }
    if (this.filled > 0) this.send();
    abandoned.unregister(this);
    return this.owner.digest(this.id);
  }

  /** Room in the staging buffer for `wanted` more bytes, making or growing it as needed (up to one batch). */
  private room(wanted: number): number {
    if (this.staging === null && this.owner !== null) this.staging = new Uint8Array(this.owner.take());
    const capacity = this.staging === null ? 0 : this.staging.length;
    if (capacity - this.filled >= Math.min(wanted, BATCH - this.filled)) return capacity - this.filled;
    let size = Math.max(4096, capacity);
    while (size < BATCH && size - this.filled < wanted) size *= 2;
    const grown = new Uint8Array(new ArrayBuffer(Math.min(size, BATCH)));
    if (this.staging !== null) grown.set(this.staging.subarray(0, this.filled));
    this.staging = grown;
    return grown.length - this.filled;
  }

  /** Hands the gathered batch to the worker, starting it on the first batch. */
  private send(): void {
    if (this.owner === null) {
      this.owner = this.live();
      this.id = this.owner.nextId++;
      abandoned.register(this, { owner: this.owner, id: this.id }, this);
    }
    const batch = (this.staging as Uint8Array<ArrayBuffer>).buffer;
    const length = this.filled;
    this.staging = null;
    this.filled = 0;
    this.owner.send(this.id, batch, length);
  }
}

/** A HashFactory whose SHA-256 runs on one worker thread, started on first use; see the note at the top. */
export class WorkerHashPool implements HashFactory {
  private current: HashWorker | null = null;

  /** A new SHA-256 hash. */
  sha256(): Hash {
    return new WorkerSha256(() => this.live());
  }

  /** Starts the worker now, so the first large image does not wait for the thread to come up (tens of ms). */
  start(): void {
    this.live();
  }

  /** Stops the worker; hashes it was serving fail with `hash-worker-failed`, new ones start a new worker. */
  async close(): Promise<void> {
    const stopping = this.current;
    this.current = null;
    if (stopping !== null) {
      stopping.failure = 'the pool was closed';
      await stopping.worker.terminate();
    }
  }

  /** The live worker, started (again) when there is none or the last one failed. */
  private live(): HashWorker {
    if (this.current === null || this.current.failure !== null) this.current = new HashWorker();
    return this.current;
  }
}

/** The process's shared pool: SimDevice's default, so a fleet in one process shares one hashing thread. */
export const workerHashes = new WorkerHashPool();
