// An outsider's integration of dist/ota-agent.es2020.js into QuickJS (quickjs-emscripten), written from the docs:
// the file is evaluated as a plain script (no CommonJS `module`, so it publishes the global OtaAgent), and the host
// gives the guest four bridges of its own: a transport (node:tls / node:net sockets), a flash (the bytes of a SimFlash
// the host bootloader also reads), a clock (host timers) and an event sink. Nothing here uses the project's own
// QuickJS harness, so what it finds is what a firmware engineer integrating the file would find.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { newQuickJSWASMModule, RELEASE_SYNC } from 'quickjs-emscripten';
import type { QuickJSContext, QuickJSDeferredPromise, QuickJSHandle, QuickJSRuntime, QuickJSWASMModule } from 'quickjs-emscripten';
import type { Flash } from '../../hal/flash.js';
import { buildEs2020 } from '../../scripts/build/es2020.mjs';
import type { DeviceLayout } from '../../hal/sim/layout.js';

let built: Promise<string> | null = null;
/** The file under test: dist/ota-agent.es2020.js as `npm run build` makes it from the current source (or OTA_ES2020_FILE). */
export function es2020Text(): Promise<string> {
  if (built === null) built = process.env.OTA_ES2020_FILE ? Promise.resolve(readFileSync(process.env.OTA_ES2020_FILE, 'utf8')) : buildEs2020();
  return built;
}

let wasm: Promise<QuickJSWASMModule> | null = null;
function quickjs(): Promise<QuickJSWASMModule> {
  if (wasm === null) wasm = newQuickJSWASMModule(RELEASE_SYNC);
  return wasm;
}

/** One A/B target of the guest: its software type, the host flash it lies in, and its windows (offset, length). */
export interface GuestTarget {
  softwareType: string;
  flash: number;
  records: [number, number];
  slots: [number, number][];
  runningSlot: number;
}

const w = (a: { offset: number; size: number }): [number, number] => [a.offset, a.size];

/** The windows of a SimMcu layout, for the guest. */
export function guestTarget(softwareType: string, flash: number, layout: DeviceLayout, runningSlot: number): GuestTarget {
  return { softwareType, flash, records: w(layout.records), slots: layout.slots.map(w), runningSlot };
}

/** The journal window of a SimMcu layout. */
export function journalWindow(layout: DeviceLayout): [number, number] {
  if (layout.journal === undefined) throw new Error('layout has no journal');
  return w(layout.journal);
}

/** What a host op that failed hands the guest: an OtaError-shaped object. */
function shaped(error: unknown): { code: string; message: string; retryable: boolean } {
  const e = error as { code?: unknown; message?: unknown };
  if (error !== null && typeof error === 'object' && typeof e.code === 'string' && typeof e.message === 'string') {
    return { code: e.code, message: e.message, retryable: (error as { retryable?: unknown }).retryable === true };
  }
  return { code: 'host-io', message: String(e?.message ?? error), retryable: true };
}

/** A socket with pull reads, as the Connection contract wants. */
class HostSocket {
  private queue: Buffer[] = [];
  private ended = false;
  private failure: Error | null = null;
  private waiter: (() => void) | null = null;
  received = 0;

  constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.queue.push(chunk);
      this.received += chunk.length;
      socket.pause();
      this.wake();
    });
    socket.on('end', () => { this.ended = true; this.wake(); });
    socket.on('close', () => { this.ended = true; this.wake(); });
    socket.on('error', (error) => { this.failure = error; this.wake(); });
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    if (w) w();
  }

  read(): Promise<Uint8Array | null> {
    const chunk = this.queue.shift();
    if (chunk !== undefined) {
      if (this.queue.length === 0) this.socket.resume();
      return Promise.resolve(new Uint8Array(chunk));
    }
    if (this.failure) return Promise.reject(Object.assign(this.failure, { code: 'connection-reset', retryable: true }));
    if (this.ended) return Promise.resolve(null);
    this.socket.resume();
    return new Promise<void>((resolve) => { this.waiter = resolve; }).then(() => this.read());
  }
}

/** Options of one boot of the guest. */
export interface GuestBootOptions {
  /** The script's text (default: the built file). */
  code?: string;
  memoryLimit?: number;
  /** Host flash parts the guest's windows lie in (the journal in the first). */
  flashes: Flash[];
  /** Agent configuration, passed to the guest glue as JSON. */
  config: GuestConfig;
  /** PEM roots the host's TLS trusts (the device's provisioned roots). */
  caPem?: string;
}

/** What the guest glue builds the agent from. */
export interface GuestConfig {
  baseUrl: string;
  projectKey: string;
  serial: string;
  hardwareVersion: string;
  softwareType: string;
  targets: GuestTarget[];
  journal: [number, number];
  /** HMAC key (hex) for bundles; none = bundles must be unsigned-allowed. */
  hmacKeyHex?: string;
  allowUnsigned?: boolean;
  /** The application's self-test verdict on a trial boot. */
  selfTest?: boolean;
  policy?: Record<string, unknown>;
}

/** A QuickJS VM holding the ES2020 file and the bridges. */
export class GuestDevice {
  readonly events: Record<string, unknown>[] = [];
  /** Host timers armed by the guest and not yet fired or cancelled. */
  readonly timers = new Map<number, { timeout: NodeJS.Timeout; hold: boolean; ms: number }>();
  readonly sockets = new Map<number, HostSocket>();
  /** Flash operations the guest made (writes + erases). */
  flashOps = 0;
  /** Bytes the guest's connections received so far. */
  received = 0;
  /** Called with the byte count after every socket chunk the host hands the guest. */
  onReceive: ((total: number) => void) | null = null;
  private deferreds = new Set<QuickJSDeferredPromise>();
  private nextId = 1;
  private dead = false;
  readonly failures: unknown[] = [];

  private constructor(readonly runtime: QuickJSRuntime, readonly ctx: QuickJSContext, private readonly options: GuestBootOptions) {}

  /** Makes a VM, evaluates the built file as a script, installs the bridges and the glue. */
  static async create(options: GuestBootOptions): Promise<GuestDevice> {
    const module = await quickjs();
    const runtime = module.newRuntime();
    runtime.setMemoryLimit(options.memoryLimit ?? 8 * 1024 * 1024);
    runtime.setMaxStackSize(256 * 1024);
    const ctx = runtime.newContext();
    const device = new GuestDevice(runtime, ctx, options);
    device.install();
    device.evaluate(options.code ?? await es2020Text(), 'ota-agent.es2020.js');
    return device;
  }

  /** Evaluates the glue and builds the agent from the config. */
  startAgent(): void {
    this.evaluate(GLUE_PARTS(), 'glue.js');
    this.evaluate('makeAgent(' + JSON.stringify(JSON.stringify({ ...this.options.config, flashCount: this.options.flashes.length })) + ')', 'make.js');
  }

  /** Evaluates `code`; throws the guest's exception as an Error with its dump. */
  evaluate(code: string, name: string): unknown {
    const result = this.ctx.evalCode(code, name);
    if (result.error) {
      const error = this.ctx.dump(result.error);
      result.error.dispose();
      throw Object.assign(new Error(name + ': ' + JSON.stringify(error)), { guest: error });
    }
    const value = this.ctx.dump(result.value);
    result.value.dispose();
    this.pump();
    return value;
  }

  /** Calls a guest expression that returns a promise; resolves with its JSON-parsed value. */
  async call(expression: string): Promise<any> {
    const result = this.ctx.evalCode('Promise.resolve(' + expression + ').then(function (v) { return JSON.stringify(v === undefined ? null : v); })', 'call.js');
    if (result.error) {
      const error = this.ctx.dump(result.error);
      result.error.dispose();
      throw Object.assign(new Error(JSON.stringify(error)), { guest: error });
    }
    const settled = this.ctx.resolvePromise(result.value);
    result.value.dispose();
    this.pump();
    const outcome = await settled;
    if (outcome.error) {
      const error = this.ctx.dump(outcome.error);
      outcome.error.dispose();
      throw Object.assign(new Error(JSON.stringify(error)), { guest: error });
    }
    const text = this.ctx.dump(outcome.value) as string;
    outcome.value.dispose();
    return JSON.parse(text);
  }

  /** Runs the guest's job queue dry. */
  pump(): void {
    if (this.dead) return;
    for (let i = 0; i < 1_000_000; i++) {
      const result = this.runtime.executePendingJobs();
      if (result.error) {
        this.failures.push(this.ctx.dump(result.error));
        result.error.dispose();
        return;
      }
      if (result.value === 0) return;
    }
  }

  /** Guest memory in use (bytes). */
  memoryUsed(): number {
    const handle = this.runtime.computeMemoryUsage();
    const usage = this.ctx.dump(handle) as { memory_used_size: number };
    handle.dispose();
    return usage.memory_used_size;
  }

  /** Power cut: the VM and its sockets vanish at once, every host operation in flight is dropped unperformed. */
  kill(): void {
    if (this.dead) return;
    this.dead = true;
    for (const t of this.timers.values()) clearTimeout(t.timeout);
    this.timers.clear();
    for (const s of this.sockets.values()) s.socket.destroy();
    this.sockets.clear();
    for (const d of this.deferreds) if (d.alive) d.dispose();
    this.deferreds.clear();
    this.ctx.dispose();
    this.runtime.dispose();
  }

  /** Frees the VM after a clean end (same as kill). */
  dispose(): void {
    this.kill();
  }

  private install(): void {
    const ctx = this.ctx;
    const async = ctx.newFunction('__host', (opH: QuickJSHandle, argsH: QuickJSHandle, bytesH?: QuickJSHandle) => {
      const op = ctx.getString(opH);
      const args = JSON.parse(ctx.getString(argsH));
      let bytes: Uint8Array | null = null;
      if (bytesH !== undefined && ctx.typeof(bytesH) === 'object') {
        const lifetime = ctx.getArrayBuffer(bytesH);
        bytes = new Uint8Array(lifetime.value.slice());
        lifetime.dispose();
      }
      const deferred = ctx.newPromise();
      this.deferreds.add(deferred);
      // The operation starts now (a timer is armed before the guest can cancel it), and settles later.
      let started: Promise<unknown>;
      try {
        started = Promise.resolve(this.hostOp(op, args, bytes));
      } catch (error) {
        started = Promise.reject(error);
      }
      started
        .then((value) => {
          if (this.dead || !deferred.alive) return;
          const handle = value instanceof Uint8Array ? ctx.newArrayBuffer(new Uint8Array(value).buffer)
            : value === undefined || value === null ? ctx.null : ctx.newString(JSON.stringify(value));
          deferred.resolve(handle);
          if (handle !== ctx.null) handle.dispose();
        }, (error: unknown) => {
          if (this.dead || !deferred.alive) return;
          const handle = ctx.newString(JSON.stringify(shaped(error)));
          deferred.reject(handle);
          handle.dispose();
        })
        .then(() => {
          this.deferreds.delete(deferred);
          if (this.dead) return;
          if (deferred.alive) deferred.dispose();
          this.pump();
        });
      return deferred.handle;
    });
    ctx.setProp(ctx.global, '__host', async);
    async.dispose();
    const sync = ctx.newFunction('__hostSync', (opH: QuickJSHandle, argsH: QuickJSHandle) => {
      const value = this.hostSync(ctx.getString(opH), JSON.parse(ctx.getString(argsH)));
      return value === undefined ? ctx.undefined : ctx.newString(JSON.stringify(value));
    });
    ctx.setProp(ctx.global, '__hostSync', sync);
    sync.dispose();
  }

  private hostSync(op: string, args: any): unknown {
    switch (op) {
      case 'event':
        this.events.push(args);
        return undefined;
      case 'timer.cancel': {
        const t = this.timers.get(args.id);
        if (t) clearTimeout(t.timeout);
        this.timers.delete(args.id);
        return undefined;
      }
      case 'net.close': {
        const s = this.sockets.get(args.id);
        if (s) s.socket.destroy();
        this.sockets.delete(args.id);
        return undefined;
      }
      case 'geometry':
        return this.options.flashes[args.flash].geometry;
      case 'timer.id':
        return this.nextId++;
      default:
        throw new Error('no sync host op ' + op);
    }
  }

  private hostOp(op: string, args: any, bytes: Uint8Array | null): Promise<unknown> | unknown {
    const flash = this.options.flashes[args.flash ?? 0];
    switch (op) {
      case 'flash.read':
        return flash.read(args.offset, args.length);
      case 'flash.write':
        this.flashOps++;
        return flash.write(args.offset, bytes as Uint8Array);
      case 'flash.erase':
        this.flashOps++;
        return flash.erase(args.offset, args.length);
      case 'timer': {
        return new Promise<void>((resolve) => {
          const timeout = setTimeout(() => { this.timers.delete(args.id); resolve(); }, args.ms);
          this.timers.set(args.id, { timeout, hold: args.hold === true, ms: args.ms });
        });
      }
      case 'net.connect':
        return this.connect(args);
      case 'net.write': {
        const s = this.sockets.get(args.id);
        if (!s) return Promise.reject({ code: 'connection-closed', message: 'The connection is closed.', retryable: true });
        return new Promise<void>((resolve, reject) => s.socket.write(bytes as Uint8Array, (e) => (e ? reject(e) : resolve())));
      }
      case 'net.read': {
        const s = this.sockets.get(args.id);
        if (!s) return Promise.resolve(null);
        return s.read().then((chunk) => {
          if (chunk !== null) {
            this.received += chunk.length;
            if (this.onReceive) this.onReceive(this.received);
          }
          return chunk;
        });
      }
      default:
        return Promise.reject(new Error('no host op ' + op));
    }
  }

  private connect(args: { host: string; port: number; tls: boolean; servername?: string; timeoutMs: number }): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      const id = this.nextId++;
      const onError = (error: NodeJS.ErrnoException): void => {
        reject({ code: error.code === 'ECONNREFUSED' ? 'connection-refused' : 'connect-failed', message: error.message, retryable: true });
      };
      const socket = args.tls
        ? tls.connect({ host: args.host, port: args.port, ca: this.options.caPem, servername: net.isIP(args.host) ? undefined : (args.servername ?? args.host) }, () => done())
        : net.connect({ host: args.host, port: args.port }, () => done());
      socket.once('error', onError);
      const done = (): void => {
        socket.off('error', onError);
        this.sockets.set(id, new HostSocket(socket));
        resolve(id);
      };
    });
  }
}

/** The integration example of docs/portability.md, the block after the `es2020-example` marker, verbatim. */
export function docExample(): string {
  const text = readFileSync(new URL('../../docs/portability.md', import.meta.url), 'utf8');
  const marker = text.indexOf('<!-- es2020-example');
  if (marker < 0) throw new Error('docs/portability.md has no es2020-example block');
  const start = text.indexOf('```js\n', marker);
  const end = text.indexOf('\n```', start + 6);
  if (start < 0 || end < 0) throw new Error('docs/portability.md: the es2020-example block is not a ```js fence');
  return text.slice(start + 6, end + 1);
}

// What a firmware provides natively (host.flash[i], host.net, host.timer, host.event), here over the bridge.
const HOST_SHIM = String.raw`
var host = {
  flash: [],
  net: {
    connect: function (h, port, tls, servername) {
      return __host('net.connect', JSON.stringify({ host: h, port: port, tls: tls, servername: servername })).then(function (t) { return JSON.parse(t); });
    },
    read: function (id) { return __host('net.read', JSON.stringify({ id: id })); },
    write: function (id, buffer) { return __host('net.write', JSON.stringify({ id: id }), buffer).then(function () {}); },
    close: function (id) { __hostSync('net.close', JSON.stringify({ id: id })); }
  },
  timer: {
    start: function (ms, fire) {
      var id = JSON.parse(__hostSync('timer.id', '{}'));
      __host('timer', JSON.stringify({ id: id, ms: ms })).then(function () { fire(); });
      return id;
    },
    cancel: function (id) { __hostSync('timer.cancel', JSON.stringify({ id: id })); }
  },
  event: function (event) { __hostSync('event', JSON.stringify(event)); }
};
function hostFlashPart(f) {
  return {
    geometry: JSON.parse(__hostSync('geometry', JSON.stringify({ flash: f }))),
    read: function (offset, length) { return __host('flash.read', JSON.stringify({ flash: f, offset: offset, length: length })); },
    write: function (offset, buffer) { return __host('flash.write', JSON.stringify({ flash: f, offset: offset }), buffer).then(function () {}); },
    erase: function (offset, length) { return __host('flash.erase', JSON.stringify({ flash: f, offset: offset, length: length })).then(function () {}); }
  };
}
var app = { verdict: true, selfTest: function () { return Promise.resolve(app.verdict); } };
`;

// The test's driver: builds the device description and keeps the agent in a global for call().
const DRIVER = String.raw`
var ota = null;
var agent = null;
var device = null;
function makeAgent(text) {
  var c = JSON.parse(text);
  device = c;
  for (var i = 0; i < c.flashCount; i++) host.flash[i] = hostFlashPart(i);
  c.flash = host.flash;
  app.verdict = c.selfTest !== false;
  ota = startOta(c);
  agent = ota.agent;
}
`;

const GLUE_PARTS = (): string => HOST_SHIM + docExample() + DRIVER;
