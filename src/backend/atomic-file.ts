import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';

/** Writes `text` to `path` so that a crash leaves either the old or the new file: temp file, fsync, rename. */
export function writeFileAtomic(path: string, text: string, mode = 0o600): void {
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  const fd = openSync(temp, 'w', mode);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, path);
}

/**
 * The asynchronous variant for background flushes: writes and fsyncs the temp file off the event loop, then asks
 * `stillCurrent()` right before the (synchronous) rename, so a slow flush never replaces a newer file.
 */
export async function writeFileAtomicAsync(path: string, text: string, stillCurrent: () => boolean, mode = 0o600): Promise<boolean> {
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await open(temp, 'w', mode);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  if (!stillCurrent()) {
    rmSync(temp, { force: true });
    return false;
  }
  renameSync(temp, path);
  return true;
}
