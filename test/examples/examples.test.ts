import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inRollout } from '../../src/backend/index.js';
import { main as customTransport } from '../../examples/custom-transport.js';
import { main as deviceSimulator } from '../../examples/device-simulator.js';
import { main as fleetSimulator } from '../../examples/fleet-simulator.js';

// Runs every example the way a user would (their exported main(), plus one spawned as `tsx examples/<name>.ts`) and
// checks what it claims to show actually happened, so the examples cannot rot.

function collector(): { lines: string[]; print: (line: string) => void } {
  const lines: string[] = [];
  return { lines, print: (line) => { lines.push(line); } };
}

describe('examples/device-simulator.ts', () => {
  it('updates one file-backed two-MCU device to the signed release and then hears "latest"', async () => {
    const out = collector();
    const result = await deviceSimulator({}, out.print);
    expect(result.outcome).toBe('confirmed');
    expect(result.mainVersion).toBe('1.0.0');
    expect(result.wifiVersion).toBe('2.0.0');
    expect(result.nextCheck).toBe('up-to-date');
    expect(result.events.slice(0, 8)).toEqual(['checking', 'update-available', 'download-started', 'verified', 'staged', 'rebooting',
      'trial-started', 'confirmed']);
    expect(result.events.slice(8)).toEqual(['checking', 'up-to-date']);
    expect(existsSync(result.dir)).toBe(false);       // the temp flash directory is cleaned up
    expect(out.lines.some((l) => l.includes('main-fw 1.0.0, wifi-fw 2.0.0'))).toBe(true);
  });
});

describe('examples/fleet-simulator.ts', () => {
  it('updates exactly the devices the backend selects for the staged rollout, then the rest when widened', async () => {
    const devices = 12;
    const percent = 40;
    const out = collector();
    const result = await fleetSimulator({ devices, percent, imageBytes: 16 * 1024 }, out.print);
    const serials = Object.keys(result.running).sort();
    expect(serials).toHaveLength(devices);
    const expected = serials.filter((s) => inRollout(s, result.release, percent));
    // The selection must be a proper subset, or this test would not tell "staged" from "everyone" or "no one".
    expect(expected.length).toBeGreaterThan(0);
    expect(expected.length).toBeLessThan(devices);

    const [first, second] = result.waves;
    expect(first.selected).toEqual(expected);
    expect(first.updated.slice().sort()).toEqual(expected);
    expect(first.stayed.slice().sort()).toEqual(serials.filter((s) => !expected.includes(s)));
    expect(first.failed).toEqual([]);
    // Only updating devices fetch the payload, each once (plus an HTTP head).
    expect(first.bytesServed).toBeGreaterThanOrEqual(expected.length * result.payloadBytes);
    expect(first.bytesServed).toBeLessThan(expected.length * (result.payloadBytes + 2048));

    expect(second.percent).toBe(100);
    expect(second.updated.slice().sort()).toEqual(first.stayed.slice().sort());
    expect(second.stayed.slice().sort()).toEqual(expected);
    expect(second.failed).toEqual([]);
    expect(second.bytesServed).toBeGreaterThanOrEqual(first.stayed.length * result.payloadBytes);

    for (const serial of serials) {
      expect(result.running[serial]).toBe(result.release);
      expect(result.reported[serial]).toBe(result.release);
    }
  });

  it('without widening, the devices outside the rollout stay on the factory version', async () => {
    const result = await fleetSimulator({ devices: 6, percent: 50, imageBytes: 8 * 1024, widen: false }, () => undefined);
    expect(result.waves).toHaveLength(1);
    const onRelease = Object.keys(result.running).filter((s) => result.running[s] === result.release).sort();
    expect(onRelease).toEqual(result.waves[0].selected);
    for (const serial of Object.keys(result.running)) {
      if (!onRelease.includes(serial)) expect(result.running[serial]).toBe('1.0.0');
    }
  });

  it('refuses a fleet size or percentage it cannot simulate', async () => {
    await expect(fleetSimulator({ devices: 0 }, () => undefined)).rejects.toThrow(/devices must be/);
    await expect(fleetSimulator({ percent: 101 }, () => undefined)).rejects.toThrow(/percent must be/);
  });
});

describe('examples/custom-transport.ts', () => {
  it('the agent downloads through the wrapped transports, resumes after the simulated carrier loss and confirms', async () => {
    const dropAfter = 30_000;
    const out = collector();
    const result = await customTransport({ dropAfter }, out.print);
    expect(result.outcomes).toEqual(['rebooting', 'confirmed']);
    expect(result.running).toBe('2.0.0');
    // It resumed from a durable offset at or below the byte where the link dropped, not from zero.
    expect(result.resumedAt).not.toBeNull();
    expect(result.resumedAt as number).toBeGreaterThan(0);
    expect(result.resumedAt as number).toBeLessThanOrEqual(dropAfter);
    // The counting layer saw the API connection and two CDN connections (the dropped one and the resumed one), all TLS.
    expect(result.connections.length).toBe(3);
    for (const c of result.connections) expect(c.protocol).toMatch(/^TLSv1\.[23]$/);
    const ports = new Set(result.connections.map((c) => c.port));
    expect(ports.size).toBe(2);
    // Every payload byte came through it; the resume re-fetched at most what was not yet durable.
    expect(result.totalIn).toBeGreaterThanOrEqual(result.payloadBytes);
    expect(result.totalIn).toBeLessThan(result.payloadBytes + (dropAfter - (result.resumedAt as number)) + 8192);
    expect(out.lines.filter((l) => l.startsWith('[transport] connect'))).toHaveLength(3);
  });

  it('without a drop, one CDN connection carries the whole payload', async () => {
    const result = await customTransport({ dropAfter: 0 }, () => undefined);
    expect(result.outcomes).toEqual(['rebooting', 'confirmed']);
    expect(result.resumedAt).toBeNull();
    expect(result.connections.length).toBe(2);
  });
});

const root = join(import.meta.dirname, '..', '..');

/** Runs `tsx <args>` from the repository root as a user would; a process still alive after 30 s is killed (code null). */
function runTsx(args: string[]): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve) => {
    const child = execFile(join(root, 'node_modules', '.bin', 'tsx'), args, { cwd: root, timeout: 30_000 },
      (_error, out) => resolve({ code: child.exitCode, stdout: out }));
  });
}

describe('running an example from the command line', () => {
  it('`tsx examples/fleet-simulator.ts 5 60 --no-widen` prints its summary and exits 0', async () => {
    const { code, stdout } = await runTsx(['examples/fleet-simulator.ts', '5', '60', '--no-widen']);
    expect(code).toBe(0);
    const line = /rollout 60 %: (\d+) updated, (\d+) stayed, 0 failed; the backend selects (\d+) of 5/.exec(stdout);
    expect(line, stdout).not.toBeNull();
    const selected = ['fleet-0001', 'fleet-0002', 'fleet-0003', 'fleet-0004', 'fleet-0005'].filter((s) => inRollout(s, '1.1.0', 60)).length;
    expect(Number((line as RegExpExecArray)[1])).toBe(selected);
    expect(Number((line as RegExpExecArray)[3])).toBe(selected);
    expect(Number((line as RegExpExecArray)[2])).toBe(5 - selected);
  });

  // docs/agent.md: a program whose agent has settled (a trial confirmed, nothing polling) exits once it closes its
  // ports; the examples rely on it instead of calling process.exit.
  it('`tsx examples/device-simulator.ts` and `tsx examples/custom-transport.ts --drop-after 0` end on their own with 0', async () => {
    const device = await runTsx(['examples/device-simulator.ts']);
    expect(device.code, device.stdout).toBe(0);
    expect(device.stdout).toContain('next check: up-to-date');
    const custom = await runTsx(['examples/custom-transport.ts', '--drop-after', '0']);
    expect(custom.code, custom.stdout).toBe(0);
    expect(custom.stdout).toContain('after confirmation the MCU boots 2.0.0');
  }, 70_000);
});
