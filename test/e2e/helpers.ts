import { afterEach } from 'vitest';
import type { FlashGeometry } from '../../hal/flash.js';
import { startBackend } from '../../src/backend/index.js';
import type { Backend, BackendOptions } from '../../src/backend/index.js';
import { buildFirmwareImage } from '../../hal/sim/firmware-image.js';
import type { FirmwareBehaviour } from '../../hal/sim/firmware-image.js';
import { SimDevice } from '../../src/node/sim-device.js';
import type { SimDeviceOptions } from '../../src/node/sim-device.js';
import type { AgentEvent } from '../../src/agent/events.js';
import { createBundle } from '../../src/tools/bundle.js';
import type { BundlePartInput } from '../../src/tools/bundle.js';

/** A backend with one deployed release of `payload`. */
export async function backendWith(payload: Uint8Array, version: string, options: BackendOptions = {}): Promise<Backend> {
  const backend = await startBackend(options);
  await backend.admin.uploadPayload(payload, { hardwareVersion: 'evt', softwareType: 'main-fw', softwareVersion: version });
  backend.admin.deploy({ releaseVersion: version, cohort: 'default', rolloutPercent: 100 });
  return backend;
}

/** A simulated firmware image. */
export function fw(version: string, size: number, behaviour: FirmwareBehaviour = 'healthy'): Uint8Array {
  return buildFirmwareImage({ version, size, behaviour });
}

/** An unsigned (bare manifest) bundle. */
export function bareBundle(version: string, parts: BundlePartInput[]): Uint8Array {
  return createBundle({ sequence: 1, releaseVersion: version, hardwareVersions: ['evt'], parts }, null);
}

/** A provisioned, booted device talking to `backend`, recording its events. */
export async function deviceFor(backend: Backend, serial: string, extra: Partial<SimDeviceOptions> = {}, wifiImage?: Uint8Array):
  Promise<{ device: SimDevice; events: AgentEvent[] }> {
  const events: AgentEvent[] = [];
  const device = new SimDevice({
    serial, hardwareVersion: 'evt', wifi: wifiImage !== undefined, api: { baseUrl: backend.baseUrl, projectKey: backend.projectKey },
    ca: backend.trustedRootsDer, onEvent: (e) => events.push(e),
    policy: { healthDeadlineMs: 2000, backoffBaseMs: 10, backoffMaxMs: 50, progressIntervalMs: 0 },
    ...extra,
  });
  await device.provision(fw('0.0.1', 20_000), '0.0.1', wifiImage, wifiImage !== undefined ? '0.0.1' : undefined);
  await device.boot();
  return { device, events };
}

/** One agent cycle that may end in a simulated power cut: its outcome, or 'power-cut'. */
export async function runOnceOrCut(device: SimDevice): Promise<string> {
  try {
    return (await device.runOnce()).outcome;
  } catch (error) {
    if ((error as { code?: string }).code !== 'power-cut') throw error;
    return 'power-cut';
  }
}

/** Powers the device on again, retrying while an armed cut still fires during boot. */
export async function powerOn(device: SimDevice, tries = 5): Promise<void> {
  for (let i = 0; i < tries; i++) {
    try {
      await device.boot();
      return;
    } catch (error) {
      if ((error as { code?: string }).code !== 'power-cut') throw error;
    }
  }
  throw new Error(`the device did not boot after ${tries} power-ons`);
}

/** Small-sector main flash for sweeps: two boot-record sectors, a two-bank journal, then both image slots. */
export function sweepGeometry(sector: number, slotSectors: number): FlashGeometry {
  const sectors: { offset: number; size: number }[] = [];
  let at = 0;
  const add = (size: number): void => { sectors.push({ offset: at, size }); at += size; };
  add(sector); add(sector);
  add(2 * sector); add(2 * sector);
  for (let i = 0; i < 2 * slotSectors; i++) add(sector);
  return { sectors, writeAlign: 8, eraseValue: 0xff };
}

/** The bytes of the running main image, read from its slot. */
export async function runningImage(device: SimDevice): Promise<Uint8Array> {
  const status = await device.status();
  const slot = status.main.slots.find((s) => s.state === 'confirmed' && s.version === status.main.running) ?? status.main.slots[0];
  return device.main.layout.slots[slot.slot].read(0, slot.size);
}

/**
 * Runs cycles (at most four) until the update is confirmed and returns the offset the first download-resumed reported
 * among the events they add, or -1 when the payload was started over (a download-started) or never resumed.
 */
export async function confirmedResumeOffset(device: SimDevice, events: AgentEvent[]): Promise<number> {
  const from = events.length;
  let outcome = (await device.runOnce()).outcome;
  for (let i = 0; i < 3 && outcome !== 'confirmed'; i++) outcome = (await device.runOnce()).outcome;
  if (outcome !== 'confirmed') throw new Error(`the update ended "${outcome}", not confirmed`);
  const after = events.slice(from);
  const resumed = after.find((e) => e.type === 'download-resumed');
  if (after.some((e) => e.type === 'download-started') || resumed?.type !== 'download-resumed') return -1;
  return resumed.offset;
}

/** Event types without the noise. */
export function kinds(events: AgentEvent[]): string[] {
  return events.filter((e) => e.type !== 'state' && e.type !== 'download-progress').map((e) => e.type);
}

/** Keeps what a test started so that it is closed after the test, whether it passed or not. */
export interface Started {
  /** Remembers the backend and returns it. */
  backend(backend: Backend): Backend;
  /** Remembers the device and returns it. */
  device(device: SimDevice): SimDevice;
}

/** Registers an afterEach that closes the device, then the backend, of each test. */
export function closeAfterEach(): Started {
  let backend: Backend | null = null;
  let device: SimDevice | null = null;
  afterEach(async () => {
    device?.close();
    device = null;
    await backend?.close();
    backend = null;
  });
  return {
    backend: (b) => (backend = b),
    device: (d) => (device = d),
  };
}
