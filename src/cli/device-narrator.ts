import type { AgentErrorEvent, AgentEvent, DownloadResumedEvent } from '../agent/events.js';
import { ProgressBar, describeEvent, formatBytes, formatEta } from './progress.js';

// What `ota device run` prints for the agent's events: one timestamped line per event, a progress bar for the
// download, and lines that need more than one event to be told right: a resume (from the journal after a restart,
// or after a dropped connection), a resume the server turned into a restart from byte 0, a release refused for what
// it is (given up, not retried after a backoff), and a rollback with its reason.

/**
 * Why a resumed download went back to byte 0, when the agent says so in `reason` of the download-started it emits
 * for the restart. Without a reason the narrator cannot tell a changed object from a server that ignores Range:
 * both answer the If-Range request with the whole payload.
 */
function restartCause(reason: string, offset: number): string {
  switch (reason) {
    case 'validator-changed': return 'the payload changed on the server since the download began (its ETag is new)';
    case 'range-ignored': return 'the server ignored the Range request and sent the whole payload';
    case 'range-not-satisfiable': return `the server refused the range from byte ${offset} (416: its copy is not that long)`;
    default: return `the server did not continue at byte ${offset} (${reason})`;
  }
}

/** "byte 118784 of 200000 (116.0 KiB of 195.3 KiB, release 2.0.0)"; without a known total, "byte 118784 (116.0 KiB)". */
function position(offset: number, total: number | undefined, version: string | null | undefined): string {
  const release = version ? `, release ${version}` : '';
  return total !== undefined && total > 0
    ? `byte ${offset} of ${total} (${formatBytes(offset)} of ${formatBytes(total)}${release})`
    : `byte ${offset} (${formatBytes(offset)}${release})`;
}

/** Turns agent events into lines on `out`. */
export class DeviceNarrator {
  /** Phase of the step the agent runs now (from its 'state' events). */
  phase: string | null = null;
  /** The release in flight (from update-available / download events). */
  version: string | null = null;
  /** The last error event of the current cycle. */
  lastError: AgentErrorEvent | null = null;
  /** Set by a rolled-back event: the version given up and why. */
  rollback: { version: string | null; reason: string } | null = null;
  /** One cycle only (--once), or stopping: no next attempt follows, so a backoff is told as what polling would do. */
  final = false;
  private readonly bar: ProgressBar;
  private pendingResume: DownloadResumedEvent | null = null;
  /** A transfer ran in this process: a resume after it continues from RAM, one before it from the journal. */
  private transferred = false;
  /** The pending resume is the first transfer of this process: it continues from the journal. */
  private fromJournal = false;
  private refused = false;

  /**
   * `rollbackHint` tells why the bootloader reverted when no agent error says it (the image crashed on boot).
   */
  constructor(private readonly out: (text: string) => void, tty: boolean, private readonly rollbackHint: () => string | null = () => null,
    private readonly now: () => number = Date.now) {
    this.bar = new ProgressBar(out, tty);
  }

  /** Forgets the previous cycle's error and rollback. */
  newCycle(): void {
    this.lastError = null;
    this.rollback = null;
    this.refused = false;
  }

  /** Ends an in-place progress line. */
  clear(): void {
    this.flushResume();
    this.bar.clear();
  }

  /** True while a download is under way (its state is in the journal). */
  downloading(): boolean {
    return this.phase === 'downloading';
  }

  /** Prints `event`. */
  onEvent(event: AgentEvent): void {
    if (event.type === 'download-progress' && this.pendingResume !== null) {
      const resumed = this.pendingResume;
      this.pendingResume = null;
      const offset = resumed.offset;
      if (event.received < offset) {
        // Bytes from 0 after a Range request: a 200 with the whole payload. If-Range makes a server answer so when its
        // copy changed, and a server without range support always does; the events do not say which it was.
        this.bar.start(0);
        this.line(event.at, `the server sent the whole payload again instead of the range from byte ${offset} ` +
          '(its copy changed, or it ignored Range): download restarted from byte 0');
      } else {
        this.line(resumed.at, this.resumedText(resumed, true));
      }
    }
    if (event.type === 'download-resumed') {
      this.flushResume();
      this.pendingResume = event;
      this.fromJournal = !this.transferred;
      this.transferred = true;
      this.bar.onEvent(event);
      return;
    }
    if (event.type === 'download-started' && (this.pendingResume !== null || event.reason !== undefined)) {
      // The agent went back to byte 0 before any byte of the range arrived (a new ETag on a 206, a 416), or says why.
      const offset = this.pendingResume !== null ? this.pendingResume.offset : 0;
      this.pendingResume = null;
      this.version = event.version ?? this.version;
      this.transferred = true;
      this.bar.onEvent(event);
      const cause = event.reason !== undefined ? restartCause(event.reason, offset)
        : `the server did not continue the download at byte ${offset} (its copy changed, or it refused the range)`;
      this.line(event.at, `${cause}: download restarted from byte 0`);
      return;
    }
    if (event.type !== 'download-progress') this.flushResume();
    if (event.type === 'download-progress' || event.type === 'download-started') this.transferred = true;
    if (event.type === 'state') this.phase = event.phase ?? null;
    if (event.type === 'update-available' || event.type === 'download-started' || event.type === 'download-progress') {
      this.version = event.version ?? this.version;
    }
    if (this.bar.onEvent(event)) return;
    if (event.type === 'error') {
      this.lastError = event;
      if (event.details !== undefined && event.details.refused === true) {
        // Refused for what it is (size, sequence, hardware): given up at once, so no backoff line.
        this.refused = true;
        const message = event.message.replace(/\.$/, '');
        this.line(event.at, `${this.version !== null ? `release ${this.version}` : 'the offered release'} refused (${event.code}): ${message}; ` +
          'it will not be retried until a different release is offered');
        return;
      }
    }
    if (event.type === 'backoff' && this.refused) return;
    if (event.type === 'backoff' && this.final) {
      this.line(event.at, `a polling device would try again in ${formatEta((event.delayMs ?? 0) / 1000)}${event.code ? ` (${event.code})` : ''}`);
      return;
    }
    if (event.type === 'rolled-back') {
      this.rollback = { version: event.version ?? this.version, reason: this.rollbackReason(event.reason) };
      this.line(event.at, `rolled back${event.version ? ` from ${event.version}` : ''}: ${this.rollback.reason}`);
      return;
    }
    this.line(event.at, describeEvent(event));
  }

  /** Why the trial ended: the agent's error of this cycle, else what the device saw (a crash on boot), else `code`. */
  private rollbackReason(code: string | undefined): string {
    const error = this.lastError;
    if (error !== null && (error.code === 'health-deadline' || error.code === 'self-test-failed' || error.code === code)) {
      return `${error.message} [${error.code}]`;
    }
    return this.rollbackHint() ?? `the trial image was not confirmed and the bootloader went back to the previous image${code ? ` [${code}]` : ''}`;
  }

  /** Tells a resume with no byte of it seen yet: where it continues, without claiming a check it may not have reached. */
  private flushResume(): void {
    if (this.pendingResume === null) return;
    const resumed = this.pendingResume;
    this.pendingResume = null;
    this.line(resumed.at, this.resumedText(resumed, false));
  }

  /**
   * The one line of a resume. Continued from the journal (the first transfer of this process), the agent reopened the
   * slot at the durable offset, which reads the image bytes already in flash back to rebuild the running checksum,
   * and the MD5 comes from its journaled snapshot: once bytes arrived (`checked`), that check has passed.
   */
  private resumedText(resumed: DownloadResumedEvent, checked: boolean): string {
    const where = `download resumed at ${position(resumed.offset, resumed.total, resumed.version)}`;
    if (!checked) return `${where} with Range + If-Range`;
    if (this.fromJournal) return `${where} from the journal: the payload already in flash was read back to rebuild its checksum; the rest comes with Range + If-Range`;
    return `${where} after the transfer broke off: the rest comes with Range + If-Range`;
  }

  private line(at: number, text: string | null): void {
    if (text === null) return;
    this.bar.clear();
    this.out(`${new Date(Number.isFinite(at) ? at : this.now()).toISOString()} ${text}\n`);
  }
}
