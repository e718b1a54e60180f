import type { ImageTarget } from '../../hal/image-target.js';
import { createAgent } from '../agent/agent.js';
import type { Agent } from '../agent/agent.js';
import type { SelfTest } from '../agent/context.js';
import type { AgentEvent } from '../agent/events.js';
import { apiOverHttp, fetcherOverHttp } from '../agent/http-adapter.js';
import type { Journal } from '../agent/journal.js';
import type { Policy } from '../agent/policy.js';
import { bundleFormat } from '../agent/sinks/bundle.js';
import { HttpClient } from '../http/client.js';
import { MD5_INCLUDED } from '../integrity/md5.js';
import { otaError } from '../util/errors.js';
import type { Clock } from '../util/clock.js';
import { espruinoClock } from './clock.js';
import { nativeHashes } from './native-hashes.js';
import type { EspruinoRuntime } from './runtime.js';
import { deviceRuntime } from './runtime.js';
import type { EspruinoEvent } from './tls-warning.js';
import { EspruinoTransport } from './transport.js';
import { espruinoTrust } from './trust.js';

// The agent wired for an Espruino board: sockets from require("net"/"tls"), bundles authenticated by HMAC-SHA256 over
// the native SHA-256 (unsigned ones refused unless allowUnsigned), a small working buffer, and load() as the reboot.

/** Options of createEspruinoAgent. */
export interface EspruinoAgentOptions {
  api: { baseUrl: string; projectKey: string };
  device: { serial: string; hardwareVersion: string };
  softwareType: string;
  targets: ImageTarget[];
  journal: Journal;
  /** The per-device HMAC key that bundle manifests are MACed with (COSE_Mac0); required unless allowUnsigned. */
  hmacKey?: Uint8Array | null;
  keyId?: Uint8Array | null;
  /** Development only: accept unsigned bundles. */
  allowUnsigned?: boolean;
  /** Sequence of the last confirmed bundle (anti-rollback); 0 when none. */
  installedSequence?: () => number;
  policy?: { [K in keyof Policy]?: Policy[K] };
  /** Agent events and the adapters' warnings (type "warning"). */
  onEvent?: (event: AgentEvent | EspruinoEvent) => void;
  /** The application's verdict on a trial boot: a promise of a boolean, or a boolean; a throw or no answer reverts. */
  selfTest?: SelfTest;
  /** Restarts into the new application; default load() (reset, then .bootcde runs the loader). */
  reboot?: () => Promise<void>;
  /** Working buffer in bytes (1 KiB and up); default 1024. */
  bufferSize?: number;
  /** Bytes the socket may queue ahead of the reader; default 8192. */
  maxQueuedBytes?: number;
  clock?: Clock;
  random?: () => number;
  runtime?: EspruinoRuntime;
}

declare function load(): void;

function reload(): Promise<void> {
  load();
  return Promise.resolve();
}

/**
 * Creates the agent for an Espruino device; throws `espruino-unsigned-refused` without an HMAC key or allowUnsigned, and
 * `espruino-md5-omitted` for policy.useLatestJson in a build without MD5 (the default Espruino build).
 */
export function createEspruinoAgent(options: EspruinoAgentOptions): Agent {
  if (!MD5_INCLUDED && options.policy !== undefined && options.policy.useLatestJson === true) {
    throw otaError('espruino-md5-omitted', 'policy.useLatestJson asks for releases/latest, whose MD5 this Espruino build cannot ' +
      'check (MD5 is left out); use the default releases/latest/url, or build with OTA_ESPRUINO_MD5=1.', false);
  }
  const runtime = options.runtime || deviceRuntime();
  const trust = espruinoTrust({ hmacKey: options.hmacKey, keyId: options.keyId, allowUnsigned: options.allowUnsigned, runtime: runtime });
  const clock = options.clock || espruinoClock(runtime);
  const transport = new EspruinoTransport({ runtime: runtime, onEvent: options.onEvent, maxQueuedBytes: options.maxQueuedBytes });
  // No keep-alive: an idle pooled socket keeps its listeners' scopes (and, over TLS, 32 KB of record buffers) while the
  // next request opens another, and the API and the payload host differ anyway.
  const client = new HttpClient({ transport: transport, clock: clock, keepAlive: false,
    bufferSize: options.bufferSize !== undefined ? options.bufferSize : 1024 });
  const installed = options.installedSequence;
  // Storage apps are kilobytes: at the core's 64 KiB spacing a power cut would never find a checkpoint to resume from.
  const policy: { [key: string]: unknown } = { checkpointBytes: 4096 };
  const given = options.policy as { [key: string]: unknown } | undefined;
  if (given !== undefined) {
    const keys = Object.keys(given);
    for (let i = 0; i < keys.length; i++) policy[keys[i]] = given[keys[i]];
  }
  return createAgent({
    api: options.api,
    device: options.device,
    softwareType: options.softwareType,
    transport: { http: apiOverHttp(client), fetcher: fetcherOverHttp(client) },
    targets: options.targets,
    journal: options.journal,
    clock: clock,
    random: options.random || Math.random,
    policy: policy as EspruinoAgentOptions['policy'],
    onEvent: options.onEvent,
    selfTest: options.selfTest,
    reboot: options.reboot || reload,
    // TLS on Espruino authenticates nothing: only the bundle signature does, so a raw image needs the same opt-in.
    allowUnsigned: trust.allowUnsigned === true,
    formats: [bundleFormat({
      trust: trust,
      hashes: nativeHashes({ runtime: runtime }),
      hardwareVersion: options.device.hardwareVersion,
      installedSequence: installed || function (): number { return 0; },
    })],
  });
}
