import type { StagedPart } from './unpacker.js';
import { isOtaError, otaError } from '../util/errors.js';

// Activation of a multi-part release: all or nothing, in the manifest's activation order. A target's activate()
// only marks its verified staged image pending; nothing runs it before the next reboot, and nothing is kept unless
// it is confirmed. So a failure part-way leaves a prefix of the order pending and unconfirmed: the manifest
// guarantees (requires-order) that every prefix is a compatible set, and the bootloaders revert the unconfirmed
// images. The agent confirms only after every part activated, rebooted and passed its health check.

/** The parts in activation order (lower order first). */
export function inActivationOrder(parts: StagedPart[]): StagedPart[] {
  const sorted: StagedPart[] = [];
  for (let i = 0; i < parts.length; i++) sorted.push(parts[i]);
  sorted.sort(function (a, b) { return a.order - b.order; });
  return sorted;
}

function runInOrder(parts: StagedPart[], step: 'activate' | 'confirm'): Promise<void> {
  const sorted = inActivationOrder(parts);
  const done: string[] = [];
  let index = 0;
  const next = function (): Promise<void> | undefined {
    if (index >= sorted.length) return undefined;
    const part = sorted[index++];
    const call = step === 'activate' ? part.target.activate() : part.target.confirm();
    return call.then(function () {
      done.push(part.softwareType);
      return next();
    }, function (error: unknown) {
      throw otaError(step === 'activate' ? 'activation-failed' : 'confirm-failed', 'Could not ' + step + ' "' + part.softwareType + '" (' +
        (isOtaError(error) ? error.message : String(error)) + '). Done before it, in order: ' + (done.length > 0 ? done.join(', ') : 'none') +
        '. ' + (step === 'activate' ? 'Do not confirm this release; its unconfirmed images revert on the next boot.' :
        'Retry confirming; unconfirmed images revert on their next boot.'), isOtaError(error) ? error.retryable : false,
      { softwareType: part.softwareType, done: done }, error);
    });
  };
  return Promise.resolve().then(next);
}

/** Marks every staged part pending, one at a time in activation order; call only after every part verified. */
export function activateRelease(release: { parts: StagedPart[] }): Promise<void> {
  return runInOrder(release.parts, 'activate');
}

/** Confirms every part after the trial boot passed, in activation order (dependencies first). */
export function confirmRelease(release: { parts: StagedPart[] }): Promise<void> {
  return runInOrder(release.parts, 'confirm');
}
