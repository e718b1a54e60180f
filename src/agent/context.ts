import type { ImageTarget } from '../../hal/image-target.js';
import type { ApiConfig } from '../api/device-api.js';
import type { ApiHttp } from '../api/http-port.js';
import type { Clock, Random } from '../util/clock.js';
import type { AgentEvent } from './events.js';
import type { PayloadFetcher } from './fetch-port.js';
import type { Journal } from './journal.js';
import type { Policy } from './policy.js';
import type { Md5 } from '../integrity/md5.js';
import type { PayloadSink, SinkFormat } from './sinks/sink.js';
import type { AgentState } from './state.js';

// What every state function receives: the configuration, the ports, and the few things held in RAM for one
// boot (the open payload sink). Everything that must survive a power cut is in AgentState instead.

/** The device's identity as the API sees it. */
export interface DeviceIdentity {
  serial: string;
  hardwareVersion: string;
}

/** The application's verdict on a trial boot: true confirms; false, a throw or a rejection reverts. */
export type SelfTest = () => Promise<boolean> | boolean;

/** A download in progress in RAM: the open sink and the running MD5 at `pos`. */
export interface LiveDownload {
  releaseId: string;
  sink: PayloadSink | null;
  /** Next payload offset expected from the wire. */
  pos: number;
  md5: Md5 | null;
  /** First bytes held back until the format is known. */
  head: Uint8Array | null;
  snapshots: Snapshot[];
  /** Durable offset last persisted. */
  durable: number;
  /** Set once download-started was reported: a retry from byte 0 (a re-asked link, a drop before the body) is the same download. */
  announced?: boolean;
  /** Why the download went back to byte 0 (validator-changed, range-ignored, range-not-satisfiable), until reported. */
  restarted?: string;
}

/** The running MD5 at a payload offset. */
export interface Snapshot {
  offset: number;
  md5: Uint8Array | null;
}

/** Shared by the state functions of one agent instance. */
export interface AgentContext {
  api: ApiConfig;
  device: DeviceIdentity;
  softwareType: string;
  http: ApiHttp;
  fetcher: PayloadFetcher;
  targets: ImageTarget[];
  journal: Journal;
  clock: Clock;
  random: Random;
  policy: Policy;
  formats: SinkFormat[];
  selfTest: SelfTest | null;
  /** Reboots the device; null when the application reboots by itself after the cycle. */
  reboot: (() => Promise<void>) | null;
  emit(event: AgentEvent): void;
  /** Persists a checkpoint of `state` to the journal (the driver persists each transition itself). */
  save(state: AgentState): Promise<void>;
  /** True once stop() was called. */
  cancelled(): boolean;
  /** The transfer kept in RAM during this boot, so a dropped link resumes exactly where it stopped. */
  live: LiveDownload | null;
  /** Ends the wait in progress (the trial's verdict) at once: stop() calls it. */
  interrupt: (() => void) | null;
  /**
   * The artifact the device API offered in this run (not journaled): a download found only in the journal, after a
   * restart or a stop, was not asked about, so `downloading` asks first and a withdrawn release is not resumed.
   */
  askedFor?: string | null;
  /** Set by the step that asked for a reboot; ends the cycle. */
  rebootRequested: boolean;
  /** Last progress event time, for throttling. */
  lastProgressAt: number;
}

/** A state function: reads the persisted state, acts, and returns the next state (never mutating its input). */
export type Step = (ctx: AgentContext, state: AgentState) => Promise<AgentState>;
