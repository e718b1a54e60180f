import type { ImagePart, ImageTarget, ImageWriter, TargetStatus } from '../../hal/image-target.js';
import { uniformGeometry } from '../../hal/flash.js';
import { SimFlash } from '../../hal/sim/sim-flash.js';
import type { ApiHttp, ApiResponse } from '../../src/api/http-port.js';
import type { FetchRequest, PayloadFetcher } from '../../src/agent/fetch-port.js';
import { Journal } from '../../src/agent/journal.js';
import { asciiToBytes } from '../../src/util/bytes.js';
import { otaError } from '../../src/util/errors.js';
import type { Clock } from '../../src/util/clock.js';

/** A clock whose sleeps return at once, moving time forward. */
export class InstantClock implements Clock {
  constructor(public time = 1_700_000_000_000) {}
  now(): number { return this.time; }
  sleep(ms: number): Promise<void> {
    // A macrotask later, so work that settles in microtasks (a self-test) wins a race against a deadline.
    return new Promise((resolve) => setImmediate(() => { this.time += Math.max(0, ms); resolve(); }));
  }
}

/** An in-memory A/B target: sector-buffered writer, pending/trial/confirmed bookkeeping, a reboot. */
export class FakeTarget implements ImageTarget {
  running: { version: string; bytes: Uint8Array } | null;
  trialRunning = false;
  staged = new Uint8Array(0);
  stagedPart: ImagePart | null = null;
  stagedState: 'empty' | 'writing' | 'staged' | 'pending' = 'empty';
  previous: { version: string; bytes: Uint8Array } | null = null;
  writes = 0;
  /** When true, the next trial boot crashes and the old image comes back. */
  crashOnBoot = false;
  /** Corrupts the staged byte at this offset when finishing (flash fault). */
  corruptAt = -1;
  /** The image the read-back check expects (stands in for the release's SHA-256). */
  expected: Uint8Array | null = null;

  constructor(readonly softwareType: string, version: string, readonly sector = 64, readonly cap = 1 << 20) {
    this.running = { version, bytes: new Uint8Array(0) };
  }

  capacity(): number { return this.cap; }

  status(): Promise<TargetStatus> {
    return Promise.resolve({ softwareType: this.softwareType, runningVersion: this.running ? this.running.version : null, trial: this.trialRunning });
  }

  begin(part: ImagePart, resumeAt: number): Promise<ImageWriter> {
    if (resumeAt !== 0 && resumeAt !== part.size && resumeAt % this.sector !== 0) return Promise.reject(otaError('resume-unaligned', 'bad resume', false));
    if (resumeAt === 0) {
      this.staged = new Uint8Array(part.size);
      this.stagedState = 'writing';
    } else if (this.stagedState !== 'writing' || this.staged.length !== part.size) {
      return Promise.reject(otaError('resume-mismatch', 'not writing this image', false));
    }
    this.stagedPart = part;
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    let pos = resumeAt;
    let durable = resumeAt;
    const buffer: number[] = [];
    return Promise.resolve({
      write(chunk: Uint8Array): Promise<void> {
        for (const b of chunk) buffer.push(b);
        while (buffer.length > 0 && (pos % self.sector !== 0 || buffer.length >= self.sector)) {
          const n = Math.min(self.sector - (pos % self.sector), buffer.length);
          self.staged.set(buffer.splice(0, n), pos);
          pos += n;
          if (pos % self.sector === 0) durable = pos;
        }
        self.writes++;
        return Promise.resolve();
      },
      durableOffset(): number { return durable; },
      finish(): Promise<void> {
        self.staged.set(buffer.splice(0), pos);
        pos = part.size;
        durable = part.size;
        if (self.corruptAt >= 0) self.staged[self.corruptAt] ^= 1;
        if (self.expected !== null && Buffer.compare(Buffer.from(self.expected), Buffer.from(self.staged)) !== 0) {
          return Promise.reject(otaError('image-sha256-mismatch', 'read-back differs from the release', true));
        }
        self.stagedState = 'staged';
        return Promise.resolve();
      },
    });
  }

  activate(): Promise<void> {
    if (this.stagedState !== 'staged') return Promise.reject(otaError('nothing-staged', 'nothing staged', false));
    this.stagedState = 'pending';
    return Promise.resolve();
  }

  confirm(): Promise<void> {
    this.trialRunning = false;
    return Promise.resolve();
  }

  /** The bootloader: a pending image boots as a trial; an unconfirmed trial reverts. */
  reboot(): void {
    if (this.trialRunning) {
      this.running = this.previous;
      this.trialRunning = false;
      return;
    }
    if (this.stagedState === 'pending') {
      this.stagedState = 'empty';
      if (this.crashOnBoot) return;
      this.previous = this.running;
      this.running = { version: this.stagedPart?.version || 'unknown', bytes: this.staged };
      this.trialRunning = true;
    }
  }
}

/** A CDN fake over a byte array: Range, If-Range, ETag, faults. */
export class FakeCdn implements PayloadFetcher {
  requests: { offset: number; end: number; validator: string | null }[] = [];
  bytesSent = 0;
  etag = '"v1"';
  /** Drop the connection after this many body bytes in the next requests (one entry per request). */
  drops: number[] = [];
  /** Statuses to answer before serving (one per request). */
  statuses: number[] = [];
  ignoreRange = false;
  chunk = 100;

  constructor(public payload: Uint8Array) {}

  fetch(request: FetchRequest): Promise<void> {
    this.requests.push({ offset: request.offset, end: request.end, validator: request.validator });
    const status = this.statuses.shift();
    if (status !== undefined) return Promise.reject(otaError('http-status', 'status ' + status, status >= 500, { status }));
    let start = request.offset;
    const end = request.end >= 0 ? Math.min(request.end, this.payload.length) : this.payload.length;
    let partial = start > 0 || request.end >= 0;
    if (this.ignoreRange || (request.validator !== null && request.validator !== this.etag)) { start = 0; partial = false; }
    if (partial && start >= this.payload.length) return Promise.reject(otaError('http-status', '416', false, { status: 416 }));
    const stopAt = partial ? end : this.payload.length;
    const drop = this.drops.shift();
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    return request.start({ offset: start, partial, total: this.payload.length, validator: this.etag }).then(function () {
      let at = start;
      function next(): Promise<void> {
        if (at >= stopAt || request.cancelled()) return Promise.resolve();
        let n = Math.min(self.chunk, stopAt - at);
        if (drop !== undefined && drop >= 0) {
          const left = start + drop - at;
          if (left <= 0) return Promise.reject(otaError('connection-reset', 'dropped', true));
          n = Math.min(n, left);
        }
        const piece = new Uint8Array(self.payload.subarray(at, at + n));
        at += n;
        self.bytesSent += n;
        return request.data(piece).then(next);
      }
      return next();
    });
  }
}

/** A device API fake: answers from a function of the query. */
export class FakeApi implements ApiHttp {
  calls: string[] = [];
  constructor(public answer: (url: string) => ApiResponse) {}
  get(url: string): Promise<ApiResponse> {
    this.calls.push(url);
    return Promise.resolve(this.answer(url));
  }
}

/** A text response. */
export function text(status: number, body: string, headers: { [name: string]: string } = {}): ApiResponse {
  return { status, headers, body: asciiToBytes(body) };
}

/** A journal over a fresh SimFlash of `sectors` x `size`. */
export function makeJournal(size = 1024, sectors = 2, align = 4): { flash: SimFlash; journal: Journal } {
  const flash = new SimFlash(uniformGeometry(size, sectors, align, 0xff));
  return { flash, journal: new Journal(flash) };
}

/** Deterministic bytes. */
export function payloadOf(size: number, seed = 1): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; out[i] = x & 0xff; }
  return out;
}
