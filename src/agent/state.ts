import { asciiToBytes, bytesToAscii } from '../util/bytes.js';

// The agent's persisted state: what the journal stores, written before the agent acts on it (write-ahead).
// Encoded as ASCII JSON (non-ASCII escaped), small enough for one journal record.

/** The states of the update machine. */
export type Phase = 'idle' | 'checking' | 'downloading' | 'verifying' | 'staged' | 'rebooting' | 'trial' | 'confirmed' |
  'rolled-back' | 'backoff';

/** The release being installed. */
export interface ReleaseState {
  /** Stable identity of the artifact across URL refreshes: the URL path, or the md5 from /latest. */
  id: string;
  version: string | null;
  url: string;
  /** Clock time (ms) after which the URL is treated as expired; 0 when unknown. */
  urlExpiresAt: number;
  /** Payload size in bytes; -1 until the CDN or /latest told it. */
  size: number;
  md5: string | null;
  /** The CDN's validator (ETag, else Last-Modified) for If-Range; null when none was seen. */
  validator: string | null;
  /**
   * Download attempts for this release without progress; capped by the policy. Reset when the journaled durable
   * offset passes `reached`, so interruptions that each moved the download on never use the release up.
   */
  attempts: number;
  /** The furthest durable offset ever journaled for this release (a download restarted from 0 must pass it to count as progress). */
  reached?: number;
  /** Full restarts from zero (200 or 416 to a ranged request); a second one in a row is an error, not a loop. */
  restarts: number;
}

/** Progress of the download, checkpointed at durable offsets only. */
export interface DownloadState {
  /** Payload bytes known to be programmed and read back: the sink resumes here. */
  offset: number;
  /** Payload offset the running MD5 below covers (<= offset); a resume re-reads [hashOffset, offset) for it only. */
  hashOffset: number;
  /** Saved MD5 state (hex) at `hashOffset`, when the release lists an md5. */
  md5: string | null;
  /** 'raw' (a single image) or 'bundle'; null until the first bytes told. */
  format: string | null;
  /** The payload sink's own resume state (the bundle unpacker's), JSON. */
  sink: unknown;
  /** Software types to activate, in order, once verified (set by verifying). */
  activation?: string[];
  /** A verified bundle's parts and sequence (set by verifying), so activation after a power cut follows the manifest. */
  plan?: ReleasePlan | null;
}

/** One part of a verified bundle, as activation and confirmation need it (no target: the device maps it again). */
export interface PlannedPart {
  softwareType: string;
  version: string;
  order: number;
  requires: { softwareType: string; minVersion: string }[];
}

/** What a verified bundle installs: its parts and its anti-rollback sequence. */
export interface ReleasePlan {
  sequence: number;
  parts: PlannedPart[];
}

/** A trial boot in progress. */
export interface TrialState {
  /** Clock time (ms) by which the application must confirm, or the agent reverts. */
  deadline: number;
  /** The version the release installs, and the one it replaces. */
  version: string | null;
  previous: string | null;
  /** The bundle being tried (null for a raw image): confirmed through confirmRelease, its sequence stored after. */
  plan?: ReleasePlan | null;
}

/** Everything the journal keeps. */
export interface AgentState {
  v: number;
  phase: Phase;
  release: ReleaseState | null;
  download: DownloadState | null;
  trial: TrialState | null;
  /** Consecutive failed cycles, for exponential backoff. */
  failures: number;
  /** Clock time (ms) before which the agent does not check again. */
  notBefore: number;
  /** Code of the last error, for status displays. */
  lastError: string | null;
  /** The release ids that reached their attempt cap, newest last (bounded). */
  givenUp: string[];
  /** Sequence of the last confirmed bundle (anti-rollback floor), stored only once its confirmation is durable. */
  installedSequence?: number;
}

/** A fresh state: nothing installed, nothing pending. */
export function initialState(): AgentState {
  return { v: 1, phase: 'idle', release: null, download: null, trial: null, failures: 0, notBefore: 0, lastError: null, givenUp: [] };
}

// JSON.stringify leaves control characters escaped, so what is not printable ASCII is non-ASCII. Not /[\u0080-\uffff]/:
// Espruino's regex engine reads \u as the letter u, and that class escaped digits and letters, so no journal record
// parsed back there (the agent forgot every state at each restart).
function escapeNonAscii(json: string): string {
  return json.replace(/[^ -~]/g, function (c) {
    return '\\u' + ('0000' + c.charCodeAt(0).toString(16)).slice(-4);
  });
}

/** The state as journal payload bytes. */
export function encodeState(state: AgentState): Uint8Array {
  // Two passes (the escape finds nothing in the usual all-ASCII state), a few hundred bytes per journal record: less
  // code beats a fused loop on a device where every byte of code is RAM.
  return asciiToBytes(escapeNonAscii(JSON.stringify(state)));
}

/** Decodes journal payload bytes; null when they are not a state of this version. */
export function decodeState(bytes: Uint8Array): AgentState | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytesToAscii(bytes, 0, bytes.length));
  } catch {
    return null;
  }
  if (parsed === null || typeof parsed !== 'object') return null;
  const state = parsed as AgentState;
  if (state.v !== 1 || typeof state.phase !== 'string') return null;
  if (!(state.givenUp instanceof Array)) state.givenUp = [];
  return state;
}

/** A deep copy, so a step never mutates the state the driver persisted. */
export function cloneState(state: AgentState): AgentState {
  return JSON.parse(JSON.stringify(state)) as AgentState;
}
