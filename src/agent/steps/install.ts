import { otaError, toOtaError } from '../../util/errors.js';
import type { AgentContext } from '../context.js';
import type { AgentState, ReleasePlan, TrialState } from '../state.js';
import { activateRelease } from '../../bundle/activation.js';
import type { StagedPart } from '../../bundle/unpacker.js';
import { cloneState } from '../state.js';
import { allStatus, anyTrial, fail, primaryStatus, revertTrials } from './common.js';
import { targetFor } from '../../bundle/device-check.js';

// staged: the verified release is activated (each part marked pending, in the manifest's order), then the
// device reboots into the trial. rebooting: runs after that reboot and reads what the bootloader did.

/** Activates the targets of `types` in that order. */
function activateInOrder(ctx: AgentContext, types: string[]): Promise<void> {
  function next(i: number): Promise<void> {
    if (i >= types.length) return Promise.resolve();
    const target = targetFor(ctx.targets, types[i]);
    if (target === null) return next(i + 1);
    return target.activate().then(function () { return next(i + 1); });
  }
  return next(0);
}

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
 * A verified bundle: the trial record is journaled first (write-ahead), then activateRelease runs, which is
 * idempotent, so a power cut anywhere in it simply runs it again from this state. A part that a later part
 * requires is switched to and confirmed before the later part is marked pending, so every reachable pair is
 * the old one, a compatible prefix, or the new one.
 */
function stageBundle(ctx: AgentContext, state: AgentState, plan: ReleasePlan): Promise<AgentState> {
  const begin: Promise<void> = state.trial !== null && state.trial.plan !== undefined && state.trial.plan !== null ? Promise.resolve()
    : primaryStatus(ctx).then(function (status) {
      const release = state.release;
      state.trial = { deadline: 0, version: release !== null ? release.version : null, previous: status !== null ? status.runningVersion : null,
        plan: plan };
      return ctx.save(state);
    });
  return begin.then(function () {
    return activateRelease({ parts: stagedParts(ctx, plan) });
  }).then(function () {
    return allStatus(ctx);
  }).then(function (statuses) {
    const trialInfo = state.trial as TrialState;
    ctx.emit({ type: 'staged', at: ctx.clock.now(), version: trialInfo.version });
    state.phase = 'rebooting';
    ctx.live = null;
    // A power cut after the last part was marked pending already rebooted into the trial: no second reboot.
    ctx.rebootRequested = !anyTrial(statuses);
    return state;
  });
}

/** The staged state. */
export function staged(ctx: AgentContext, input: AgentState): Promise<AgentState> {
  const state = cloneState(input);
  const plan = state.download !== null && state.download.plan !== undefined ? state.download.plan : null;
  if (plan !== null) {
    return stageBundle(ctx, state, plan).then(undefined, function (error: unknown) {
      ctx.live = null;
      state.download = null;
      // Nothing is pending beyond a compatible prefix (activateRelease stops at the failing part): no trial to follow.
      state.trial = null;
      return fail(ctx, state, toOtaError(error, 'activation-failed', true));
    });
  }
  return allStatus(ctx).then(function (statuses) {
    if (anyTrial(statuses)) {
      // Power went after activation: the bootloader already started the trial.
      state.phase = 'rebooting';
      return state;
    }
    return primaryStatus(ctx).then(function (status) {
      const download = state.download;
      const live = ctx.live !== null && state.release !== null && ctx.live.releaseId === state.release.id ? ctx.live.sink : null;
      const order = download !== null && download.activation !== undefined ? download.activation : null;
      if (live === null && order === null) {
        state.phase = 'verifying';
        return state;
      }
      // Verified in this power cycle (live sink), or before it (each target's slot is recorded "staged" only after
      // its read-back check, and activate() refuses anything else).
      const activation = live !== null ? live.activate() : activateInOrder(ctx, order as string[]);
      return activation.then(function () {
        const release = state.release;
        state.trial = {
          deadline: 0,
          version: release !== null ? release.version : null,
          previous: status !== null ? status.runningVersion : null,
        };
        ctx.emit({ type: 'staged', at: ctx.clock.now(), version: state.trial.version });
        state.phase = 'rebooting';
        ctx.live = null;
        ctx.rebootRequested = true;
        return state;
      });
    }).then(undefined, function (error: unknown) {
      ctx.live = null;
      state.download = null;
      return fail(ctx, state, toOtaError(error, 'activation-failed', true));
    });
  });
}

/** The rebooting state, as seen after the reboot: trial started, or the bootloader reverted. */
export function rebooting(ctx: AgentContext, input: AgentState): Promise<AgentState> {
  const state = cloneState(input);
  return allStatus(ctx).then(function (statuses) {
    return primaryStatus(ctx).then(function (primary) {
      const trial = state.trial;
      const expected = trial !== null ? trial.version : null;
      const running = primary !== null ? primary.runningVersion : null;
      const landed = expected !== null ? running === expected : (trial !== null && running !== trial.previous);
      if (anyTrial(statuses) && !landed && primary !== null && !primary.trial) {
        // The main image reverted (it crashed) while another part boots its trial: never confirm a half pair.
        if (trial !== null) trial.deadline = -1;
        ctx.rebootRequested = true;
        return revertTrials(ctx).then(function () { return state; });
      }
      if (anyTrial(statuses)) {
        if (trial !== null && trial.deadline === 0) trial.deadline = ctx.clock.now() + ctx.policy.healthDeadlineMs;
        ctx.emit({ type: 'trial-started', at: ctx.clock.now(), version: running });
        state.phase = 'trial';
        return state;
      }
      state.phase = landed ? 'confirmed' : 'rolled-back';
      return state;
    });
  });
}
