import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lockDirectory, processAlive } from '../../src/tools/dir-lock.js';

function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
}

describe('lockDirectory', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ota-dir-lock-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('admits one holder at a time (also within one process); release is idempotent and leaves no file', () => {
    const lock = lockDirectory(dir, 'test');
    expect(readFileSync(lock.path, 'utf8')).toBe(String(process.pid));
    expect(() => lockDirectory(dir, 'test')).toThrow(/another test \(pid [0-9]+, this process\) is using/);
    lock.release();
    lock.release();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('takes over the lock of a dead process or an unreadable one, refuses a live one, and never removes another holder\'s lock', () => {
    for (const stale of [String(deadPid()), '', 'garbage']) {
      writeFileSync(join(dir, 'lock'), stale);
      const lock = lockDirectory(dir, 'test');
      expect(readFileSync(lock.path, 'utf8')).toBe(String(process.pid));
      lock.release();
    }
    writeFileSync(join(dir, 'lock'), String(process.ppid));
    // A live holder may be an unrelated process that reused a dead holder's pid: the message says what to delete then.
    expect(() => lockDirectory(dir, 'test')).toThrow(expect.objectContaining({ code: 'dir-locked', details: expect.objectContaining({ pid: process.ppid }),
      message: expect.stringContaining(`its pid was reused by another process: delete ${join(dir, 'lock')}`) }));
    expect(readFileSync(join(dir, 'lock'), 'utf8')).toBe(String(process.ppid));
    rmSync(join(dir, 'lock'));
    const lock = lockDirectory(dir, 'test');
    writeFileSync(lock.path, String(process.ppid));
    lock.release();
    expect(readFileSync(join(dir, 'lock'), 'utf8')).toBe(String(process.ppid));
    rmSync(join(dir, 'lock'));
    expect(readdirSync(dir)).toEqual([]);
  });

  it('processAlive: this process and its parent are alive; an exited child and pid 0 are not', () => {
    expect(processAlive(process.pid)).toBe(true);
    expect(processAlive(process.ppid)).toBe(true);
    expect(processAlive(deadPid())).toBe(false);
    expect(processAlive(0)).toBe(false);
  });
});
