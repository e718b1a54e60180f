import { toOtaError } from '../../util/errors.js';
import type { AgentContext } from '../context.js';
import type { AgentState } from '../state.js';
import { cloneState } from '../state.js';
import { allStatus, anyTrial, fail, primaryStatus } from './common.js';
import { reopenSink } from './verify.js';

// staged: the verified release is activated (each part marked pending, in the manifest's order), then the
// device reboots into the trial. rebooting: runs after that reboot and reads what the bootloader did.

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
      return reopenSink(ctx, state).then(function (sink) {
        if (sink === null) {
          state.phase = 'verifying';
          return state;
        }
        // A reopened sink has not verified in this power cycle: verify again before activating anything.
        const verified = ctx.live !== null && ctx.live.sink === sink ? Promise.resolve() : sink.finish();
        return verified.then(function () { return sink.activate(); }).then(function () {
          const release = state.release;
          state.trial = {
            deadline: 0,
            version: release !== null ? release.version : null,
            previous: status !== null ? status.runningVersion : null,
            softwareTypes: sink.softwareTypes(),
          };
          ctx.emit({ type: 'staged', at: ctx.clock.now(), version: state.trial.version });
          state.phase = 'rebooting';
          ctx.live = null;
          ctx.rebootRequested = true;
          return state;
        });
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
      if (anyTrial(statuses)) {
        if (trial !== null && trial.deadline === 0) trial.deadline = ctx.clock.now() + ctx.policy.healthDeadlineMs;
        ctx.emit({ type: 'trial-started', at: ctx.clock.now(), version: running });
        state.phase = 'trial';
        return state;
      }
      const landed = expected !== null ? running === expected : (trial !== null && running !== trial.previous);
      state.phase = landed ? 'confirmed' : 'rolled-back';
      return state;
    });
  });
}
