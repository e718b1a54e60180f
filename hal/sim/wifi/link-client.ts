import type { Clock } from '../../../src/util/clock.js';
import { otaError } from '../../../src/util/errors.js';
import { Deframer, encodeFrame } from './frame.js';
import { decodeResponse, encodeRequest, responseError } from './protocol.js';
import type { Response } from './protocol.js';
import type { LinkPort } from './serial-link.js';

// The main MCU's end of the link: stop-and-wait ARQ. One request in flight; the matching response is its
// acknowledgement; on timeout the same frame (same sequence number) is sent again, up to `retries` times.

/** Tuning of the requester. */
export interface LinkClientOptions {
  clock: Clock;
  /** Time to wait for a response before retransmitting. */
  timeoutMs: number;
  /** Retransmissions before giving up (default 8). */
  retries?: number;
  /** Longest time a request may keep the co-processor busy (BUSY answers) before giving up (default 60 000 ms). */
  busyLimitMs?: number;
}

/** Counters for tests and diagnostics. */
export interface LinkClientStats {
  requests: number;
  retransmissions: number;
  timeouts: number;
  badFrames: number;
  /** BUSY answers: the co-processor was still executing the request when its retransmission arrived. */
  busy: number;
}

/** Sends requests to the co-processor and waits for their responses. */
export class LinkClient {
  readonly stats: LinkClientStats = { requests: 0, retransmissions: 0, timeouts: 0, badFrames: 0, busy: 0 };
  /** See LinkClientOptions.busyLimitMs. */
  busyLimitMs: number;
  private readonly deframer = new Deframer();
  private seq = 0;
  private waiting: { seq: number; resolve: (r: Response) => void } | null = null;
  private busy = false;

  /** Listens on `port` for responses. */
  constructor(private readonly port: LinkPort, private readonly options: LinkClientOptions) {
    this.busyLimitMs = options.busyLimitMs ?? 60_000;
    port.onReceive((bytes) => {
      for (const frame of this.deframer.push(bytes)) {
        const response = decodeResponse(frame);
        // Late answers to an earlier try or request are ignored; only the awaited sequence counts.
        if (response !== null && this.waiting !== null && response.seq === this.waiting.seq) {
          const waiter = this.waiting;
          this.waiting = null;
          waiter.resolve(response);
        }
      }
      this.stats.badFrames = this.deframer.rejected;
    });
  }

  /** Sends one request and resolves with its successful response body; rejects with the co-processor's error. */
  async request(kind: number, body: Uint8Array, what: string): Promise<Uint8Array> {
    if (this.busy) throw otaError('link-busy', 'A co-processor request is already in flight; send one at a time.', false);
    this.busy = true;
    try {
      const seq = this.seq;
      this.seq = (this.seq + 1) & 0xff;
      this.stats.requests++;
      const frame = encodeFrame(encodeRequest(kind, seq, body));
      const retries = this.options.retries ?? 8;
      const clock = this.options.clock;
      let busySince = -1;
      let send = true;
      let sent = false;
      for (let attempt = 0; attempt <= retries;) {
        const answer = new Promise<Response | null>((resolve) => {
          this.waiting = { seq, resolve };
          void clock.sleep(this.options.timeoutMs).then(() => resolve(null));
        });
        if (send) {
          if (sent) this.stats.retransmissions++;
          sent = true;
          await this.port.send(frame);
        }
        const response = await answer;
        if (response !== null && response.busy) {
          // Alive and still executing it (a flash erase): wait for the real answer without resending or spending a try.
          this.stats.busy++;
          if (busySince < 0) busySince = clock.now();
          if (clock.now() - busySince > this.busyLimitMs) {
            this.waiting = null;
            throw otaError('wifi-busy', `The WiFi co-processor answers but has been busy with ${what} for more than ` +
              `${this.busyLimitMs} ms; it may be stuck (reset it). The running WiFi image is unchanged.`, true, { command: what });
          }
          send = false;
          continue;
        }
        if (response === null) {
          this.stats.timeouts++;
          // Silent after saying it was busy: ask again, without spending a try (it answered a moment ago).
          if (send) attempt++;
          send = true;
          continue;
        }
        if (response.kind !== kind) throw otaError('link-protocol', `The co-processor answered ${what} with command ${response.kind}.`, true);
        if (!response.ok) throw responseError(response, what);
        return response.body;
      }
      this.waiting = null;
      throw otaError('link-timeout', `The WiFi co-processor did not answer ${what} after ${retries + 1} tries ` +
        `(${this.options.timeoutMs} ms each); check the serial link. The running WiFi image is unchanged.`, true, { command: what });
    } finally {
      this.busy = false;
    }
  }
}
