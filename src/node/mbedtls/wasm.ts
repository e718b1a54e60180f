// Loads mbedtls/build/ota-mbedtls.wasm (built by mbedtls/build.sh) and wraps one instance of it: the module is
// compiled once per process, each engine is one instance holding any number of sessions one after another.
import { webcrypto } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { otaError } from '../../util/errors.js';

// The project's lib (ES2022, Node types) has no WebAssembly declarations; these are the few parts used here.
/** A compiled wasm module (opaque). */
export type WasmModule = object;
/** Linear memory of an instance. */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
interface WasmApi {
  compile(bytes: Uint8Array): Promise<WasmModule>;
  Instance: new (module: WasmModule, imports: object) => { exports: object };
}
const wasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** The functions glue.c exports (pointers and sizes are numbers; see glue.c for each one's contract). */
export interface MbedTlsExports {
  memory: WasmMemory;
  _initialize(): void;
  ota_alloc(size: number): number;
  ota_dealloc(ptr: number): void;
  ota_heap_bytes(): number;
  ota_heap_blocks(): number;
  ota_ciphersuite_id(name: number): number;
  ota_ciphersuite_name_of(id: number): number;
  ota_session_new(): number;
  ota_add_ca(s: number, der: number, len: number): number;
  ota_add_ciphersuite(s: number, id: number): number;
  ota_add_group(s: number, id: number): number;
  ota_setup(s: number, hostname: number, minMinor: number, maxMinor: number, mflCode: number, inContentLen: number, sni: number): number;
  ota_in_ptr(s: number): number;
  ota_in_space(s: number): number;
  ota_in_commit(s: number, n: number): void;
  ota_in_eof(s: number): void;
  ota_out_ptr(s: number): number;
  ota_out_len(s: number): number;
  ota_out_consume(s: number, n: number): void;
  ota_io_ptr(s: number): number;
  ota_io_cap(): number;
  ota_handshake(s: number): number;
  ota_handshake_over(s: number): number;
  ota_read(s: number, len: number): number;
  ota_bytes_avail(s: number): number;
  ota_write(s: number, len: number): number;
  ota_close_notify(s: number): number;
  ota_session_free(s: number): void;
  ota_verify_result(s: number): number;
  ota_version(s: number): number;
  ota_ciphersuite(s: number): number;
  ota_alpn(s: number): number;
  ota_alert_received(s: number): number;
  ota_alert_sent(s: number): number;
  ota_max_in_record(s: number): number;
  ota_peer_cert(s: number, index: number): number;
  ota_peer_cert_len(s: number, index: number): number;
}

/** What the wasm module asks of its host. */
export interface MbedTlsHost {
  /** Milliseconds since the Unix epoch, by the clock the device believes (certificate validity is judged by it). */
  now(): number;
}

/** File name of the built module inside mbedtls/build/. */
export const MBEDTLS_WASM_FILE = 'ota-mbedtls.wasm';

/** The Debian packages the build needs; named in every "not built" message. */
export const MBEDTLS_APT_PACKAGES = 'dpkg-dev clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32 make';

/**
 * The project root: the nearest directory above this file holding mbedtls/build.sh (a checkout, from src/ or dist/)
 * or the built module (an installed package ships the wasm but not the build script).
 */
export function projectRoot(from?: string): string {
  let dir = from ?? dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    if (existsSync(join(dir, 'mbedtls', 'build.sh')) || existsSync(join(dir, 'mbedtls', 'build', MBEDTLS_WASM_FILE))) return dir;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return process.cwd();
}

/** Where the built module is expected: OTA_MBEDTLS_WASM, else mbedtls/build/ota-mbedtls.wasm under the project root. */
export function mbedTlsWasmPath(): string {
  const fromEnv = process.env.OTA_MBEDTLS_WASM;
  if (fromEnv !== undefined && fromEnv !== '') return resolve(fromEnv);
  return join(projectRoot(), 'mbedtls', 'build', MBEDTLS_WASM_FILE);
}

const modules: { [path: string]: Promise<WasmModule> } = {};

/** Compiles the module at `path` once per process; rejects with `mbedtls-not-built` naming the build command. */
export function loadMbedTlsModule(path: string = mbedTlsWasmPath()): Promise<WasmModule> {
  const cached = modules[path];
  if (cached !== undefined) return cached;
  if (!existsSync(path)) {
    return Promise.reject(otaError('mbedtls-not-built', `The mbedTLS wasm module ${path} does not exist. Build it with "npm run build:mbedtls" ` +
      `(needs the Debian packages: ${MBEDTLS_APT_PACKAGES}).`, false, { path }));
  }
  const loading = wasmApi.compile(readFileSync(path));
  modules[path] = loading;
  loading.catch(() => { delete modules[path]; });
  return loading;
}

// crypto.getRandomValues fills at most 65,536 bytes per call.
const RANDOM_CHUNK = 65536;

/** One instance of the module: its memory, its exports and helpers to move bytes and strings across. */
export class MbedTlsEngine {
  /** Set once a call trapped: the instance's state is unknown and it must not be used again. */
  broken = false;

  private constructor(readonly exports: MbedTlsExports) {}

  /** Instantiates `module` with `host` providing the clock. */
  static create(module: WasmModule, host: MbedTlsHost): MbedTlsEngine {
    let engine: MbedTlsEngine | null = null;
    const imports = {
      ota: {
        random: (ptr: number, len: number): void => {
          const memory = (engine as MbedTlsEngine).exports.memory;
          for (let done = 0; done < len; done += RANDOM_CHUNK) {
            webcrypto.getRandomValues(new Uint8Array(memory.buffer, ptr + done, Math.min(RANDOM_CHUNK, len - done)));
          }
        },
        now_s: (): number => Math.floor(host.now() / 1000),
        now_ms: (): number => host.now(),
      },
    };
    const instance = new wasmApi.Instance(module, imports);
    engine = new MbedTlsEngine(instance.exports as unknown as MbedTlsExports);
    engine.exports._initialize();
    return engine;
  }

  /** A fresh view of `len` bytes at `ptr` (views go stale when memory grows, so never keep one). */
  view(ptr: number, len: number): Uint8Array {
    return new Uint8Array(this.exports.memory.buffer, ptr, len);
  }

  /** A copy of `len` bytes at `ptr`. */
  copyOut(ptr: number, len: number): Uint8Array {
    return new Uint8Array(this.exports.memory.buffer.slice(ptr, ptr + len));
  }

  /** The NUL-terminated string at `ptr` ("" for NULL). */
  string(ptr: number): string {
    if (ptr === 0) return '';
    const bytes = new Uint8Array(this.exports.memory.buffer);
    let end = ptr;
    while (end < bytes.length && bytes[end] !== 0) end++;
    return Buffer.from(bytes.buffer, ptr, end - ptr).toString('latin1');
  }

  /** Copies `bytes` into fresh wasm memory (caller frees with `free`), or throws when memory is exhausted. */
  allocBytes(bytes: Uint8Array, extra: number = 0): number {
    const ptr = this.exports.ota_alloc(bytes.length + extra);
    if (ptr === 0) throw otaError('mbedtls-out-of-memory', `The mbedTLS instance could not allocate ${bytes.length + extra} bytes.`, true);
    this.view(ptr, bytes.length).set(bytes);
    return ptr;
  }

  /** Copies `text` as a NUL-terminated string into fresh wasm memory. */
  allocString(text: string): number {
    return this.allocBytes(Buffer.from(text, 'latin1'), 1);
  }

  /** Frees memory from allocBytes/allocString. */
  free(ptr: number): void {
    this.exports.ota_dealloc(ptr);
  }

  /** Bytes of wasm linear memory (it only ever grows). */
  memoryBytes(): number {
    return this.exports.memory.buffer.byteLength;
  }

  /** Bytes and blocks mbedTLS and the glue hold right now. */
  heap(): { bytes: number; blocks: number } {
    return { bytes: this.exports.ota_heap_bytes() >>> 0, blocks: this.exports.ota_heap_blocks() >>> 0 };
  }
}
