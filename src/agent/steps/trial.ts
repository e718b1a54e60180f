import { targetFor } from '../../bundle/device-check.js';
import { otaError, toOtaError } from '../../util/errors.js';
import type { AgentContext } from '../context.js';
import type { AgentState } from '../state.js';
import { cloneState } from '../state.js';
import { allStatus, anyTrial, eachTarget, fail, giveUp, pause, reportError, revertAndReboot, settle } from './common.js';
import { confirmRelease } from '../../bundle/activation.js';
import { ended, stagedParts } from './install.js';

// trial: the new image runs unconfirmed. The application's self-test decides; if it says no, or says nothing
// before the health deadline, the agent reboots without confirming and the bootloader reverts to the old pair.
// confirmed / rolled-back: report and settle.

/**
 * Waits for the self-test, the deadline or stop(), whichever comes first (no Promise.race in the portable subset).
 * The deadline timer is cancelled once the self-test answers, and it holds a Node process meanwhile: a self-test
 * that never answers leaves nothing else pending, and the deadline firing is what reverts the image.
 */
function verdict(ctx: AgentContext, deadline: number): Promise<string> {
  return new Promise<string>(function (resolve) {
    let stop: (() => void) | null = null;
    pause(ctx.clock, deadline - ctx.clock.now(), function (end) { stop = end; ctx.interrupt = end; }).then(function (fired) {
      ctx.interrupt = null;
      resolve(fired ? 'deadline' : 'stopped');
    });
    // The first resolve wins; stopping the wait after an answer only cancels its timer.
    function answer(outcome: string): void {
      resolve(outcome);
      (stop as () => void)();
    }
    // Only a plain true confirms. A self-test that throws says no; one that returns a boolean instead of a promise is
    // taken at its word; anything else (on Espruino 2v29, a promise whose executor kept no reference to resolve is freed
    // at once and has no then) can never answer yes.
    Promise.resolve().then(ctx.selfTest !== null ? ctx.selfTest : function () { return true; }).then(function (ok) {
      answer(ok === true ? 'ok' : 'failed');
    }, function () { answer('failed'); });
  });
}

/** The trial state. */
export function trial(ctx: AgentContext, input: AgentState): Promise<AgentState> {
  const state = cloneState(input);
  if (state.trial === null) state.trial = { deadline: 0, version: null, previous: null };
  const info = state.trial;
  if (info.deadline === 0) info.deadline = ctx.clock.now() + ctx.policy.healthDeadlineMs;
  return allStatus(ctx).then(function (statuses) {
    if (!anyTrial(statuses)) {
      // Nothing runs a trial any more (the bootloader reverted it after its boot attempts, or it was confirmed
      // outside the agent): waiting for a verdict or confirming again could never end. Report what runs.
      return ended(ctx, state, statuses);
    }
    return verdict(ctx, info.deadline).then(function (outcome) {
      // stop(): the trial goes on (its deadline is journaled); the next cycle waits for the verdict again.
      if (outcome === 'stopped') return state;
      if (outcome === 'ok') {
        // A bundle is confirmed part by part in activation order, each checked to run the release's version.
        const plan = info.plan !== undefined ? info.plan : null;
        const confirming = plan !== null ? Promise.resolve().then(function () { return confirmRelease({ parts: stagedParts(ctx, plan) }); })
          : eachTarget(ctx, function (target, status) { return status.trial ? target.confirm() : undefined; });
        return confirming.then(function () {
          state.phase = 'confirmed';
          return state;
        }, function (error: unknown) {
          const failure = toOtaError(error, 'confirm-failed', true);
          // A part that no longer runs the release (it reverted) cannot be confirmed by retrying: revert the rest,
          // never keep half a release. A transient failure backs off and the next cycle confirms again.
          if (!failure.retryable) {
            reportError(ctx, failure);
            return revertAndReboot(ctx, state, failure.code);
          }
          return fail(ctx, state, failure);
        });
      }
      const error = outcome === 'deadline'
        ? otaError('health-deadline', 'Nothing confirmed the trial image within ' + ctx.policy.healthDeadlineMs + ' ms; rebooting to revert.', false)
        : otaError('self-test-failed', 'The application\'s self-test rejected the trial image; rebooting to revert.', false);
      reportError(ctx, error);
      return revertAndReboot(ctx, state, error.code);
    });
  });
}

/** `state` (settled) without the release it finished. */
function finished(state: AgentState): AgentState {
  state.release = null;
  state.download = null;
  state.trial = null;
  return state;
}

/** The confirmed state. */
export function confirmed(ctx: AgentContext, input: AgentState): Promise<AgentState> {
  const version = input.trial !== null ? input.trial.version : null;
  ctx.emit({ type: 'confirmed', at: ctx.clock.now(), version: version });
  const next = settle(ctx, input);
  // Reached only once every part's confirmation is durable: from now on a bundle must be newer than this one.
  const plan = input.trial !== null && input.trial.plan !== undefined ? input.trial.plan : null;
  const installed = typeof input.installedSequence === 'number' ? input.installedSequence : 0;
  if (plan !== null && plan.sequence > installed) next.installedSequence = plan.sequence;
  // A bundle that leaves the primary target alone (WiFi only) does not change current_version, so the server offers it
  // again: remember it as done (the next check answers it up to date) rather than install it again.
  if (plan !== null && input.release !== null && targetFor(plan.parts, ctx.softwareType) === null) giveUp(next, '+' + input.release.id);
  return Promise.resolve(finished(next));
}

/** The rolled-back state. */
export function rolledBack(ctx: AgentContext, input: AgentState): Promise<AgentState> {
  const state = cloneState(input);
  const version = state.trial !== null ? state.trial.version : null;
  // lastError carries why (journaled by whatever sent it here): health-deadline, self-test-failed, trial-reverted, ...
  ctx.emit({ type: 'rolled-back', at: ctx.clock.now(), version: version, reason: state.lastError || undefined });
  if (state.release !== null) giveUp(state, state.release.id);
  const next = finished(settle(ctx, state));
  next.lastError = 'rolled-back';
  return Promise.resolve(next);
}
