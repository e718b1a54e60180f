import { lockDirectory } from '../tools/dir-lock.js';
import { isOtaError } from '../util/errors.js';
import { UsageError } from './args.js';

// DIR/lock of `ota device run`: two processes on one flash would corrupt it. The directory lock the backend uses
// too (a lock of a dead process is stale and taken over); here a held lock is a usage error (exit 2).

/** Takes DIR/lock for this process (DIR must exist) and returns a function that releases it. */
export function takeDeviceLock(dir: string): () => void {
  try {
    const lock = lockDirectory(dir, '"ota device run"');
    return () => { lock.release(); };
  } catch (error) {
    if (isOtaError(error) && error.code === 'dir-locked') throw new UsageError(error.message);
    throw error;
  }
}
