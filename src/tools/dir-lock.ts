import { linkSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { otaError } from '../util/errors.js';

// One process per directory (the backend's data directory, a simulated device's flash): two writers would lose
// each other's changes. The lock is a file holding the holder's pid and, where /proc exists, its start time; a lock
// whose process is gone is stale and taken over. The start time tells a holder from an unrelated process that got its
// pid later (a container restarted, whose programs get the same small pids every time). Locks this process holds are
// also remembered, so a second holder inside one process is refused too.

/** A held directory lock; `release()` removes it (idempotent). */
export interface DirLock {
  path: string;
  release(): void;
}

const held = new Set<string>();

/** The fields of /proc/<pid>/stat after the command name (the state first), or null without procfs or process. */
function procStat(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** True when `pid` names a live process (a zombie, killed but not yet reaped, holds nothing). */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  // Without procfs, trust kill(0).
  const fields = procStat(pid);
  return fields === null || fields[0] !== 'Z';
}

/** Start time of process `pid` in clock ticks since boot (field 22 of /proc/<pid>/stat), or null without one. */
export function processStartTime(pid: number): string | null {
  const start = procStat(pid)?.[19];
  return start !== undefined && /^[0-9]+$/.test(start) ? start : null;
}

/** Who a lock file names: pid and start time (null in locks written without /proc); pid 0 for a garbled file. */
interface Holder {
  pid: number;
  start: string | null;
}

function holderOf(path: string): Holder | null {
  try {
    const match = /^([0-9]{1,10})(?: ([0-9]{1,20}))?$/.exec(readFileSync(path, 'utf8').trim());
    return match !== null ? { pid: Number(match[1]), start: match[2] ?? null } : { pid: 0, start: null };
  } catch {
    return null;
  }
}

/** True while the process that wrote the lock runs: its pid is alive and, when both are known, started when it did. */
function holderAlive(holder: Holder): boolean {
  if (!processAlive(holder.pid)) return false;
  const start = holder.start === null ? null : processStartTime(holder.pid);
  return start === null || start === holder.start;
}

const sameHolder = (a: Holder | null, b: Holder): boolean => a !== null && a.pid === b.pid && a.start === b.start;

/**
 * Who `<dir>/<name>` names, read without taking it: its pid (0 for a garbled file) and whether that process still
 * runs, by the same rules `lockDirectory` applies; null when there is no lock file.
 */
export function lockHolder(dir: string, name = 'lock'): { pid: number; running: boolean } | null {
  const path = join(dir, name);
  const holder = holderOf(path);
  if (holder === null) return null;
  // Our own pid counts only in a lock this process holds (see `held`); otherwise an earlier process with our pid left it.
  const running = holder.pid === process.pid ? held.has(path) : holder.pid !== 0 && holderAlive(holder);
  return { pid: holder.pid, running };
}

/** Creates `path` holding our pid, atomically (written aside, then hard-linked: never seen empty). False when it exists. */
function create(path: string): boolean {
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  const start = processStartTime(process.pid);
  writeFileSync(temp, start === null ? String(process.pid) : `${process.pid} ${start}`, { mode: 0o644 });
  try {
    linkSync(temp, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    rmSync(temp, { force: true });
  }
}

/**
 * Takes `<dir>/<name>` for this process, or throws `dir-locked` (details: holder pid, path) naming who holds it.
 * `who` names the kind of holder for the message (e.g. 'backend ("ota serve" or startBackend)').
 */
export function lockDirectory(dir: string, who: string, name = 'lock'): DirLock {
  const path = join(dir, name);
  const refuse = (pid: number): never => {
    throw otaError('dir-locked', `another ${who} (pid ${pid}${pid === process.pid ? ', this process' : ''}) is using ${dir}; stop it first, or use another directory` +
      (pid === process.pid ? '' : ` (if no such program runs any more, delete ${path})`), false, { pid, path });
  };
  if (held.has(path)) refuse(process.pid);
  for (let attempt = 0; attempt < 5; attempt++) {
    if (create(path)) {
      held.add(path);
      let released = false;
      return {
        path,
        release() {
          if (released) return;
          released = true;
          held.delete(path);
          if (holderOf(path)?.pid === process.pid) rmSync(path, { force: true });
        },
      };
    }
    const holder = holderOf(path);
    if (holder === null) continue;            // removed meanwhile: try again
    // Our own pid in a lock we do not hold (see `held`) was left by an earlier process that had the same pid.
    if (holder.pid !== process.pid && holderAlive(holder)) refuse(holder.pid);
    // Stale: move it aside (only one taker can), check that what moved is the stale lock we saw, then retry.
    const aside = `${path}.${randomBytes(6).toString('hex')}.stale`;
    try {
      renameSync(path, aside);
    } catch {
      continue;
    }
    const moved = holderOf(aside);
    if (moved !== null && !sameHolder(moved, holder) && holderAlive(moved)) {
      // A live holder took it over in between: give it back.
      try { linkSync(aside, path); } catch { /* it has a newer one */ }
      rmSync(aside, { force: true });
      refuse(moved.pid);
    }
    rmSync(aside, { force: true });
  }
  throw otaError('dir-locked', `could not take the lock ${path} (it keeps changing); another process is starting on ${dir}`, true, { path });
}
