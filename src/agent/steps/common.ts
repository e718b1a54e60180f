import type { TargetStatus } from '../../../hal/image-target.js';
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

/** Reports `error` and returns the backoff state (or a halted idle state for configuration errors). */
export function fail(ctx: AgentContext, state: AgentState, error: OtaError): AgentState {
  const next = cloneState(state);
  ctx.emit({ type: 'error', at: ctx.clock.now(), code: error.code, retryable: error.retryable, message: error.message, details: error.details });
  next.lastError = error.code;
  const details = error.details !== undefined ? error.details : {};
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

/** Remembers that `id` must not be installed again (bounded list). */
export function giveUp(state: AgentState, id: string): void {
  for (let i = 0; i < state.givenUp.length; i++) if (state.givenUp[i] === id) return;
  state.givenUp.push(id);
  if (state.givenUp.length > 4) state.givenUp = state.givenUp.slice(state.givenUp.length - 4);
}

/** Rejects every running trial on targets that have revert(); the bootloader reverts the rest. */
export function revertTrials(ctx: AgentContext): Promise<void> {
  function next(i: number): Promise<void> {
    if (i >= ctx.targets.length) return Promise.resolve();
    const target = ctx.targets[i];
    return target.status().then(function (status) {
      return status.trial && target.revert !== undefined ? target.revert() : undefined;
    }).then(function () { return next(i + 1); });
  }
  return next(0);
}
