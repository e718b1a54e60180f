// What the agent tells a UI or a log. One plain object per event, with a `type` to branch on: `AgentEvent` is a
// discriminated union, so `if (event.type === 'download-progress')` narrows to the fields that event carries.

/** Fields every event has. */
interface EventBase {
  /** Clock time of the event (ms). */
  at: number;
}

/** A check of the device API begins. */
export interface CheckingEvent extends EventBase {
  type: 'checking';
}

/** The device API offers nothing new (or only a release this device installed or gave up before). */
export interface UpToDateEvent extends EventBase {
  type: 'up-to-date';
  /** The release answered, when it was one installed or given up before. */
  version?: string | null;
  /** The server's memfault-reason, or release-withdrawn / release-installed-before / release-rejected-before. */
  reason?: string;
}

/** The device API offers a release. */
export interface UpdateAvailableEvent extends EventBase {
  type: 'update-available';
  /** The release version; null through /releases/latest/url, which names none. */
  version: string | null;
  /** Payload size in bytes; -1 when the API does not give it (/releases/latest/url). */
  total: number;
}

/** The payload's response began (after its headers). */
export interface DownloadStartedEvent extends EventBase {
  type: 'download-started';
  version: string | null;
  total: number;
  /** After a resume: why it went back to byte 0 (validator-changed, range-ignored, range-not-satisfiable). */
  reason?: string;
}

/** Bytes received so far (throttled by the policy's progressIntervalMs). */
export interface DownloadProgressEvent extends EventBase {
  type: 'download-progress';
  version: string | null;
  received: number;
  total: number;
}

/** A download continues from a journaled offset with a Range request. */
export interface DownloadResumedEvent extends EventBase {
  type: 'download-resumed';
  version: string | null;
  /** The byte offset the download continues from. */
  offset: number;
  total: number;
}

/** Every part's digest matched what flash read back. */
export interface VerifiedEvent extends EventBase {
  type: 'verified';
  version: string | null;
  total: number;
}

/** The new image is recorded as the next boot's trial. */
export interface StagedEvent extends EventBase {
  type: 'staged';
  version: string | null;
}

/** The agent asks the device to reboot (into a trial, or back to the confirmed image). */
export interface RebootingEvent extends EventBase {
  type: 'rebooting';
  version: string | null;
}

/** The device runs a trial image that still needs confirming. */
export interface TrialStartedEvent extends EventBase {
  type: 'trial-started';
  version: string | null;
}

/** The trial image was confirmed: it is the running release now. */
export interface ConfirmedEvent extends EventBase {
  type: 'confirmed';
  version: string | null;
}

/** A trial was reverted; the device runs its previous image. */
export interface RolledBackEvent extends EventBase {
  type: 'rolled-back';
  version: string | null;
  /** Why, as an error code (crash loop, health deadline, a failed part). */
  reason?: string;
}

/** A failure: the next attempt waits this long. */
export interface BackoffEvent extends EventBase {
  type: 'backoff';
  /** Milliseconds until the next attempt. */
  delayMs: number;
  /** The error that caused it. */
  code: string;
}

/** The journal recorded a new phase. */
export interface StateEvent extends EventBase {
  type: 'state';
  /** The phase just persisted. */
  phase: string;
}

/** Something went wrong. */
export interface AgentErrorEvent extends EventBase {
  type: 'error';
  code: string;
  retryable: boolean;
  message: string;
  /** Structured facts (status, field, offsets); never secrets. */
  details?: { [key: string]: unknown };
}

/** stop() ended the agent's work; it resumes in `phase` at the next start. */
export interface StoppedEvent extends EventBase {
  type: 'stopped';
  /** The phase stop() interrupted. */
  phase: string;
  /** The journaled download offset, when it interrupted a download. */
  offset?: number;
}

/** Every event the agent emits. */
export type AgentEvent = CheckingEvent | UpToDateEvent | UpdateAvailableEvent | DownloadStartedEvent | DownloadProgressEvent |
  DownloadResumedEvent | VerifiedEvent | StagedEvent | RebootingEvent | TrialStartedEvent | ConfirmedEvent | RolledBackEvent |
  BackoffEvent | StateEvent | AgentErrorEvent | StoppedEvent;

/** The name of every event type. */
export type AgentEventType = AgentEvent['type'];

/** Receives events; exceptions thrown by it are ignored so a faulty UI never breaks an update. */
export type EventListener = (event: AgentEvent) => void;
