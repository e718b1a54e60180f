import type { AgentEvent } from '../agent/events.js';
import { ProgressBar, describeEvent, formatEta } from './progress.js';

// What `ota device run` prints for the agent's events: one timestamped line per event, a progress bar for the
// download, and lines that need more than one event to be told right: a resume the server turned into a restart
// (it answered 200 to the Range request), a release refused for what it is (given up, not retried after a backoff),
// and a rollback with its reason.

/** Turns agent events into lines on `out`. */
export class DeviceNarrator {
  /** Phase of the step the agent runs now (from its 'state' events). */
  phase: string | null = null;
  /** The release in flight (from update-available / download events). */
  version: string | null = null;
  /** The last error event of the current cycle. */
  lastError: AgentEvent | null = null;
  /** Set by a rolled-back event: the version given up and why. */
  rollback: { version: string | null; reason: string } | null = null;
  /** One cycle only (--once), or stopping: no next attempt follows, so a backoff is told as what polling would do. */
  final = false;
  private readonly bar: ProgressBar;
  private pendingResume: AgentEvent | null = null;
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
      if ((event.received ?? 0) < (resumed.offset ?? 0)) {
        // The agent asked for a range; what arrives from byte 0 is the whole payload (the server ignored Range).
        this.bar.start(0);
        this.line(event.at, `the server ignored the Range request and sent the whole payload: download restarted from byte 0`);
      } else {
        this.line(resumed.at, describeEvent(resumed));
      }
    }
    if (event.type === 'download-resumed') {
      this.flushResume();
      this.pendingResume = event;
      this.bar.onEvent(event);
      return;
    }
    if (event.type !== 'download-progress') this.flushResume();
    if (event.type === 'state') this.phase = event.phase ?? null;
    if (event.type === 'update-available' || event.type === 'download-started') this.version = event.version ?? this.version;
    if (this.bar.onEvent(event)) return;
    if (event.type === 'error') {
      this.lastError = event;
      if (event.details !== undefined && event.details.refused === true) {
        // Refused for what it is (size, signature, sequence, hardware): given up at once, so no backoff line.
        this.refused = true;
        const message = (event.message ?? '').replace(/\.$/, '');
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

  private flushResume(): void {
    if (this.pendingResume === null) return;
    const resumed = this.pendingResume;
    this.pendingResume = null;
    this.line(resumed.at, describeEvent(resumed));
  }

  private line(at: number, text: string | null): void {
    if (text === null) return;
    this.bar.clear();
    this.out(`${new Date(Number.isFinite(at) ? at : this.now()).toISOString()} ${text}\n`);
  }
}
