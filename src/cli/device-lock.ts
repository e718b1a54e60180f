import { DEVICE_LOCK_HOLDER } from '../node/sim-device.js';
import { lockDirectory, lockHolder } from '../tools/dir-lock.js';
import { isOtaError } from '../util/errors.js';
import { UsageError } from './args.js';

// DIR/lock of `ota device run`: two processes on one flash would corrupt it. The directory lock the backend uses
// too (a lock of a dead process is stale and taken over), and the one a SimDevice with `dir` takes, so a program's
// SimDevice and the command keep off each other's directory; here a held lock is a usage error (exit 2).

/** Takes DIR/lock for this process (DIR must exist) and returns a function that releases it. */
export function takeDeviceLock(dir: string): () => void {
  try {
    const lock = lockDirectory(dir, DEVICE_LOCK_HOLDER);
    return () => { lock.release(); };
  } catch (error) {
    if (isOtaError(error) && error.code === 'dir-locked') throw new UsageError(error.message);
    throw error;
  }
}

/** Who holds (or last held) DIR/lock: its pid, and whether that process still runs; null when nothing holds it. */
export interface DeviceLockHolder {
  pid: number;
  running: boolean;
}

/**
 * Reads DIR/lock without taking it. A lock whose process is gone was left by a run that never stopped cleanly (a kill -9,
 * a crash, a power cut of the host): the device was cut off mid-cycle, and its journal says where it resumes.
 */
export function deviceLockHolder(dir: string): DeviceLockHolder | null {
  return lockHolder(dir);
}
