import { accessSync, constants, statSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';

// Checks made before a host tool reads or writes a file the user named, so the command can say which flag and path
// is wrong and what to do, instead of a raw ENOENT/EISDIR. Each returns a sentence (no trailing period) or null.

function statOf(path: string): Stats | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

/** Why `path` cannot be read as a file, or null when it can. */
export function readProblem(path: string): string | null {
  const info = statOf(path);
  if (info === null) {
    const parent = statOf(dirname(path));
    return parent !== null && !parent.isDirectory() ? `${path} does not exist (${dirname(path)} is not a directory)` : `${path} does not exist`;
  }
  if (info.isDirectory()) return `${path} is a directory, not a file`;
  try {
    accessSync(path, constants.R_OK);
  } catch {
    return `${path} is not readable (permission denied)`;
  }
  return null;
}

/**
 * Why a new file cannot be written at `path`, or null when it can: its directory must exist and be writable, and
 * `path` must not be a directory, nor exist at all unless `overwrite` (then the message names `forceFlag`).
 */
export function writeProblem(path: string, overwrite: boolean, forceFlag = '--force'): string | null {
  const dir = dirname(path);
  const parent = statOf(dir);
  if (parent === null) return `the directory ${dir} does not exist; create it first or write elsewhere`;
  if (!parent.isDirectory()) return `${dir} is not a directory`;
  const info = statOf(path);
  if (info !== null && info.isDirectory()) return `${path} is a directory; name a file`;
  if (info !== null && !overwrite) return `${path} exists; pass ${forceFlag} to overwrite it`;
  try {
    accessSync(info !== null ? path : dir, constants.W_OK);
  } catch {
    return `${info !== null ? path : dir} is not writable (permission denied)`;
  }
  return null;
}

/** True when `a` and `b` name the same existing file (same device and inode: through symlinks and hard links too). */
export function sameFile(a: string, b: string): boolean {
  const x = statOf(a);
  const y = statOf(b);
  return x !== null && y !== null && x.dev === y.dev && x.ino === y.ino;
}
