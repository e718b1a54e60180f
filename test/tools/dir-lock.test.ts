import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lockDirectory, processAlive, processStartTime } from '../../src/tools/dir-lock.js';

/** What a lock written by process `pid` holds: its pid and start time (just the pid without /proc). */
function lockText(pid: number): string {
  const start = processStartTime(pid);
  return start === null ? String(pid) : `${pid} ${start}`;
}

function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
}

describe('lockDirectory', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ota-dir-lock-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('admits one holder at a time (also within one process); release is idempotent and leaves no file', () => {
    const lock = lockDirectory(dir, 'test');
    expect(readFileSync(lock.path, 'utf8')).toBe(lockText(process.pid));
    expect(() => lockDirectory(dir, 'test')).toThrow(/another test \(pid [0-9]+, this process\) is using/);
    lock.release();
    lock.release();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('takes over the lock of a dead process or an unreadable one, refuses a live one, and never removes another holder\'s lock', () => {
    for (const stale of [String(deadPid()), '', 'garbage']) {
      writeFileSync(join(dir, 'lock'), stale);
      const lock = lockDirectory(dir, 'test');
      expect(readFileSync(lock.path, 'utf8')).toBe(lockText(process.pid));
      lock.release();
    }
    // A live holder (here the parent, in a lock with or without its start time) is refused, saying what to delete.
    for (const live of [lockText(process.ppid), String(process.ppid)]) {
      writeFileSync(join(dir, 'lock'), live);
      expect(() => lockDirectory(dir, 'test')).toThrow(expect.objectContaining({ code: 'dir-locked', details: expect.objectContaining({ pid: process.ppid }),
        message: expect.stringContaining(`(if no such program runs any more, delete ${join(dir, 'lock')})`) }));
      expect(readFileSync(join(dir, 'lock'), 'utf8')).toBe(live);
    }
    rmSync(join(dir, 'lock'));
    const lock = lockDirectory(dir, 'test');
    writeFileSync(lock.path, String(process.ppid));
    lock.release();
    expect(readFileSync(join(dir, 'lock'), 'utf8')).toBe(String(process.ppid));
    rmSync(join(dir, 'lock'));
    expect(readdirSync(dir)).toEqual([]);
  });

  it('takes over a lock whose pid now belongs to another process (it started later than the holder did)', () => {
    // Linux (CI, the development machine) has /proc; elsewhere the pid-only rule above is all there is.
    const start = processStartTime(process.ppid);
    expect(start).toMatch(/^[0-9]+$/);
    // The parent's pid with a start time that is not the parent's: the holder died and its pid was reused.
    writeFileSync(join(dir, 'lock'), `${process.ppid} ${BigInt(start!) + 1n}`);
    const lock = lockDirectory(dir, 'test');
    expect(readFileSync(lock.path, 'utf8')).toBe(lockText(process.pid));
    lock.release();
    // Our own pid left by an earlier process (a restarted container): not ours, so taken over too.
    writeFileSync(join(dir, 'lock'), `${process.pid} ${BigInt(processStartTime(process.pid)!) + 1n}`);
    lockDirectory(dir, 'test').release();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('processAlive: this process and its parent are alive; an exited child and pid 0 are not', () => {
    expect(processAlive(process.pid)).toBe(true);
    expect(processAlive(process.ppid)).toBe(true);
    expect(processAlive(deadPid())).toBe(false);
    expect(processAlive(0)).toBe(false);
  });
});
