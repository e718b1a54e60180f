import type { ImageTarget } from '../../hal/image-target.js';
import type { StagedPart } from './unpacker.js';
import { isOtaError, otaError } from '../util/errors.js';

// Activation of a multi-part release, in the manifest's activation order, after every part verified.
//
// A part that a later part requires is switched to and confirmed before the next part is activated, when its
// target can do that on its own (a co-processor the main MCU resets: ImmediateSwitch). Otherwise a power cut while
// both were unconfirmed trials could revert the dependency but not its dependent (their bootloaders count boot
// attempts independently) and run a pair the manifest forbids. With dependencies first and confirmed, every
// reachable state is the old set, a prefix of the new set over the old (declared compatible by `requires` and
// the requires-order rule), or the new set. Parts nothing depends on are only marked pending: they become trials
// at the next reboot and are kept only if confirmRelease runs, so those are all or nothing together.
//
// Both functions are idempotent and can simply be called again after a power cut: a part whose target already
// runs its version is not activated again.

/** A target that can boot its staged image now, check it runs, and confirm it (e.g. the WiFi co-processor). */
export interface ImmediateSwitch {
  /**
   * Reboots into the pending image; resolves once it runs `version` and is confirmed, rejects otherwise (with
   * `details.reverted` true when the target's bootloader refused the image: the release is then rolled back).
   */
  switchNow(version: string): Promise<void>;
}

/** The parts in activation order (lower order first). */
export function inActivationOrder(parts: StagedPart[]): StagedPart[] {
  const sorted: StagedPart[] = [];
  for (let i = 0; i < parts.length; i++) sorted.push(parts[i]);
  sorted.sort(function (a, b) { return a.order - b.order; });
  return sorted;
}

function switchOf(target: ImageTarget): ImmediateSwitch | null {
  const candidate = target as unknown as { switchNow?: unknown };
  return typeof candidate.switchNow === 'function' ? (target as unknown as ImmediateSwitch) : null;
}

/** True when a part after `index` (in `sorted`) requires the software type of part `index`. */
function isRequiredLater(sorted: StagedPart[], index: number): boolean {
  for (let j = index + 1; j < sorted.length; j++) {
    for (let r = 0; r < sorted[j].requires.length; r++) if (sorted[j].requires[r].softwareType === sorted[index].softwareType) return true;
  }
  return false;
}

function failure(part: StagedPart, done: string[], error: unknown): string {
  return '"' + part.softwareType + '" ' + part.version + ' (' + (isOtaError(error) ? error.message : String(error)) + '). Done before it, ' +
    'in order: ' + (done.length > 0 ? done.join(', ') : 'none') + '. ';
}

function activationFailed(part: StagedPart, done: string[], error: unknown): object {
  return otaError('activation-failed', 'Could not activate ' + failure(part, done, error) + 'Do not confirm this release; its ' +
    'unconfirmed images revert on their next boot.', isOtaError(error) ? error.retryable : false,
  { softwareType: part.softwareType, done: done }, error);
}

function confirmFailed(part: StagedPart, done: string[], error: unknown): object {
  return otaError('confirm-failed', 'Could not confirm ' + failure(part, done, error) + 'Retry confirming; unconfirmed images revert ' +
    'on their next boot.', isOtaError(error) ? error.retryable : false, { softwareType: part.softwareType, done: done }, error);
}

/** Activates one part unless its target already runs it; switches and confirms it now when later parts need it. */
function activateOne(sorted: StagedPart[], index: number): Promise<void> {
  const part = sorted[index];
  const immediate = isRequiredLater(sorted, index) ? switchOf(part.target) : null;
  return part.target.status().then(function (status) {
    if (status.runningVersion === part.version) {
      // Already switched by an earlier, interrupted call: make sure a dependency is not left as a trial.
      return immediate !== null && status.trial ? part.target.confirm() : undefined;
    }
    return part.target.activate().then(function () {
      return immediate === null ? undefined : immediate.switchNow(part.version);
    });
  });
}

/** Activates every staged part in activation order; call only after every part verified. Safe to call again. */
export function activateRelease(release: { parts: StagedPart[] }): Promise<void> {
  const sorted = inActivationOrder(release.parts);
  const done: string[] = [];
  let index = 0;
  const next = function (): Promise<void> | undefined {
    if (index >= sorted.length) return undefined;
    const i = index++;
    return activateOne(sorted, i).then(function () {
      done.push(sorted[i].softwareType);
      return next();
    }, function (error: unknown) {
      throw activationFailed(sorted[i], done, error);
    });
  };
  return Promise.resolve().then(next);
}

/** Confirms every part after the trial boot passed, in activation order (dependencies first). Safe to call again. */
export function confirmRelease(release: { parts: StagedPart[] }): Promise<void> {
  const sorted = inActivationOrder(release.parts);
  const done: string[] = [];
  let index = 0;
  const next = function (): Promise<void> | undefined {
    if (index >= sorted.length) return undefined;
    const part = sorted[index++];
    return part.target.status().then(function (status) {
      if (status.runningVersion !== part.version) {
        throw otaError('release-not-running', '"' + part.softwareType + '" runs ' + String(status.runningVersion) + ', not the ' +
          'release\'s ' + part.version + ' (its trial reverted); the release failed and is not confirmed.', false);
      }
      return part.target.confirm();
    }).then(function () {
      done.push(part.softwareType);
      return next();
    }, function (error: unknown) {
      throw confirmFailed(part, done, error);
    });
  };
  return Promise.resolve().then(next);
}
