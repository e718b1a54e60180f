import { otaError, toOtaError } from '../../util/errors.js';
import type { AgentContext } from '../context.js';
import type { AgentState } from '../state.js';
import { cloneState } from '../state.js';
import { giveUp, revertTrials, settle } from './common.js';
import { confirmRelease } from '../../bundle/activation.js';
import { stagedParts } from './install.js';

// trial: the new image runs unconfirmed. The application's self-test decides; if it says no, or says nothing
// before the health deadline, the agent reboots without confirming and the bootloader reverts to the old pair.
// confirmed / rolled-back: report and settle.

/** Waits for the self-test or the deadline, whichever comes first (no Promise.race in the portable subset). */
function verdict(ctx: AgentContext, deadline: number): Promise<string> {
  return new Promise<string>(function (resolve) {
    let settled = false;
    let cancel: (() => void) | null = null;
    function finish(outcome: string): void {
      if (settled) return;
      settled = true;
      if (cancel !== null) cancel();
      resolve(outcome);
    }
    const wait = deadline - ctx.clock.now();
    // A cancellable timer where the clock has one: a pending sleep would keep a Node process alive until the
    // deadline (five minutes by default) long after the self-test answered.
    if (typeof ctx.clock.timer === 'function') cancel = ctx.clock.timer(wait > 0 ? wait : 0, function () { finish('deadline'); });
    else ctx.clock.sleep(wait > 0 ? wait : 0).then(function () { finish('deadline'); });
    const test = ctx.selfTest !== null ? ctx.selfTest() : Promise.resolve(true);
    test.then(function (ok) { finish(ok ? 'ok' : 'failed'); }, function () { finish('failed'); });
  });
}

/** Confirms every target running a trial. */
function confirmAll(ctx: AgentContext): Promise<void> {
  function next(i: number): Promise<void> {
    if (i >= ctx.targets.length) return Promise.resolve();
    const target = ctx.targets[i];
    return target.status().then(function (status) {
      return status.trial ? target.confirm() : undefined;
    }).then(function () { return next(i + 1); });
  }
  return next(0);
}

/** The trial state. */
export function trial(ctx: AgentContext, input: AgentState): Promise<AgentState> {
  const state = cloneState(input);
  if (state.trial === null) state.trial = { deadline: 0, version: null, previous: null };
  const info = state.trial;
  if (info.deadline === 0) info.deadline = ctx.clock.now() + ctx.policy.healthDeadlineMs;
  return verdict(ctx, info.deadline).then(function (outcome) {
    if (outcome === 'ok') {
      // A bundle is confirmed part by part in activation order, each checked to run the release's version.
      const plan = info.plan !== undefined ? info.plan : null;
      const confirming = plan !== null ? Promise.resolve().then(function () { return confirmRelease({ parts: stagedParts(ctx, plan) }); })
        : confirmAll(ctx);
      return confirming.then(function () {
        state.phase = 'confirmed';
        return state;
      }, function (error: unknown) {
        const failure = toOtaError(error, 'confirm-failed', true);
        ctx.emit({ type: 'error', at: ctx.clock.now(), code: failure.code, retryable: failure.retryable, message: failure.message });
        return state;
      });
    }
    const error = outcome === 'deadline'
      ? otaError('health-deadline', 'Nothing confirmed the trial image within ' + ctx.policy.healthDeadlineMs + ' ms; rebooting to revert.', false)
      : otaError('self-test-failed', 'The application\'s self-test rejected the trial image; rebooting to revert.', false);
    ctx.emit({ type: 'error', at: ctx.clock.now(), code: error.code, retryable: false, message: error.message });
    info.deadline = -1;
    state.phase = 'rebooting';
    ctx.rebootRequested = true;
    return revertTrials(ctx).then(function () { return state; });
  });
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
  next.release = null;
  next.download = null;
  next.trial = null;
  return Promise.resolve(next);
}

/** The rolled-back state. */
export function rolledBack(ctx: AgentContext, input: AgentState): Promise<AgentState> {
  const state = cloneState(input);
  const version = state.trial !== null ? state.trial.version : null;
  ctx.emit({ type: 'rolled-back', at: ctx.clock.now(), version: version });
  if (state.release !== null) giveUp(state, state.release.id);
  const next = settle(ctx, state);
  next.release = null;
  next.download = null;
  next.trial = null;
  next.lastError = 'rolled-back';
  return Promise.resolve(next);
}
