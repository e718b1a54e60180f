import type { AgentEvent } from '../agent/events.js';

// A progress bar for downloads: bytes, rate and ETA. On a terminal it redraws one line in place; otherwise it
// prints a line at every quarter, so logs stay short.

/** Formats a byte count with binary units. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

/** Formats seconds as "1m05s" or "12s". */
export function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--';
  const s = Math.round(seconds);
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, '0')}m`;
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

/** Tracks one download and renders its progress line. */
export class ProgressBar {
  private startAt = 0;
  private startBytes = 0;
  private lastQuarter = -1;
  private drawn = false;

  constructor(private readonly write: (text: string) => void, private readonly tty: boolean, private readonly width = 30,
    private readonly now: () => number = Date.now) {}

  /** The line for `received` of `total` bytes. */
  line(received: number, total: number): string {
    const elapsed = (this.now() - this.startAt) / 1000;
    const rate = elapsed > 0 ? (received - this.startBytes) / elapsed : 0;
    const fraction = total > 0 ? Math.min(1, received / total) : 0;
    const filled = Math.round(fraction * this.width);
    const eta = rate > 0 && total > 0 ? (total - received) / rate : NaN;
    return `[${'#'.repeat(filled)}${'.'.repeat(this.width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}% ` +
      `${formatBytes(received)}/${formatBytes(total)} ${formatBytes(Math.round(rate))}/s ETA ${formatEta(eta)}`;
  }

  /** Starts (or restarts, after a resume) the rate measurement at `received` bytes. */
  start(received: number): void {
    this.startAt = this.now();
    this.startBytes = received;
  }

  /** Shows progress. */
  update(received: number, total: number): void {
    if (this.startAt === 0) this.start(received);
    if (this.tty) {
      this.write(`\r${this.line(received, total)}`);
      this.drawn = true;
      return;
    }
    const quarter = total > 0 ? Math.floor((received / total) * 4) : 0;
    if (quarter !== this.lastQuarter) {
      this.lastQuarter = quarter;
      this.write(`${this.line(received, total)}\n`);
    }
  }

  /** Ends the in-place line so the next output starts on a fresh line. */
  clear(): void {
    if (this.drawn) this.write('\n');
    this.drawn = false;
  }

  /** Feeds agent events; returns true when the event was a progress event it drew. */
  onEvent(event: AgentEvent): boolean {
    if (event.type === 'download-started') this.start(0);
    if (event.type === 'download-resumed') this.start(event.offset);
    if (event.type !== 'download-progress') {
      this.clear();
      return false;
    }
    this.update(event.received, event.total);
    return true;
  }
}

/** One human line for an agent event (progress excluded). */
export function describeEvent(event: AgentEvent): string | null {
  const v = 'version' in event && event.version ? ` ${event.version}` : '';
  switch (event.type) {
    case 'checking': return 'checking for an update';
    case 'up-to-date': return `up to date${event.reason ? ` (${event.reason})` : ''}`;
    case 'update-available': return `update available${v}${event.total !== undefined && event.total >= 0 ? ` (${formatBytes(event.total)})` : ''}`;
    case 'download-started': return `downloading${v}${event.total !== undefined && event.total >= 0 ? ` (${formatBytes(event.total)})` : ''}`;
    case 'download-resumed': return `download resumed at byte ${event.offset} (Range + If-Range)`;
    case 'verified': return `verified${v} (every part read back from flash)`;
    case 'staged': return `staged${v}: activated, trial boot next`;
    case 'rebooting': return 'rebooting';
    case 'trial-started': return `running${v} as a trial`;
    case 'confirmed': return `confirmed${v}`;
    case 'rolled-back': return `rolled back${v ? ` from${v}` : ''}`;
    case 'backoff': return `next attempt in ${formatEta((event.delayMs ?? 0) / 1000)}${event.code ? ` (${event.code})` : ''}`;
    case 'error': return `error ${event.code}: ${event.message}`;
    case 'stopped': return `stopped${event.phase ? ` (phase ${event.phase})` : ''}${event.offset !== undefined && event.offset !== null ? `; the journal resumes the download at byte ${event.offset}` : ''}`;
    default: return null;
  }
}
