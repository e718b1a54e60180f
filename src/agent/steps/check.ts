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
      const now = ctx.clock.now();
      if (result.update === null) {
        ctx.emit({ type: 'up-to-date', at: now, reason: result.reason !== null ? result.reason : undefined });
        const idle = settle(ctx, state);
        idle.release = null;
        idle.download = null;
        return idle;
      }
      const offer = result.update;
      for (let i = 0; i < state.givenUp.length; i++) {
        if (state.givenUp[i] === offer.id) {
          ctx.emit({ type: 'up-to-date', at: now, version: offer.version, reason: 'release-rejected-before' });
          return settle(ctx, state);
        }
      }
      const next = cloneState(state);
      if (next.release === null || next.release.id !== offer.id) {
        next.release = { id: offer.id, version: offer.version, url: offer.url, urlExpiresAt: offer.expiresAt, size: offer.size, md5: offer.md5,
          validator: null, attempts: 0, restarts: 0 };
        next.download = null;
      } else {
        next.release.url = offer.url;
        next.release.urlExpiresAt = offer.expiresAt;
        if (offer.version !== null) next.release.version = offer.version;
      }
      ctx.emit({ type: 'update-available', at: now, version: offer.version, total: offer.size });
      next.phase = 'downloading';
      return next;
    }, function (error: unknown) {
      return fail(ctx, state, toOtaError(error, 'check-failed', true));
    });
  });
}
