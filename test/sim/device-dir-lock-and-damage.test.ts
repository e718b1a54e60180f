import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildFirmwareImage } from '../../hal/sim/firmware-image.js';
import { main } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/command.js';
import { FileFlash } from '../../src/node/file-flash.js';
import { DEFAULT_MAIN_SLOT_BYTES, SimDevice, mainGeometryFor } from '../../src/node/sim-device.js';
import { SimFlash } from '../../hal/sim/sim-flash.js';
import type { SimDeviceOptions } from '../../src/node/sim-device.js';
import type { OtaError } from '../../src/util/errors.js';

// A device directory is one device: two SimDevices (or a SimDevice and `ota device run`) on it would run two agents over
// one flash. And a directory whose flash was damaged (cut to a smaller plausible size, a garbage wear record) is refused
// with a clear error by the library and both commands, and nothing in it is rewritten.

const root = mkdtempSync(join(tmpdir(), 'ota-device-dir-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function options(dir: string, extra: Partial<SimDeviceOptions> = {}): SimDeviceOptions {
  return { dir, serial: 'SN-DIR', hardwareVersion: 'evt', api: { baseUrl: 'http://127.0.0.1:9', projectKey: 'unused' }, ...extra };
}

function capture(): CliIo & { text: () => string } {
  const lines: string[] = [];
  return { text: () => lines.join(''), out: (t) => { lines.push(t); }, err: (t) => { lines.push(t); }, env: {}, cwd: process.cwd(), isTty: false };
}

function thrown(make: () => unknown): OtaError | null {
  try {
    const made = make() as { close?: () => void };
    if (typeof made?.close === 'function') made.close();
    return null;
  } catch (error) {
    return error as OtaError;
  }
}

async function provisioned(name: string): Promise<string> {
  const dir = join(root, name);
  const device = new SimDevice(options(dir));
  await device.provision(buildFirmwareImage({ version: '1.0.0', size: 16384 }), '1.0.0', buildFirmwareImage({ version: '1.0.0', size: 8192 }), '1.0.0');
  device.close();
  return dir;
}

const runArgs = (dir: string): string[] => ['device', 'run', '--dir', dir, '--serial', 'SN-DIR', '--hardware-version', 'evt', '--software-type', 'main-fw',
  '--url', 'http://127.0.0.1:9', '--project-key', 'unused', '--once'];

describe('one device per directory', () => {
  it('a second SimDevice on an open directory is refused (dir-locked); after close() it opens', async () => {
    const dir = await provisioned('twice');
    const first = new SimDevice(options(dir));
    const second = thrown(() => new SimDevice(options(dir)));
    expect(second?.code).toBe('dir-locked');
    expect(second?.message).toContain(dir);
    expect(second?.details).toMatchObject({ pid: process.pid });
    // `ota device run` is kept off it too (a usage error, exit 2), and `ota device status` still reads it.
    const run = capture();
    expect(await main(runArgs(dir), run)).toBe(2);
    expect(run.text()).toMatch(/SimDevice/);
    const status = capture();
    expect(await main(['device', 'status', '--dir', dir], status)).toBe(0);
    expect(status.text()).toContain(`device: running in pid ${process.pid}`);
    expect(status.text()).toContain('main-fw: running 1.0.0');
    first.close();
    const again = new SimDevice(options(dir));
    expect((await again.boot()).main.version).toBe('1.0.0');
    again.close();
  });

  it('a device on explicit flash parts takes no lock (nothing of the directory is opened)', () => {
    const dir = join(root, 'no-files');
    const part = (): SimFlash => new SimFlash(mainGeometryFor(DEFAULT_MAIN_SLOT_BYTES));
    const first = new SimDevice(options(dir, { wifi: false, mainFlash: part() }));
    expect(thrown(() => new SimDevice(options(dir, { wifi: false, mainFlash: part() })))).toBeNull();
    first.close();
  });
});

describe('a damaged device directory', () => {
  it('main.flash cut to a smaller size that is still a plausible device: refused by SimDevice, device status and device run, nothing rewritten', async () => {
    const dir = await provisioned('cut');
    const mainPath = join(dir, 'main.flash');
    // 16 KiB of boot records and journal plus two 96 KiB slots: a size `--slot-size 96K` would have made.
    truncateSync(mainPath, 16384 + 2 * 98304);
    const before = { main: readFileSync(mainPath), wifi: readFileSync(join(dir, 'wifi.flash')), wear: readFileSync(FileFlash.wearPathOf(mainPath)) };
    const status = capture();
    expect(await main(['device', 'status', '--dir', dir], status)).toBe(1);
    expect(status.text()).toMatch(/truncated/);
    expect(status.text()).toContain('flash-file-size');
    expect(status.text()).not.toMatch(/running 1\.0\.0/);
    const run = capture();
    expect(await main(runArgs(dir), run)).toBe(1);
    expect(run.text()).toMatch(/truncated/);
    expect(run.text()).toContain('--reprovision');
    expect(run.text()).not.toContain('factory-provisioning');
    const library = thrown(() => new SimDevice(options(dir)));
    expect(library?.code).toBe('flash-file-size');
    expect(readFileSync(mainPath).equals(before.main)).toBe(true);
    expect(readFileSync(join(dir, 'wifi.flash')).equals(before.wifi)).toBe(true);
    expect(readFileSync(FileFlash.wearPathOf(mainPath)).equals(before.wear)).toBe(true);
    // A refused open leaves no lock behind: the directory is usable once repaired (here: started over).
    rmSync(mainPath);
    rmSync(FileFlash.wearPathOf(mainPath));
    rmSync(join(dir, 'wifi.flash'));
    const fresh = new SimDevice(options(dir));
    expect((await fresh.contents()).main).toBe('blank');
    fresh.close();
  });

  it('a directory provisioned with other slots than the options ask: the error names the slot size and the option', async () => {
    const dir = join(root, 'other-slots');
    const made = new SimDevice(options(dir, { wifi: false, mainGeometry: mainGeometryFor(98_304) }));
    made.close();
    const error = thrown(() => new SimDevice(options(dir, { wifi: false })));
    expect(error?.code).toBe('flash-file-size');
    expect(error?.message).toContain('mainGeometry: mainGeometryFor(98304)');
    expect(error?.details).toMatchObject({ slotBytes: 98_304 });
    expect(thrown(() => new SimDevice(options(dir, { wifi: false, mainGeometry: mainGeometryFor(98_304) })))).toBeNull();
  });

  it('a garbage wear record: refused with the file named, flash untouched', async () => {
    const dir = await provisioned('garbage-wear');
    const wifiWear = FileFlash.wearPathOf(join(dir, 'wifi.flash'));
    writeFileSync(wifiWear, 'garbage');
    const main0 = readFileSync(join(dir, 'main.flash'));
    const status = capture();
    expect(await main(['device', 'status', '--dir', dir], status)).toBe(1);
    expect(status.text()).toContain(wifiWear);
    expect(status.text()).toContain('flash-wear-invalid');
    const library = thrown(() => new SimDevice(options(dir)));
    expect(library?.code).toBe('flash-wear-invalid');
    expect(readFileSync(wifiWear, 'utf8')).toBe('garbage');
    expect(readFileSync(join(dir, 'main.flash')).equals(main0)).toBe(true);
    rmSync(wifiWear);
    const repaired = new SimDevice(options(dir));
    expect((await repaired.boot()).wifi?.version).toBe('1.0.0');
    repaired.close();
  });

  it('a directory from before wear records (flash files only) runs, and its erase counts start there', async () => {
    const dir = await provisioned('old-layout');
    for (const name of ['main.flash', 'wifi.flash']) rmSync(FileFlash.wearPathOf(join(dir, name)));
    const device = new SimDevice(options(dir, { wifi: true }));
    const boot = await device.boot();
    expect(boot.main.version).toBe('1.0.0');
    expect(boot.wifi?.version).toBe('1.0.0');
    device.close();
  });

  it('a wear limit set through SimDevice reaches its file-backed flash and survives a restart', async () => {
    const dir = await provisioned('worn');
    const device = new SimDevice(options(dir, { fileFlash: { wearLimit: 1 } }));
    // Provisioning erased the boot-record sectors once: a second erase of sector 0 is past the limit.
    const counts = (device.mainFlash as FileFlash).eraseCounts();
    expect(counts[0]).toBe(1);
    await expect(device.mainFlash.erase(0, 4096)).rejects.toMatchObject({ code: 'flash-worn-out' });
    device.close();
  });
});
