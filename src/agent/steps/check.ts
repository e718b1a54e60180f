import { checkForUpdate } from '../../api/device-api.js';
import type { CheckResult } from '../../api/device-api.js';
import { toOtaError } from '../../util/errors.js';
import type { AgentContext } from '../context.js';
import type { TargetStatus } from '../../../hal/image-target.js';
import type { AgentState, TrialState } from '../state.js';
import { cloneState } from '../state.js';
import { allStatus, anyTrial, fail, primaryStatus, settle } from './common.js';

// checking: ask the device API whether there is something to install. current_version comes from the running
// slot's record, never from configuration.

/** Queries the API with the running version of the primary target. */
export function query(ctx: AgentContext): Promise<CheckResult> {
  return primaryStatus(ctx).then(function (status) {
    const current = status !== null ? status.runningVersion : null;
    return checkForUpdate(ctx.http, ctx.api, {
      serial: ctx.device.serial, hardwareVersion: ctx.device.hardwareVersion, softwareType: ctx.softwareType, currentVersion: current,
    }, ctx.policy.useLatestJson, ctx.policy.requestTimeoutMs, ctx.clock.now());
  });
}

/**
 * The state after the device API answered `result`: idle when it offers nothing (or a release given up before),
 * else `downloading` the offer, the partial download kept when it is the same artifact (marked asked: see AgentContext.askedFor).
 * A 204 while a release was in progress means it was withdrawn (the rollout aborted): the partial download is dropped.
 */
export function offered(ctx: AgentContext, state: AgentState, result: CheckResult): AgentState {
  const now = ctx.clock.now();
  const offer = result.update;
  if (offer === null) {
    ctx.emit({ type: 'up-to-date', at: now, reason: state.release !== null ? 'release-withdrawn' : result.reason !== null ? result.reason : undefined });
    const idle = settle(ctx, state);
    idle.release = null;
    idle.download = null;
    return idle;
  }
  const installed = state.givenUp.indexOf('+' + offer.id) >= 0;
  if (installed || state.givenUp.indexOf(offer.id) >= 0) {
    // A release without a part for the primary target leaves current_version as it was, so the server offers it again.
    ctx.emit({ type: 'up-to-date', at: now, version: offer.version, reason: 'release-' + (installed ? 'installed' : 'rejected') + '-before' });
    return settle(ctx, state);
  }
  const next = cloneState(state);
  let release = next.release;
  if (release === null || release.id !== offer.id) {
    release = { id: offer.id, version: offer.version, url: offer.url, urlExpiresAt: offer.expiresAt, size: offer.size, md5: offer.md5,
      validator: null, attempts: 0, restarts: 0 };
    next.release = release;
    next.download = null;
  } else {
    release.url = offer.url;
    release.urlExpiresAt = offer.expiresAt;
    if (offer.version !== null) release.version = offer.version;
  }
  ctx.askedFor = offer.id;
  ctx.emit({ type: 'update-available', at: now, version: offer.version, total: offer.size });
  next.phase = 'downloading';
  return next;
}

/**
 * The trial record for a trial the journal does not know (a power cut before it was journaled, or an activation that
 * stopped part-way): named after the first image on trial, so `confirmed` and `rolled-back` report what was tried.
 */
function adoptedTrial(ctx: AgentContext, statuses: TargetStatus[]): TrialState {
  let i = 0;
  while (!statuses[i].trial) i++;
  return { deadline: ctx.clock.now() + ctx.policy.healthDeadlineMs, version: statuses[i].runningVersion, previous: null };
}

/** The checking state. */
export function checking(ctx: AgentContext, state: AgentState): Promise<AgentState> {
  ctx.emit({ type: 'checking', at: ctx.clock.now() });
  return allStatus(ctx).then(function (statuses) {
    if (anyTrial(statuses)) {
      // A trial must be confirmed or reverted before anything may overwrite the fallback slot.
      const next = cloneState(state);
      next.phase = 'trial';
      // anyTrial(statuses) holds here, so adoptedTrial finds one.
      if (next.trial === null) next.trial = adoptedTrial(ctx, statuses);
      return next;
    }
    return query(ctx).then(function (result) {
      return offered(ctx, state, result);
    }, function (error: unknown) {
      // stop() ended the request: not a failure; the cycle ends 'stopped' and the next one checks again.
      if (ctx.cancelled()) return state;
      const failure = toOtaError(error, 'check-failed', true);
      // The configured base URL does not parse: a configuration error like a 400.
      if (failure.code === 'http-bad-url') failure.details = { stopPolling: true };
      return fail(ctx, state, failure);
    });
  });
}
