import type { TargetStatus } from '../../../hal/image-target.js';
import { otaError, toOtaError } from '../../util/errors.js';
import type { OtaError } from '../../util/errors.js';
import type { AgentContext } from '../context.js';
import type { AgentState, ReleasePlan, TrialState } from '../state.js';
import { activateRelease } from '../../bundle/activation.js';
import type { StagedPart } from '../../bundle/unpacker.js';
import { cloneState } from '../state.js';
import { allStatus, anyTrial, eachTarget, fail, primaryStatus, reportError, revertAndReboot } from './common.js';
import { targetFor } from '../../bundle/device-check.js';

// staged: the verified release is activated (each part marked pending, in the manifest's order), then the
// device reboots into the trial. rebooting: runs after that reboot and reads what the bootloader did.

/** The staged parts of a journaled plan, each mapped to this device's target (a missing target is an error). */
export function stagedParts(ctx: AgentContext, plan: ReleasePlan): StagedPart[] {
  const parts: StagedPart[] = [];
  for (let i = 0; i < plan.parts.length; i++) {
    const part = plan.parts[i];
    const target = targetFor(ctx.targets, part.softwareType);
    if (target === null) {
      throw otaError('part-unmapped', 'The journaled release has a "' + part.softwareType + '" part but this device has no target for ' +
        'it any more; nothing was activated.', false, { softwareType: part.softwareType });
    }
    parts.push({ softwareType: part.softwareType, version: part.version, order: part.order, requires: part.requires, target: target });
  }
  return parts;
}

/**
 * True when the release on trial runs: every part of a bundle its version (a bundle need not touch the primary
 * target: a WiFi-only one lands while the main image stays), a raw image on the primary target (its version, or
 * anything but the previous one when the image names none). Without a trial record (a raw image whose record a cut
 * lost), whatever runs a trial is the release.
 */
function landed(ctx: AgentContext, trial: TrialState | null, statuses: TargetStatus[]): boolean {
  if (trial === null) return anyTrial(statuses);
  const parts: { softwareType: string; version: string | null }[] = trial.plan ? trial.plan.parts : [{ softwareType: ctx.softwareType, version: trial.version }];
  let found = 0;
  for (let i = 0; i < statuses.length; i++) {
    for (let j = 0; j < parts.length; j++) {
      if (parts[j].softwareType !== ctx.targets[i].softwareType) continue;
      const running = statuses[i].runningVersion;
      if (parts[j].version !== null ? running !== parts[j].version : running === trial.previous) return false;
      found++;
    }
  }
  return found === parts.length;
}

/**
 * The verified release is activated. The trial record (with a bundle's plan) is journaled first (write-ahead); a
 * bundle then goes through activateRelease, which is idempotent, so a power cut anywhere in it simply runs it again
 * from this state. A part that a later part requires is switched to and confirmed before the later part is marked
 * pending, so every reachable pair is the old one, a compatible prefix, or the new one. A raw image is marked pending
 * by its sink (verified in this power cycle) or, after a power cut, by its target (each target's slot is recorded
 * "staged" only after its read-back check, and activate() refuses anything else); a trial that already runs means the
 * power went after its activation. Then the device reboots into the trial, unless it already did.
 */
export function staged(ctx: AgentContext, input: AgentState): Promise<AgentState> {
  const state = cloneState(input);
  const download = state.download;
  const plan = download !== null && download.plan !== undefined ? download.plan : null;
  const live = ctx.live !== null && state.release !== null && ctx.live.releaseId === state.release.id ? ctx.live.sink : null;
  const order = download !== null && download.activation !== undefined ? download.activation : null;
  return allStatus(ctx).then(function (statuses) {
    if (plan === null && (anyTrial(statuses) || (live === null && order === null))) {
      state.phase = anyTrial(statuses) ? 'rebooting' : 'verifying';
      return state;
    }
    return (state.trial !== null ? Promise.resolve() : primaryStatus(ctx).then(function (status) {
      state.trial = { deadline: 0, version: state.release !== null ? state.release.version : null,
        previous: status !== null ? status.runningVersion : null, plan: plan };
      return ctx.save(state);
    })).then(function () {
      if (plan !== null) return activateRelease({ parts: stagedParts(ctx, plan) });
      // A raw image has one target, so the journaled activation list needs no order.
      return live !== null ? live.activate()
        : eachTarget(ctx, function (target) { return (order as string[]).indexOf(target.softwareType) >= 0 ? target.activate() : undefined; });
    }).then(function () {
      return allStatus(ctx);
    }).then(function (after) {
      ctx.emit({ type: 'staged', at: ctx.clock.now(), version: (state.trial as TrialState).version });
      state.phase = 'rebooting';
      ctx.live = null;
      // A power cut after activation may have rebooted into the trial already: no second reboot then. But a cut
      // between parts leaves the first one booted and a later one only now marked pending: that one boots only if
      // the device reboots, so the test is whether the whole release runs, not whether anything is on trial.
      ctx.rebootRequested = !landed(ctx, state.trial, after);
      return state;
    }, function (error: unknown) {
      ctx.live = null;
      state.download = null;
      const failure = toOtaError(error, 'activation-failed', true);
      const cause = failure.cause as OtaError | null | undefined;
      if (cause && cause.details && cause.details.reverted) {
        // A part's bootloader refused its image in switchNow (details.reverted): rolled back and given up, as a reverted trial is.
        reportError(ctx, failure);
        state.lastError = 'trial-reverted';
        state.phase = 'rolled-back';
        return state;
      }
      // Nothing is pending beyond a compatible prefix (activateRelease stops at the failing part): no trial to follow.
      state.trial = null;
      return fail(ctx, state, failure);
    });
  });
}

/**
 * Where a trial that no target runs any more ends: `confirmed` when the release runs (confirmed outside the agent,
 * or a cut after the confirmation), else `rolled-back`: trial-reverted (the bootloader did it) unless the agent did.
 */
export function ended(ctx: AgentContext, state: AgentState, statuses: TargetStatus[]): AgentState {
  if (landed(ctx, state.trial, statuses)) {
    state.phase = 'confirmed';
  } else {
    if (state.trial === null || state.trial.deadline !== -1) state.lastError = 'trial-reverted';
    state.phase = 'rolled-back';
  }
  return state;
}

/** The rebooting state, as seen after the reboot: trial started, or the bootloader reverted. */
export function rebooting(ctx: AgentContext, input: AgentState): Promise<AgentState> {
  const state = cloneState(input);
  return allStatus(ctx).then(function (statuses) {
    const trial = state.trial;
    if (!anyTrial(statuses)) return ended(ctx, state, statuses);
    if (!landed(ctx, trial, statuses)) {
      // A part did not land (it crashed and reverted) while another boots its trial: never confirm half a release.
      return revertAndReboot(ctx, state, 'trial-reverted');
    }
    if (trial !== null && trial.deadline === 0) trial.deadline = ctx.clock.now() + ctx.policy.healthDeadlineMs;
    ctx.emit({ type: 'trial-started', at: ctx.clock.now(), version: trial !== null ? trial.version : null });
    state.phase = 'trial';
    return state;
  });
}
