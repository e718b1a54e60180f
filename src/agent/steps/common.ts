import type { ImageTarget, TargetStatus } from '../../../hal/image-target.js';
import type { Clock } from '../../util/clock.js';
import type { OtaError } from '../../util/errors.js';
import type { AgentContext } from '../context.js';
import { backoffDelay, intervalDelay, parseRetryAfter } from '../policy.js';
import type { AgentState } from '../state.js';
import { cloneState } from '../state.js';
import { targetFor } from '../../bundle/device-check.js';

// Helpers shared by the state functions.

/** Status of every target, in the order given. */
export function allStatus(ctx: AgentContext): Promise<TargetStatus[]> {
  const out: TargetStatus[] = [];
  function next(i: number): Promise<TargetStatus[]> {
    if (i >= ctx.targets.length) return Promise.resolve(out);
    return ctx.targets[i].status().then(function (status) {
      out.push(status);
      return next(i + 1);
    });
  }
  return next(0);
}

/** The status of the target the device queries for (its running version is `current_version`). */
export function primaryStatus(ctx: AgentContext): Promise<TargetStatus | null> {
  const target = targetFor(ctx.targets, ctx.softwareType);
  if (target === null) return Promise.resolve(null);
  return target.status();
}

/** True when any target runs an unconfirmed trial. */
export function anyTrial(statuses: TargetStatus[]): boolean {
  for (let i = 0; i < statuses.length; i++) if (statuses[i].trial) return true;
  return false;
}

/** Emits the `error` event of `error`. */
export function reportError(ctx: AgentContext, error: OtaError): void {
  ctx.emit({ type: 'error', at: ctx.clock.now(), code: error.code, retryable: error.retryable, message: error.message, details: error.details });
}

/** Reports `error` and returns the backoff state (or a halted idle state for configuration errors). */
export function fail(ctx: AgentContext, state: AgentState, error: OtaError): AgentState {
  const next = cloneState(state);
  reportError(ctx, error);
  next.lastError = error.code;
  const details = error.details !== undefined ? error.details : {};
  // The configuration is wrong (400/403, a base URL that does not parse): retrying cannot help.
  if (details.stopPolling === true) {
    next.phase = 'idle';
    next.notBefore = -1;
    return next;
  }
  next.failures = state.failures + 1;
  const retryAfter = typeof details.retryAfter === 'string' ? parseRetryAfter(details.retryAfter, ctx.clock.now()) : -1;
  const delay = backoffDelay(ctx.policy, next.failures, retryAfter, ctx.random);
  next.phase = 'backoff';
  next.notBefore = ctx.clock.now() + delay;
  ctx.emit({ type: 'backoff', at: ctx.clock.now(), delayMs: delay, code: error.code });
  return next;
}

/** The idle state after a finished cycle, with the next regular check scheduled. */
export function settle(ctx: AgentContext, state: AgentState): AgentState {
  const next = cloneState(state);
  next.phase = 'idle';
  next.failures = 0;
  next.lastError = null;
  next.notBefore = ctx.clock.now() + intervalDelay(ctx.policy, ctx.random);
  return next;
}

/** Remembers that `id` must not be installed again (bounded list); '+' before the id: it was installed, not refused. */
export function giveUp(state: AgentState, id: string): void {
  for (let i = 0; i < state.givenUp.length; i++) if (state.givenUp[i] === id) return;
  state.givenUp.push(id);
  if (state.givenUp.length > 4) state.givenUp = state.givenUp.slice(state.givenUp.length - 4);
}

/** Runs `act` on every target with its status, in order (act decides: undefined does nothing). */
export function eachTarget(ctx: AgentContext, act: (target: ImageTarget, status: TargetStatus) => Promise<void> | undefined): Promise<void> {
  function next(i: number): Promise<void> {
    if (i >= ctx.targets.length) return Promise.resolve();
    const target = ctx.targets[i];
    return target.status().then(function (status) {
      return act(target, status);
    }).then(function () { return next(i + 1); });
  }
  return next(0);
}

/** Rejects every running trial on targets that have revert(); the bootloader reverts the rest. */
export function revertTrials(ctx: AgentContext): Promise<void> {
  return eachTarget(ctx, function (target, status) { return status.trial && target.revert !== undefined ? target.revert() : undefined; });
}

/**
 * Reverts every trial and asks for a reboot; the bootloader then boots the confirmed images and `rolled-back`
 * reports `reason` (journaled as lastError).
 */
export function revertAndReboot(ctx: AgentContext, state: AgentState, reason: string): Promise<AgentState> {
  if (state.trial !== null) state.trial.deadline = -1;
  state.lastError = reason;
  state.phase = 'rebooting';
  ctx.rebootRequested = true;
  return revertTrials(ctx).then(function () { return state; });
}

/**
 * Resolves true after `ms`, or false as soon as the function handed to `expose` is called (stop()); that cancels the
 * timer, and calling it later does nothing. The timer holds the host process (see Clock.timer): the agent's waits
 * (the health deadline, the next poll) are what the program waits for.
 */
export function pause(clock: Clock, ms: number, expose: (stop: () => void) => void): Promise<boolean> {
  return new Promise<boolean>(function (resolve) {
    let cancel: (() => void) | null = null;
    function end(fired: boolean): void {
      if (cancel !== null) cancel();
      resolve(fired);
    }
    expose(function () { end(false); });
    if (typeof clock.timer === 'function') cancel = clock.timer(ms > 0 ? ms : 0, function () { end(true); }, true);
    else clock.sleep(ms > 0 ? ms : 0).then(function () { end(true); });
  });
}
