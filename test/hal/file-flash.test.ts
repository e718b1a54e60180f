import { afterAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileFlash } from '../../src/node/file-flash.js';
import { uniformGeometry } from '../../hal/flash.js';
import { presetGeometry } from '../../hal/sim/geometries.js';
import { SimMcu } from '../../hal/sim/sim-mcu.js';
import { buildFirmwareImage } from '../../hal/sim/firmware-image.js';
import { nodeHashes } from '../../src/node/crypto.js';
import { code, stage } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'ota-file-flash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('FileFlash', () => {
  it('has NOR semantics and keeps its bytes across reopen', async () => {
    const path = join(dir, 'semantics.bin');
    const geometry = uniformGeometry(64, 4, 4, 0xff);
    const flash = FileFlash.open(path, geometry, { strict: false });
    expect(await flash.read(0, 4)).toEqual(new Uint8Array(4).fill(0xff));
    await flash.write(0, Uint8Array.of(0xf0, 0x0f, 0x33, 0xff));
    await flash.write(0, Uint8Array.of(0x3c, 0xff, 0xff, 0x0f));
    expect(await flash.read(0, 4)).toEqual(Uint8Array.of(0x30, 0x0f, 0x33, 0x0f));
    expect(await code(flash.write(1, new Uint8Array(4)))).toBe('flash-misaligned');
    expect(await code(flash.write(256, new Uint8Array(4)))).toBe('flash-out-of-range');
    expect(await code(flash.erase(0, 32))).toBe('flash-erase-unaligned');
    await flash.write(64, new Uint8Array(4));
    await flash.erase(64, 64);
    expect(flash.eraseCounts()).toEqual([0, 1, 0, 0]);
    flash.close();
    expect(await code(flash.read(0, 1))).toBe('flash-closed');
    const again = FileFlash.open(path, geometry);
    expect(await again.read(0, 8)).toEqual(Uint8Array.of(0x30, 0x0f, 0x33, 0x0f, 0xff, 0xff, 0xff, 0xff));
    again.close();
    expect(() => FileFlash.open(path, uniformGeometry(64, 8, 4, 0xff))).toThrow(/512/);
  });

  it('strict by default: refuses data the cells cannot take (not erased first), naming the cell; compatible bits pass', async () => {
    const flash = FileFlash.open(join(dir, 'strict.bin'), uniformGeometry(64, 2, 4, 0xff), { sync: false });
    await flash.write(0, Uint8Array.of(1, 2, 3, 4));
    const refused = await flash.write(0, Uint8Array.of(1, 2, 7, 4)).then(() => null, (e: unknown) => e as { code: string; message: string; details: object });
    expect(refused?.code).toBe('flash-rewrite');
    expect(refused?.message).toContain('cell 2 (holds 0x3, asked 0x7)');
    expect(refused?.details).toMatchObject({ cell: 2 });
    expect(await flash.read(0, 4)).toEqual(Uint8Array.of(1, 2, 3, 4));
    // Clearing more bits of a programmed cell is what NOR does (a journal's commit mark): allowed.
    await flash.write(0, Uint8Array.of(0, 2, 3, 4));
    expect(await flash.read(0, 4)).toEqual(Uint8Array.of(0, 2, 3, 4));
    await flash.erase(0, 64);
    await flash.write(0, Uint8Array.of(1, 2, 7, 4));
    expect(await flash.read(0, 4)).toEqual(Uint8Array.of(1, 2, 7, 4));
    flash.close();
  });

  it('ORs on 0x00-erased parts', async () => {
    const flash = FileFlash.open(join(dir, 'zero.bin'), uniformGeometry(64, 2, 1, 0x00), { sync: false, strict: false });
    await flash.write(0, Uint8Array.of(0x0f));
    await flash.write(0, Uint8Array.of(0x30));
    expect(await flash.read(0, 2)).toEqual(Uint8Array.of(0x3f, 0x00));
    flash.close();
  });

  it('an A/B update in a killed process recovers: the next process boots the old image, then finishes the update', async () => {
    const child = fileURLToPath(new URL('./fixtures/file-flash-child.ts', import.meta.url));
    const v1 = buildFirmwareImage({ version: '1.0.0', size: 12000 });
    const v2 = buildFirmwareImage({ version: '2.0.0', size: 14000 });
    for (const killAfter of [3, 12, 25]) {
      const path = join(dir, `kill-${killAfter}.bin`);
      const flash = FileFlash.open(path, presetGeometry('uniform-4k', 4, 0xff));
      await new SimMcu({ flash, softwareType: 'main-mcu', hashes: nodeHashes }).provision(v1, '1.0.0');
      flash.close();
      const progress = await new Promise<string[]>((resolve, reject) => {
        const proc = spawn(process.execPath, ['--import', 'tsx', child, path], { stdio: ['ignore', 'pipe', 'pipe'] });
        const lines: string[] = [];
        let stderr = '';
        const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
        proc.stdout.setEncoding('utf8');
        proc.stdout.on('data', (text: string) => {
          for (const line of text.split('\n')) if (line) lines.push(line);
          if (lines.length >= killAfter) proc.kill('SIGKILL');
        });
        proc.stderr.on('data', (text: Buffer) => { stderr += text.toString(); });
        proc.on('error', reject);
        proc.on('exit', (exitCode, signal) => {
          clearTimeout(timer);
          if (signal === 'SIGKILL' || exitCode === 0) resolve(lines);
          else reject(new Error(`child exited ${exitCode}: ${stderr}`));
        });
      });
      expect(progress[0]).toBe('booted 1.0.0');
      expect(progress.length).toBeGreaterThanOrEqual(killAfter);
      expect(progress).not.toContain('activated'); // killed mid-update
      const reopened = FileFlash.open(path, presetGeometry('uniform-4k', 4, 0xff));
      const device = new SimMcu({ flash: reopened, softwareType: 'main-mcu', hashes: nodeHashes });
      const first = await device.boot();
      expect(first).toMatchObject({ version: '1.0.0', trial: false });
      await stage(device.target(), v2, '2.0.0', 1000);
      await device.target().activate();
      expect(await device.boot()).toMatchObject({ version: '2.0.0', trial: true });
      await device.target().confirm();
      expect(await device.boot()).toMatchObject({ version: '2.0.0', trial: false });
      reopened.close();
    }
  });
});
