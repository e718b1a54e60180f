import { otaError, toOtaError } from '../../util/errors.js';
import type { AgentContext } from '../context.js';
import type { PayloadSink } from '../sinks/sink.js';
import type { AgentState, DownloadState, ReleaseState } from '../state.js';
import { cloneState } from '../state.js';
import { fail } from './common.js';
import { formatFor } from './download.js';

// verifying: every part is read back from flash and checked (size, CRC-32, SHA-256) before anything is
// activated. After a reboot the sink is reopened at the end of the payload, so the check runs on what flash
// holds, not on what RAM remembers.

/** Reopens the sink of a complete download (after a reboot), or returns the open one. */
export function reopenSink(ctx: AgentContext, state: AgentState): Promise<PayloadSink | null> {
  const release = state.release as ReleaseState;
  const download = state.download as DownloadState;
  if (ctx.live !== null && ctx.live.releaseId === release.id && ctx.live.sink !== null) return Promise.resolve(ctx.live.sink);
  if (download.offset < release.size || download.format === null) return Promise.resolve(null);
  const format = formatFor(ctx, download.format);
  if (format === null) return Promise.resolve(null);
  return format.open({ size: release.size, version: release.version, head: new Uint8Array(0), softwareType: ctx.softwareType, targets: ctx.targets,
    resumeAt: release.size, resumeState: download.sink }).then(function (sink) {
    // A sink that needs its prefix replayed (a bundle header) is finished through the download step.
    return sink.replayPrefix() > 0 ? null : sink;
  });
}

/** The verifying state. */
export function verifying(ctx: AgentContext, input: AgentState): Promise<AgentState> {
  const state = cloneState(input);
  if (state.release === null || state.download === null) {
    state.phase = 'idle';
    return Promise.resolve(state);
  }
  const release = state.release;
  const download = state.download;
  return reopenSink(ctx, state).then(function (sink) {
    if (sink === null) {
      // The tail was not durable when power went: download the rest again.
      state.phase = 'downloading';
      return state;
    }
    return sink.finish().then(function () {
      download.offset = release.size;
      download.hashOffset = release.size;
      download.sink = sink.resumeState();
      download.activation = sink.softwareTypes();
      download.plan = sink.plan();
      if (sink.version() !== null) release.version = sink.version();
      ctx.emit({ type: 'verified', at: ctx.clock.now(), version: release.version, total: release.size });
      state.phase = 'staged';
      return state;
    }, function (error: unknown) {
      const failure = toOtaError(error, 'verification-failed', true);
      ctx.live = null;
      state.download = null;
      return fail(ctx, state, otaError(failure.code, 'Verification of the downloaded release failed, nothing was activated and it ' +
        'will be downloaded again: ' + failure.message, true, failure.details));
    });
  });
}
