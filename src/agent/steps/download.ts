import { Md5, restoreMd5 } from '../../integrity/md5.js';
import { concatBytes, fromHex, toHex } from '../../util/bytes.js';
import { otaError, toOtaError } from '../../util/errors.js';
import type { OtaError } from '../../util/errors.js';
import type { AgentContext, LiveDownload, Snapshot } from '../context.js';
import type { FetchStart } from '../fetch-port.js';
import type { PayloadSink, SinkFormat } from '../sinks/sink.js';
import type { AgentState, DownloadState, ReleaseState } from '../state.js';
import { cloneState } from '../state.js';
import { checkpointSpacing } from '../policy.js';
import { offered, query } from './check.js';
import { allStatus, anyTrial, fail, giveUp, settle } from './common.js';

// downloading: a flat pump (one request in flight, the next step from .then) from the CDN into the payload
// sink. Progress is checkpointed to the journal when the sink's durable offset (flushed, read-back flash sectors)
// moved checkpointSpacing (policy.checkpointBytes, more on large payloads) past the last checkpoint, with the
// running MD5 of the last snapshot at or below it. After a power cut the download continues from there with
// Range + If-Range; a 200 or 416 restarts from zero once, never in a loop.

/** Refresh a signed URL this long before its `expires`. */
const EXPIRY_MARGIN_MS = 60000;

/** Thrown inside a transfer to restart the payload from zero. */
interface RestartSignal {
  restart: true;
  reason: string;
}

function isRestart(value: unknown): value is RestartSignal {
  return value !== null && typeof value === 'object' && (value as { restart?: unknown }).restart === true;
}

function freshDownload(): DownloadState {
  return { offset: 0, hashOffset: 0, md5: null, format: null, sink: null };
}

/** Rebuilds the RAM side of a download from its persisted checkpoint (after a reboot, or a restart). */
function liveFrom(release: ReleaseState, download: DownloadState): LiveDownload {
  let md5: Md5 | null = null;
  if (release.md5 !== null) {
    const saved = download.md5 !== null ? fromHex(download.md5) : null;
    md5 = saved !== null ? restoreMd5(saved) : null;
    if (md5 === null) md5 = new Md5();
  }
  const snapshot: Snapshot = { offset: download.hashOffset, md5: md5 !== null ? md5.saveState() : null };
  return { releaseId: release.id, sink: null, pos: download.hashOffset, md5: md5, head: null, snapshots: [snapshot],
    durable: download.offset };
}

/** Puts a RAM download back to byte 0 in place (closures keep the same object). */
function resetLive(live: LiveDownload, release: ReleaseState): void {
  const fresh = liveFrom(release, freshDownload());
  live.sink = null;
  live.pos = 0;
  live.md5 = fresh.md5;
  live.head = null;
  live.snapshots = fresh.snapshots;
  live.durable = 0;
}

function headBytes(ctx: AgentContext): number {
  let most = 4;
  for (let i = 0; i < ctx.formats.length; i++) if (ctx.formats[i].headBytes > most) most = ctx.formats[i].headBytes;
  return most;
}

/** The payload format named `name` (journaled with the download), or null when this agent has none of that name. */
export function formatFor(ctx: AgentContext, name: string): SinkFormat | null {
  for (let i = 0; i < ctx.formats.length; i++) if (ctx.formats[i].name === name) return ctx.formats[i];
  return null;
}

function recognize(ctx: AgentContext, head: Uint8Array): SinkFormat {
  for (let i = 0; i < ctx.formats.length; i++) if (ctx.formats[i].recognizes(head)) return ctx.formats[i];
  return ctx.formats[ctx.formats.length - 1];
}

// Why a download went back to byte 0: the reason of the download-started that reports it, and of download-restart-loop.
const CHANGED = 'validator-changed';
const IGNORED = 'range-ignored';

/** True when the server names the payload with another validator than the one the download began under. */
function validatorChanged(release: ReleaseState, info: FetchStart): boolean {
  return release.validator !== null && info.validator !== null && info.validator !== release.validator;
}

/** Resets the download to byte 0 (a restart) in the journal and in RAM, persisting before anything is written again. */
function restartFromZero(ctx: AgentContext, state: AgentState, live: LiveDownload, reason: string): Promise<void> {
  const release = state.release as ReleaseState;
  if (release.restarts >= 1) {
    // `reason` is short (it stays in details on Espruino, where messages are stripped): 200 or 416 to a range, a new validator.
    throw otaError('download-restart-loop', 'The server made the download restart from zero twice without progress (' + reason +
      '); stopping instead of looping. It will be retried after a backoff.', true, { reason: reason });
  }
  release.restarts++;
  release.validator = null;
  state.download = freshDownload();
  resetLive(live, release);
  live.restarted = reason;
  return ctx.save(state);
}

/** One transfer: a single request from `live.pos`. Resolves true when the whole payload went through. */
function transfer(ctx: AgentContext, state: AgentState, live: LiveDownload): Promise<boolean> {
  const release = state.release as ReleaseState;
  function dl(): DownloadState { return state.download as DownloadState; }
  let requested = live.pos;
  const snapEvery = ctx.policy.snapshotBytes;
  let total = release.size;

  function snapshot(): void {
    live.snapshots.push({ offset: live.pos, md5: live.md5 !== null ? live.md5.saveState() : null });
  }

  /** Takes the version from the payload (image header, verified manifest) once the sink knows it; /latest/url names none. */
  function learnVersion(): void {
    if (release.version === null && live.sink !== null) release.version = live.sink.version();
  }

  /** Journals the sink's durable offset once it moved a checkpoint spacing (or, `force`d, at all) past the last one. */
  function checkpoint(force?: boolean): Promise<void> {
    const sink = live.sink as PayloadSink;
    const durable = sink.durableOffset();
    if (durable <= (force ? dl().offset : live.durable)) return Promise.resolve();
    // RAM follows the sink at every step, journaled or not: the sink counts on the agent never feeding it bytes below
    // its durable offset again (a bundle sink jumps over a part that was already staged before a power cut).
    live.durable = durable;
    const download = dl();
    if (!force && durable - download.offset < checkpointSpacing(ctx.policy, total) && durable < total) return Promise.resolve();
    let best = live.snapshots[0];
    let keepFrom = 0;
    for (let i = 0; i < live.snapshots.length; i++) {
      if (live.snapshots[i].offset <= durable) {
        best = live.snapshots[i];
        keepFrom = i;
      }
    }
    live.snapshots = live.snapshots.slice(keepFrom);
    learnVersion();
    download.offset = durable;
    // Without an MD5 to rebuild there is nothing to re-read: the resume starts at the durable offset itself.
    download.hashOffset = live.md5 !== null ? best.offset : durable;
    download.md5 = best.md5 !== null ? toHex(best.md5) : null;
    download.sink = sink.resumeState();
    release.restarts = 0;
    // Progress past anything journaled before: this attempt does not count against maxAttemptsPerRelease (a download
    // restarted from 0, after a bad MD5 say, counts until it passes the old mark, so a bad release still runs out).
    if (durable > (release.reached || 0)) {
      release.reached = durable;
      release.attempts = 0;
    }
    return ctx.save(state);
  }

  function progress(force: boolean): void {
    const now = ctx.clock.now();
    if (!force && now - ctx.lastProgressAt < ctx.policy.progressIntervalMs) return;
    ctx.lastProgressAt = now;
    learnVersion();
    ctx.emit({ type: 'download-progress', at: now, received: live.pos, total: total, version: release.version });
  }

  function openSink(head: Uint8Array): Promise<void> {
    const download = dl();
    let format = download.format !== null ? formatFor(ctx, download.format) : null;
    if (format === null) {
      format = recognize(ctx, head);
      download.format = format.name;
    }
    return format.open({ size: total, version: release.version, head: head, softwareType: ctx.softwareType, targets: ctx.targets,
      resumeAt: live.durable, resumeState: download.sink }).then(function (sink) {
      live.sink = sink;
      // Journaled with the next checkpoint.
      learnVersion();
    });
  }

  /** Feeds bytes [i, end) of `chunk`; one sink write in flight. */
  function feed(chunk: Uint8Array, i: number): Promise<void> {
    while (i < chunk.length && live.pos < live.durable) {
      // Already durable in flash: only the running MD5 needs these bytes.
      const n = Math.min(live.durable - live.pos, chunk.length - i);
      if (live.md5 !== null) live.md5.updateRange(chunk, i, i + n);
      live.pos += n;
      i += n;
    }
    if (i >= chunk.length) return Promise.resolve();
    if (live.sink === null) {
      const needed = Math.min(headBytes(ctx), total - live.pos);
      if (dl().format === null && chunk.length - i < needed) {
        live.head = new Uint8Array(chunk.subarray(i));
        return Promise.resolve();
      }
      return openSink(chunk.subarray(i)).then(function () { return feed(chunk, i); });
    }
    // The whole rest of the chunk in one sink write: one promise hop per received chunk, not per snapshot
    // interval. Once the sink accepted it, the running MD5 (when the release lists one) advances with a snapshot at
    // each boundary. The image digests are the sink's, taken over what flash reads back.
    return live.sink.write(i === 0 ? chunk : chunk.subarray(i)).then(undefined, function (error: unknown) {
      // After a refusal of the payload (a part's transit CRC, a bad manifest) what was staged is suspect: start it over.
      // Its details keep saying whether the payload itself was refused (`refused`). A device failure (`device`: a
      // flash write, a co-processor that reset) leaves the journaled durable bytes good: the download resumes there.
      const failure = toOtaError(error, 'sink-write-failed', true);
      if (failure.code !== 'power-cut' && !(failure.details !== undefined && failure.details.device === true)) {
        if (failure.details === undefined) failure.details = {};
        failure.details.discard = true;
      }
      throw failure;
    }).then(function () {
      if (live.md5 === null) {
        live.pos += chunk.length - i;
        return checkpoint();
      }
      let at = i;
      while (at < chunk.length) {
        const n = Math.min((Math.floor(live.pos / snapEvery) + 1) * snapEvery - live.pos, chunk.length - at);
        live.md5.updateRange(chunk, at, at + n);
        live.pos += n;
        at += n;
        if (live.pos % snapEvery === 0 || live.pos === total) snapshot();
      }
      return checkpoint();
    });
  }

  /** One download-started per download, and one more for each restart from byte 0 (with its reason). */
  function announce(): void {
    if (!live.announced || live.restarted !== undefined) {
      ctx.emit({ type: 'download-started', at: ctx.clock.now(), total: total, version: release.version, reason: live.restarted });
    }
    live.announced = true;
    live.restarted = undefined;
  }

  function start(info: FetchStart): Promise<void> {
    let reset: Promise<void> = Promise.resolve();
    if (info.offset !== requested) {
      if (info.offset !== 0) {
        return Promise.reject(otaError('range-mismatch', 'Asked for the payload from byte ' + requested + ' but the server answered from byte ' +
          info.offset + '; retrying.', true, { requested: requested, served: info.offset }));
      }
      // The server ignored Range, or If-Range said the payload changed: take this full body as a restart from zero.
      reset = restartFromZero(ctx, state, live, validatorChanged(release, info) ? CHANGED : IGNORED).then(function () { requested = 0; });
    } else if (requested > 0 && validatorChanged(release, info)) {
      const signal: RestartSignal = { restart: true, reason: CHANGED };
      return Promise.reject(signal);
    }
    return reset.then(function () {
      if (info.total >= 0) {
        if (release.size >= 0 && info.total !== release.size) {
          throw otaError('size-mismatch', 'The CDN serves ' + info.total + ' bytes but the release says file_size ' + release.size +
            '; the release is inconsistent, retrying later.', true, { served: info.total, expected: release.size, discard: true });
        }
        total = info.total;
      }
      if (total < 0) {
        throw otaError('size-unknown', 'The CDN did not tell the payload size (no Content-Length or Content-Range); it is needed to ' +
          'prepare the flash slot.', true);
      }
      if (requested === 0) announce(); // after a 200 to a range: the restart it made
      if (release.size !== total || (requested === 0 && release.validator !== info.validator)) {
        release.size = total;
        release.validator = info.validator;
        return ctx.save(state);
      }
      return undefined;
    });
  }

  function finishBody(): boolean {
    if (total === 0) {
      // Content-Length 0, or file_size 0 from /latest (then nothing was requested): nothing to install; refused like
      // any payload that cannot be one (given up, nothing written), not retried until the attempts run out.
      throw otaError('payload-empty', 'The release payload is 0 bytes: there is no image in it. Nothing was written and the release ' +
        'is given up until a different one is offered; upload the real image as a new release.', false, { discard: true, refused: true });
    }
    if (live.pos < total) {
      throw otaError('download-truncated', 'The CDN ended the body at byte ' + live.pos + ' of ' + total + '; resuming with a Range request.',
        true, { received: live.pos, total: total });
    }
    progress(true);
    if (live.md5 !== null && release.md5 !== null) {
      const digest = toHex(live.md5.digest());
      live.md5 = null;
      if (digest !== release.md5) {
        throw otaError('md5-mismatch', 'The payload\'s MD5 is ' + digest + ' but the release lists ' + release.md5 +
          '; the download was corrupted, nothing was activated and it will be downloaded again.', true,
        { expected: release.md5, found: digest, discard: true });
      }
    }
    return true;
  }
  if (requested === 0) announce();
  else ctx.emit({ type: 'download-resumed', at: ctx.clock.now(), offset: requested, total: total, version: release.version });

  /** After a reboot: reopen the sink at the durable offset and replay the prefix it needs (a bundle header). */
  function prepare(): Promise<void> {
    if (live.sink !== null || dl().format === null || live.durable === 0) return Promise.resolve();
    return openSink(new Uint8Array(0)).then(function () {
      const sink = live.sink as PayloadSink;
      const prefix = sink.replayPrefix();
      if (prefix <= 0) return undefined;
      let fed = 0;
      return ctx.fetcher.fetch({
        url: release.url, offset: 0, end: prefix, validator: release.validator, timeoutMs: ctx.policy.requestTimeoutMs,
        start: function (info: FetchStart): Promise<void> {
          if (!info.partial || validatorChanged(release, info)) {
            const signal: RestartSignal = { restart: true, reason: info.partial ? CHANGED : IGNORED };
            return Promise.reject(signal);
          }
          return Promise.resolve();
        },
        data: function (chunk: Uint8Array): Promise<void> {
          const n = Math.min(prefix - fed, chunk.length);
          fed += n;
          return n > 0 ? sink.write(chunk.subarray(0, n)) : Promise.resolve();
        },
        cancelled: function (): boolean { return ctx.cancelled() || fed >= prefix; },
      }).then(function () {
        if (fed < prefix) {
          throw otaError('download-truncated', 'The CDN ended the header replay at byte ' + fed + ' of ' + prefix + '.', true);
        }
      });
    }).then(undefined, function (error: unknown) {
      live.sink = null;
      throw error;
    });
  }

  return prepare().then(function () {
    if (total >= 0 && requested >= total) return undefined;
    return ctx.fetcher.fetch({
    url: release.url,
    offset: requested,
    end: -1,
    validator: requested > 0 ? release.validator : null,
    timeoutMs: ctx.policy.requestTimeoutMs,
    start: start,
    data: function (chunk: Uint8Array): Promise<void> {
      let bytes = chunk;
      if (live.head !== null) {
        bytes = concatBytes([live.head, chunk]);
        live.head = null;
      }
      return feed(bytes, 0).then(function () { progress(false); });
    },
    cancelled: ctx.cancelled,
  });
  }).then(function () {
    // Stopped: journal what is durable now, so the next start re-fetches less than a checkpoint spacing. Stopped before
    // the response head, the size is still unknown (-1): incomplete too, never a finished body.
    if (ctx.cancelled() && (total < 0 || live.pos < total)) {
      const saved = live.sink !== null ? checkpoint(true) : Promise.resolve();
      return saved.then(function () { return false; });
    }
    if (live.head !== null && live.sink === null) {
      // A payload shorter than the sniffing window: open the sink with what there is.
      const head = live.head;
      live.head = null;
      return openSink(head).then(function () { return feed(head, 0); }).then(finishBody);
    }
    return finishBody();
  });
}


/**
 * Cuts the query off every URL in `text` (from a `?` to the next space or quote: messages use no other question
 * mark): a signed CDN link's token is a credential valid for hours.
 */
function withoutQueries(text: string): string {
  return text.replace(/\?[^\s"]*/g, '');
}

/** `error` as events and logs may carry it: the URL in its message and in `details.url` without its query. */
function redacted(error: OtaError): OtaError {
  const details = error.details;
  if (details !== undefined && details.url) details.url = withoutQueries(String(details.url));
  error.message = withoutQueries(error.message);
  return error;
}

/**
 * Asks the device API what it offers now. The same artifact: its (new) URL is kept and null returned, the download goes
 * on. Otherwise the partial download is dropped and `offered` says how to go on: idle when the release was withdrawn
 * (204, reported `release-withdrawn`), `downloading` the new release when another one replaced it. When the API cannot
 * be asked, the backoff state.
 */
function reoffer(ctx: AgentContext, state: AgentState): Promise<AgentState | null> {
  return query(ctx).then(function (result) {
    const release = state.release as ReleaseState;
    const offer = result.update;
    if (offer !== null && offer.id === release.id) {
      release.url = offer.url;
      release.urlExpiresAt = offer.expiresAt;
      return ctx.save(state).then(function () { return null; });
    }
    ctx.live = null;
    state.download = null;
    return offered(ctx, state, result);
  }, function (error: unknown) {
    // The device API could not be asked: back off; the next cycle's check asks again (unless stop() ended the request).
    return ctx.cancelled() ? state : fail(ctx, state, toOtaError(error, 'check-failed', true));
  });
}

/** The downloading state. */
export function downloading(ctx: AgentContext, input: AgentState): Promise<AgentState> {
  const state = cloneState(input);
  if (state.release === null) return Promise.resolve(settle(ctx, state));
  const release = state.release;
  release.attempts++;
  if (release.attempts > ctx.policy.maxAttemptsPerRelease) {
    const error = otaError('release-attempts-exhausted', 'The "' + ctx.softwareType + '" release ' +
      (release.version !== null ? release.version : '(version not known yet)') + ' failed ' + ctx.policy.maxAttemptsPerRelease +
      ' download attempts in a row without progress; giving up on it. See the errors before this one (CDN, network, payload); ' +
      'once that is fixed, publish the build again as a new release to have it installed.', false,
    { attempts: ctx.policy.maxAttemptsPerRelease });
    giveUp(state, release.id);
    state.release = null;
    state.download = null;
    ctx.emit({ type: 'error', at: ctx.clock.now(), code: error.code, retryable: false, message: error.message, details: error.details });
    return Promise.resolve(settle(ctx, state));
  }
  if (state.download === null) state.download = freshDownload();
  let retries = ctx.policy.retriesPerCycle;
  let refreshed = false;
  // Asked in this run (checking just offered it), or found only in the journal (after a restart, or a stop): then the
  // device API is asked first, as the release may have been withdrawn or replaced meanwhile. In-cycle resumes are not.
  let asked = ctx.askedFor === release.id;
  ctx.askedFor = null;
  // Whether this cycle received any payload byte. A cycle that got none (the CDN down or refusing, a stop before the
  // body) says nothing about the release: it gives its attempt back, so an outage never uses a release up.
  let received = false;
  function uncounted(): void {
    if (!received) release.attempts--;
  }

  function attempt(): Promise<AgentState> {
    if (ctx.cancelled()) return Promise.resolve(state);
    const expired = release.urlExpiresAt > 0 && ctx.clock.now() >= release.urlExpiresAt - EXPIRY_MARGIN_MS;
    const ready: Promise<AgentState | null> = !asked || expired ? reoffer(ctx, state) : Promise.resolve(null);
    asked = true;
    return ready.then(function (next) {
      if (next !== null) return next;
      if (ctx.live === null || ctx.live.releaseId !== release.id) ctx.live = liveFrom(release, state.download as DownloadState);
      const live = ctx.live;
      const before = live.pos;
      return ctx.save(state).then(function () { return transfer(ctx, state, live); }).then(function (complete) {
        if (!complete) {
          if (live.pos > before) received = true;
          uncounted();
          return state;
        }
        const done = cloneState(state);
        done.phase = 'verifying';
        return done;
      }, function (error: unknown) {
        if (isRestart(error)) {
          return restartFromZero(ctx, state, live, error.reason).then(attempt);
        }
        const failure = redacted(toOtaError(error, 'download-failed', true));
        const status = failure.details !== undefined ? failure.details.status : undefined;
        if (status === 416) {
          return restartFromZero(ctx, state, live, 'range-not-satisfiable').then(attempt);
        }
        // The CDN refused the link (expired, revoked; which 4xx the real CDN uses is unverified): ask the device API
        // once for a fresh one. 408 and 429 say "later", not "bad link".
        if (typeof status === 'number' && status >= 400 && status < 500 && status !== 408 && status !== 429 && !refreshed) {
          refreshed = true;
          return reoffer(ctx, state).then(function (other) { return other !== null ? other : attempt(); });
        }
        if (failure.details !== undefined && failure.details.discard === true) {
          state.download = null;
          ctx.live = null;
          if (!failure.retryable && failure.details.refused === true) {
            // The payload itself is refused (unsigned, rolled back, for other hardware, empty): fetching the same
            // artifact again cannot change that, so it is not offered to the device again; a new artifact is.
            giveUp(state, release.id);
            state.release = null;
          }
          return fail(ctx, state, failure);
        }
        if (failure.details !== undefined && failure.details.device === true) {
          // The device failed under the sink, whose RAM state is now unknown: the next cycle (after the backoff a
          // co-processor needs to come back) reopens it from the journal, as after a reboot, and resumes with Range.
          ctx.live = null;
          return fail(ctx, state, failure);
        }
        const progressed = ctx.live !== null && ctx.live.pos > before;
        if (progressed) received = true;
        if (failure.retryable && progressed && retries > 0 && !ctx.cancelled()) {
          retries--;
          return attempt();
        }
        if (failure.retryable) uncounted();
        return fail(ctx, state, failure);
      });
    });
  }

  return allStatus(ctx).then(function (statuses) {
    if (anyTrial(statuses)) {
      return fail(ctx, state, otaError('trial-unconfirmed', 'The running image is an unconfirmed trial; a download would overwrite the ' +
        'fallback slot. Confirm or revert the trial first.', false));
    }
    return attempt();
  });
}
