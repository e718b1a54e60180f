// A QuickJS VM (quickjs-emscripten) holding one of the portable bundles, with a memory limit and a small bridge:
// the guest calls __host(op, json, bytes?) and gets a promise of a JSON string or an ArrayBuffer; the host resolves
// it when its I/O completes and pumps the job queue. Guest code talks to the bundle through guest-ports.ts.
import { newQuickJSWASMModule, RELEASE_SYNC } from 'quickjs-emscripten';
import type { QuickJSContext, QuickJSHandle, QuickJSRuntime } from 'quickjs-emscripten';

/** What a host operation resolves with: JSON-able data, bytes, or nothing. */
export type HostResult = unknown;

/** Host operations by name; each takes the parsed JSON arguments and the guest's bytes, if any. */
export type HostOps = { [op: string]: (args: any, bytes: Uint8Array | null) => Promise<HostResult> | HostResult };

/** Marks bytes so the bridge hands the guest an ArrayBuffer instead of JSON. */
export class HostBytes {
  constructor(readonly bytes: Uint8Array) {}
}

/** A VM with a bundle loaded as the global OtaAgent. */
export class GuestVm {
  private pending = 0;
  private failures: unknown[] = [];
  private deferreds = new Set<{ alive: boolean; dispose(): void }>();

  private constructor(readonly runtime: QuickJSRuntime, readonly context: QuickJSContext, private readonly ops: HostOps) {}

  /** Creates a VM limited to `memoryLimit` bytes, installs the bridge, and evaluates `bundle` then `glue`. */
  static async create(options: { bundle: string; name: string; glue: string; ops: HostOps; memoryLimit: number }): Promise<GuestVm> {
    const module = await newQuickJSWASMModule(RELEASE_SYNC);
    const runtime = module.newRuntime();
    runtime.setMemoryLimit(options.memoryLimit);
    runtime.setMaxStackSize(512 * 1024);
    const context = runtime.newContext();
    const vm = new GuestVm(runtime, context, options.ops);
    vm.install();
    vm.evaluate('var module = { exports: {} }; var exports = module.exports;', 'prelude.js');
    vm.evaluate(options.bundle, options.name);
    vm.evaluate('var OtaAgent = module.exports;', 'export.js');
    vm.evaluate(options.glue, 'guest-ports.js');
    return vm;
  }

  private install(): void {
    const ctx = this.context;
    const host = ctx.newFunction('__host', (opHandle: QuickJSHandle, jsonHandle: QuickJSHandle, bytesHandle?: QuickJSHandle) => {
      const op = ctx.getString(opHandle);
      const args = JSON.parse(ctx.getString(jsonHandle));
      let bytes: Uint8Array | null = null;
      if (bytesHandle !== undefined && ctx.typeof(bytesHandle) === 'object') {
        const lifetime = ctx.getArrayBuffer(bytesHandle);
        bytes = new Uint8Array(lifetime.value);
        lifetime.dispose();
      }
      const deferred = ctx.newPromise();
      this.deferreds.add(deferred);
      const impl = this.ops[op];
      this.pending++;
      Promise.resolve()
        .then(() => {
          if (impl === undefined) throw new Error('no host op ' + op);
          return impl(args, bytes);
        })
        .then(
          (value) => {
            if (!deferred.alive) return;
            // Exactly the view's bytes: `.buffer` of a view (Buffer#slice shares memory) is its whole backing buffer.
            const handle = value instanceof HostBytes ? ctx.newArrayBuffer(new Uint8Array(value.bytes).buffer) : ctx.newString(JSON.stringify(value === undefined ? null : value));
            deferred.resolve(handle);
            handle.dispose();
          },
          (error: unknown) => {
            if (!deferred.alive) return;
            const e = error as { code?: unknown; message?: unknown; retryable?: unknown; details?: unknown };
            const shaped = error !== null && typeof error === 'object' && typeof e.code === 'string'
              ? { code: e.code, message: String(e.message), retryable: e.retryable === true, details: e.details }
              : { code: 'host-error', message: String((error as Error)?.message ?? error), retryable: true };
            const handle = ctx.newString(JSON.stringify(shaped));
            deferred.reject(handle);
            handle.dispose();
          },
        )
        .then(() => {
          this.deferreds.delete(deferred);
          if (!this.context.alive) return;
          if (deferred.alive) deferred.dispose();
          this.pending--;
          this.pump();
        });
      return deferred.handle;
    });
    ctx.setProp(ctx.global, '__host', host);
    host.dispose();
    const sync = ctx.newFunction('__hostSync', (opHandle: QuickJSHandle, jsonHandle: QuickJSHandle) => {
      const op = ctx.getString(opHandle);
      const value = this.ops[op](JSON.parse(ctx.getString(jsonHandle)), null);
      return ctx.newString(JSON.stringify(value === undefined ? null : value));
    });
    ctx.setProp(ctx.global, '__hostSync', sync);
    sync.dispose();
  }

  /** Runs pending guest jobs until none is left. */
  pump(): void {
    for (let i = 0; i < 1_000_000; i++) {
      const result = this.runtime.executePendingJobs();
      if (result.error) {
        this.failures.push(this.context.dump(result.error));
        result.error.dispose();
        return;
      }
      if (result.value === 0) return;
    }
  }

  /** Evaluates a script; throws what the guest threw. */
  evaluate(code: string, name: string): void {
    const result = this.context.evalCode(code, name);
    if (result.error) {
      const error = this.context.dump(result.error);
      result.error.dispose();
      throw new Error(`${name}: ${JSON.stringify(error)}`);
    }
    result.value.dispose();
    this.pump();
  }

  /**
   * Calls the global guest function `name` with JSON arguments; it returns a promise (or a value) of JSON-able data.
   * Resolves with the parsed result, rejects with the guest's rejection.
   */
  async call(name: string, args: unknown): Promise<any> {
    const ctx = this.context;
    const result = ctx.evalCode(`__callJson(${JSON.stringify(name)}, ${JSON.stringify(JSON.stringify(args))})`, 'call.js');
    if (result.error) {
      const error = ctx.dump(result.error);
      result.error.dispose();
      throw new Error(JSON.stringify(error));
    }
    const promise = result.value;
    const settled = ctx.resolvePromise(promise);
    promise.dispose();
    this.pump();
    const outcome = await settled;
    if (outcome.error) {
      const error = ctx.dump(outcome.error);
      outcome.error.dispose();
      throw typeof error === 'string' ? JSON.parse(error) : error;
    }
    const text = ctx.getString(outcome.value);
    outcome.value.dispose();
    return JSON.parse(text);
  }

  /** Bytes of memory the guest uses now. */
  memoryUsed(): number {
    const handle = this.runtime.computeMemoryUsage();
    const usage = this.context.dump(handle) as { memory_used_size: number };
    handle.dispose();
    return usage.memory_used_size;
  }

  /** Errors thrown by guest jobs outside any awaited promise. */
  jobFailures(): unknown[] {
    return this.failures;
  }

  /** Host operations still in flight. */
  inFlight(): number {
    return this.pending;
  }

  /** Frees the VM (host operations still in flight are abandoned). */
  dispose(): void {
    for (const deferred of this.deferreds) if (deferred.alive) deferred.dispose();
    this.deferreds.clear();
    this.runtime.executePendingJobs();
    this.context.dispose();
    this.runtime.dispose();
  }
}
