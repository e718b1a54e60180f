import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

// Which of the agent's timers keep a Node process alive: the health deadline and the poll wait do (they are what the
// program waits for), and stop() releases the poll wait so the program can exit.

/** Runs the fixture in `mode`; resolves with its exit code (null when it had to be killed) and its JSON lines. */
function runFixture(mode: string): Promise<{ code: number | null; lines: Record<string, unknown>[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(join(process.cwd(), 'node_modules/.bin/tsx'), [join(__dirname, 'keep-alive.fixture.ts'), mode],
      // tsx runs the program in a child node process: start a process group so that the guard can kill all of it.
      { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { err += chunk.toString(); });
    // A bound, not a measurement: a process still alive this long waits for an hour-long timer.
    const guard = setTimeout(() => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* already gone */ } }, 15_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(guard);
      if (err.trim() !== '') process.stderr.write(err);
      resolve({ code, lines: out.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Record<string, unknown>) });
    });
  });
}

describe('agent timers and a Node process', () => {
  it('a self-test that never answers keeps the process alive until the health deadline reverts the trial', async () => {
    const { code, lines } = await runFixture('deadline');
    expect(code).toBe(0);
    expect(lines).toContainEqual({ event: 'error', code: 'health-deadline' });
    expect(lines[lines.length - 1]).toEqual({ outcome: 'rebooting', phase: 'rebooting' });
  }, 30_000);

  it('polling keeps the process alive until the first check, and stop() lets it exit', async () => {
    const { code, lines } = await runFixture('poll');
    expect(code).toBe(0);
    expect(lines.map((l) => l.event ?? 'stopped')).toEqual(['checking', 'up-to-date', 'stopped']);
  }, 30_000);
});
