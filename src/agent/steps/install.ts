import { toOtaError } from '../../util/errors.js';
import type { AgentContext } from '../context.js';
import type { AgentState } from '../state.js';
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

/** The staged state. */
export function staged(ctx: AgentContext, input: AgentState): Promise<AgentState> {
  const state = cloneState(input);
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
          softwareTypes: order !== null ? order : [],
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
