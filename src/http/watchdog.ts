// Connect, idle-read and whole-request timeouts on an injected Clock. One timer at a time per request: it wakes at
// the nearest deadline, and re-arms when activity moved that deadline, so a download of thousands of reads costs a
// handful of timers. A clock that offers `timer(ms, fire) -> cancel` (the Node clock does) gets its timers cancelled
// when the request ends (the Node clock and VirtualClock do); other clocks fall back to `sleep`, whose late wake-ups
// are ignored.
import type { Clock } from '../util/clock.js';
import { otaError } from '../util/errors.js';
import type { OtaError } from '../util/errors.js';

/** Timeouts of one request; 0 disables one. */
export interface Timeouts {
  connectMs: number;
  idleMs: number;
  requestMs: number;
}

/** Watches one request; `guard` wraps each pending step so a timeout rejects it even if the transport hangs. */
export class Watchdog {
  /** The timeout error, once one fired. */
  tripped: OtaError | null = null;
  private readonly clock: Clock;
  private readonly timeouts: Timeouts;
  private readonly what: string;
  private readonly started: number;
  private connectUntil = -1;
  private readingSince = -1;
  private generation = 0;
  private cancel: (() => void) | null = null;
  private armedAt = -1;
  private pendingReject: ((error: OtaError) => void) | null = null;
  private onTrip: (() => void) | null = null;
  private abort: ((error: OtaError) => void) | null = null;
  private stopped = false;

  /** `what` names the request in messages, e.g. "GET https://host/path". */
  constructor(clock: Clock, timeouts: Timeouts, what: string) {
    this.clock = clock;
    this.timeouts = timeouts;
    this.what = what;
    this.started = clock.now();
    this.arm();
  }

  /** Registers what to do on a timeout (close the connection). */
  setOnTrip(action: (() => void) | null): void {
    this.onTrip = action;
  }

  /** Registers who fails with the timeout error (a pump that reads without `guard`). */
  setAbort(action: ((error: OtaError) => void) | null): void {
    this.abort = action;
  }

  /** Marks the start and end of the connect phase. */
  connecting(active: boolean): void {
    this.connectUntil = active && this.timeouts.connectMs > 0 ? this.clock.now() + this.timeouts.connectMs : -1;
    this.arm();
  }

  /** Marks the start and end of a read; the idle timeout counts only while a read waits. */
  reading(active: boolean): void {
    this.readingSince = active ? this.clock.now() : -1;
    if (active) this.arm();
  }

  /** Stops watching: no timer stays pending on clocks that can cancel. */
  stop(): void {
    this.stopped = true;
    this.pendingReject = null;
    this.onTrip = null;
    this.abort = null;
    this.disarm();
  }

  /** Settles like `step`, or rejects with the timeout error when a deadline passes first. */
  guard<T>(step: Promise<T>): Promise<T> {
    if (this.tripped) {
      const tripped = this.tripped;
      step.then(undefined, () => { /* settled after the timeout: nobody listens */ });
      return Promise.reject(tripped);
    }
    return new Promise<T>((resolve, reject) => {
      this.pendingReject = reject;
      step.then((value) => {
        if (this.pendingReject === reject) this.pendingReject = null;
        resolve(value);
      }, (error) => {
        if (this.pendingReject === reject) this.pendingReject = null;
        reject(error);
      });
    });
  }

  private deadline(): number {
    let best = -1;
    if (this.timeouts.requestMs > 0) best = this.started + this.timeouts.requestMs;
    if (this.connectUntil >= 0 && (best < 0 || this.connectUntil < best)) best = this.connectUntil;
    if (this.readingSince >= 0 && this.timeouts.idleMs > 0) {
      const idle = this.readingSince + this.timeouts.idleMs;
      if (best < 0 || idle < best) best = idle;
    }
    return best;
  }

  private disarm(): void {
    this.generation++;
    this.armedAt = -1;
    if (this.cancel) {
      const cancel = this.cancel;
      this.cancel = null;
      cancel();
    }
  }

  private arm(): void {
    if (this.stopped || this.tripped) return;
    const at = this.deadline();
    if (at < 0) return;
    // An armed wake-up at or before the new deadline will re-check on its own.
    if (this.armedAt >= 0 && this.armedAt <= at) return;
    this.disarm();
    const generation = this.generation;
    const delay = at - this.clock.now();
    this.armedAt = at;
    const fire = (): void => {
      if (generation !== this.generation || this.stopped) return;
      this.armedAt = -1;
      this.cancel = null;
      this.check();
    };
    if (typeof this.clock.timer === 'function') {
      this.cancel = this.clock.timer(delay > 0 ? delay : 0, fire);
    } else {
      this.clock.sleep(delay > 0 ? delay : 0).then(fire);
    }
  }

  private check(): void {
    const now = this.clock.now();
    let error: OtaError | null = null;
    if (this.connectUntil >= 0 && now >= this.connectUntil) {
      error = otaError('connect-timeout', this.what + ': connecting took longer than ' + this.timeouts.connectMs + ' ms; check the network, or retry later.', true, { timeoutMs: this.timeouts.connectMs });
    } else if (this.timeouts.requestMs > 0 && now >= this.started + this.timeouts.requestMs) {
      error = otaError('request-timeout', this.what + ': the request took longer than ' + this.timeouts.requestMs + ' ms in total; retry (a download resumes where it stopped) or raise requestTimeoutMs.', true, { timeoutMs: this.timeouts.requestMs });
    } else if (this.readingSince >= 0 && this.timeouts.idleMs > 0 && now >= this.readingSince + this.timeouts.idleMs) {
      error = otaError('read-timeout', this.what + ': no data arrived for ' + this.timeouts.idleMs + ' ms; the connection stalled. Retry, resuming where the data stopped.', true, { timeoutMs: this.timeouts.idleMs });
    }
    if (!error) {
      this.arm();
      return;
    }
    this.tripped = error;
    const reject = this.pendingReject;
    const onTrip = this.onTrip;
    const abort = this.abort;
    this.pendingReject = null;
    this.abort = null;
    if (onTrip) onTrip();
    if (reject) reject(error);
    if (abort) abort(error);
  }
}
