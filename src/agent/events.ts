// What the agent tells a UI or a log. One plain object per event, with a `type` to branch on.

/** Every event the agent emits. */
export interface AgentEvent {
  type: 'checking' | 'up-to-date' | 'update-available' | 'download-started' | 'download-progress' | 'download-resumed' |
    'verified' | 'staged' | 'rebooting' | 'trial-started' | 'confirmed' | 'rolled-back' | 'backoff' | 'state' | 'error' |
    'stopped';
  /** Clock time of the event (ms). */
  at: number;
  /** The release version, when known. */
  version?: string | null;
  /** Bytes received so far / total payload size (download events). */
  received?: number;
  total?: number;
  /** download-resumed: the byte offset the download continues from; stopped: the journaled download offset. */
  offset?: number;
  /** backoff: milliseconds until the next attempt. */
  delayMs?: number;
  /** state: the phase just persisted; stopped: the phase stop() interrupted (it resumes there). */
  phase?: string;
  /** error: what went wrong. */
  code?: string;
  retryable?: boolean;
  message?: string;
  /** error: structured facts (status, field, offsets); never secrets. */
  details?: { [key: string]: unknown };
  /**
   * up-to-date / backoff: the server's memfault-reason, when it gave one; rolled-back: why (an error code);
   * download-started after a resume: why it went back to byte 0 (validator-changed, range-ignored, range-not-satisfiable).
   */
  reason?: string;
}

/** Receives events; exceptions thrown by it are ignored so a faulty UI never breaks an update. */
export type EventListener = (event: AgentEvent) => void;
