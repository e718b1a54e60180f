import { SimFlash } from '../../hal/sim/sim-flash.js';
import type { GeometryPreset } from '../../hal/sim/geometries.js';
import { presetGeometry } from '../../hal/sim/geometries.js';
import { SimMcu } from '../../hal/sim/sim-mcu.js';
import type { BootResult } from '../../hal/sim/bootloader.js';
import type { FirmwareBehaviour } from '../../hal/sim/firmware-image.js';
import { buildFirmwareImage } from '../../hal/sim/firmware-image.js';
import type { DeviceLayout } from '../../hal/sim/layout.js';
import type { BootRecord } from '../../hal/boot-record.js';
import { decodeBootRecord, paddedRecordLength } from '../../hal/boot-record.js';
import { nodeHashes } from '../../src/node/crypto.js';
import { bytesEqual } from '../../src/util/bytes.js';
import { overlaps } from '../../hal/sim/faults.js';
import type { SweepCase, SweepSubject } from './engine.js';
import { createHash } from 'node:crypto';

// The A/B device subject: one MCU, a factory image, and a plan of updates that a small agent applies power cycle
// after power cycle, deciding each time from the boot records alone (plus a resume offset it "persisted", as the
// real agent's journal does). The invariants of issue 2 are checked at every boot and at every flash mutation.

/** One geometry of the matrix, with image and chunk sizes that fit it. */
export interface SweepGeometry {
  preset: GeometryPreset;
  writeAlign: number;
  eraseValue: number;
  /** Size of the factory image; updates add a few bytes so sizes are never aligned. */
  imageSize: number;
  /** Bytes per ImageWriter.write call. */
  chunk: number;
  /** ECC part: a torn unit fails to read instead of reading random bits. */
  ecc?: boolean;
}

/** An update in a scenario. */
export interface PlannedUpdate {
  version: string;
  behaviour: FirmwareBehaviour;
}

/** A scenario: the factory version and the updates offered, in order. */
export interface Scenario {
  name: string;
  description: string;
  updates: PlannedUpdate[];
  /** Boots after the goal that must keep the final image (confirmed stays confirmed). */
  settleBoots: number;
}

/** The scenarios of issue 2. */
export const SCENARIOS: Scenario[] = [
  { name: 'update-confirm', description: 'stage -> trial -> boot -> confirm', settleBoots: 1,
    updates: [{ version: '2.0.0', behaviour: 'healthy' }] },
  { name: 'crash-reverts', description: 'a crashing image uses its attempts and reverts', settleBoots: 1,
    updates: [{ version: '2.0.0', behaviour: 'crash-on-boot' }] },
  { name: 'never-confirm-reverts', description: 'an image that never confirms reverts', settleBoots: 1,
    updates: [{ version: '2.0.0', behaviour: 'never-confirm' }] },
  { name: 'update-after-revert', description: 'a second update after a revert', settleBoots: 1,
    updates: [{ version: '2.0.0', behaviour: 'crash-on-boot' }, { version: '3.0.0', behaviour: 'healthy' }] },
  { name: 'confirm-then-update', description: 'confirm (cut in its middle), boots, then reuse the old slot', settleBoots: 2,
    updates: [{ version: '2.0.0', behaviour: 'healthy' }, { version: '3.0.0', behaviour: 'healthy' }] },
];

/** Name of a geometry, for reports. */
export function geometryName(g: SweepGeometry): string {
  return `${g.preset}/a${g.writeAlign}/e${g.eraseValue === 0 ? '00' : 'ff'}${g.ecc ? '/ecc' : ''}`;
}

/** Image and chunk sizes per preset: small, unaligned, and crossing sector boundaries. */
export function sweepGeometry(preset: GeometryPreset, writeAlign: number, eraseValue: number): SweepGeometry {
  if (preset === 'uniform-4k') return { preset, writeAlign, eraseValue, imageSize: 9001, chunk: 1500 };
  if (preset === 'stm32f4-mixed') return { preset, writeAlign, eraseValue, imageSize: 33001, chunk: 6000 };
  return { preset, writeAlign, eraseValue, imageSize: 2601, chunk: 400 };
}

/** The matrix: the default run takes one (align, erase value) per preset; `full` takes them all. */
export function geometryMatrix(full: boolean): SweepGeometry[] {
  if (!full) {
    return [sweepGeometry('uniform-4k', 4, 0xff), sweepGeometry('stm32f4-mixed', 1, 0x00), sweepGeometry('pages-512', 32, 0xff)];
  }
  const out: SweepGeometry[] = [];
  for (const preset of ['uniform-4k', 'stm32f4-mixed', 'pages-512'] as GeometryPreset[]) {
    for (const align of [1, 4, 8, 16, 32]) for (const erase of [0xff, 0x00]) out.push(sweepGeometry(preset, align, erase));
  }
  // ECC parts (STM32L4/H7-like: 8- or 32-byte units whose torn reads fault).
  out.push({ ...sweepGeometry('uniform-4k', 8, 0xff), ecc: true }, { ...sweepGeometry('stm32f4-mixed', 32, 0xff), ecc: true });
  return out;
}

const SOFTWARE_TYPE = 'main-mcu';
const FACTORY = '1.0.0';

function sha256(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(data).digest());
}

/** Versions a run knows, with their bytes and position in the plan (factory = 0). */
interface KnownImage {
  bytes: Uint8Array;
  index: number;
  behaviour: FirmwareBehaviour;
}

/** Factory-provisioned flash per geometry, built once and cloned for every run. */
const provisioned = new Map<string, { flash: SimFlash; images: Map<string, KnownImage> }>();

async function provisionedFlash(g: SweepGeometry, scenario: Scenario): Promise<{ flash: SimFlash; images: Map<string, KnownImage> }> {
  const key = geometryName(g) + '|' + scenario.name;
  const cached = provisioned.get(key);
  if (cached) return cached;
  const flash = new SimFlash(presetGeometry(g.preset, g.writeAlign, g.eraseValue), { strict: true, allowReplay: true,
    faults: { eccOnTorn: g.ecc ?? false } });
  const images = new Map<string, KnownImage>();
  images.set(FACTORY, { bytes: buildFirmwareImage({ version: FACTORY, size: g.imageSize }), index: 0, behaviour: 'healthy' });
  scenario.updates.forEach((u, i) => {
    images.set(u.version, { bytes: buildFirmwareImage({ version: u.version, size: g.imageSize + 37 * (i + 1), behaviour: u.behaviour }),
      index: i + 1, behaviour: u.behaviour });
  });
  const device = new SimMcu({ flash, softwareType: SOFTWARE_TYPE, hashes: nodeHashes });
  await device.provision(images.get(FACTORY)!.bytes, FACTORY);
  const entry = { flash, images };
  provisioned.set(key, entry);
  return entry;
}

/** Reads both record copies as they landed: what may win now (the newest valid) and what may win later. */
export function possibleWinners(flash: SimFlash, layout: DeviceLayout): BootRecord[] {
  const length = paddedRecordLength(flash.geometry.writeAlign);
  const copies = layout.records.geometry.sectors.slice(0, 2).map((s) => {
    const at = layout.records.offset + s.offset;
    return { record: decodeBootRecord(flash.peek(at, length)), unstable: flash.unstableBytes(at, length) > 0 };
  });
  const newest = (list: BootRecord[]): BootRecord | null =>
    list.reduce<BootRecord | null>((best, r) => (best === null || ((r.seq - best.seq) >>> 0) < 0x80000000 ? r : best), null);
  const all = copies.filter((c) => c.record !== null).map((c) => c.record!);
  const stable = copies.filter((c) => c.record !== null && !c.unstable).map((c) => c.record!);
  const out: BootRecord[] = [];
  for (const r of [newest(all), newest(stable)]) if (r !== null && !out.includes(r)) out.push(r);
  return out;
}

/** Slots a record still needs: the one it boots, and the confirmed fallback of a pending or trial boot slot. */
export function neededSlots(r: BootRecord): number[] {
  const out: number[] = [];
  if (r.boot >= 0) {
    const state = r.slots[r.boot].state;
    if (state === 'pending' || state === 'trial' || state === 'confirmed') out.push(r.boot);
    if ((state === 'pending' || state === 'trial' || state === 'rejected') && r.slots[1 - r.boot].state === 'confirmed') {
      out.push(1 - r.boot);
    }
  } else {
    for (const s of [0, 1]) if (r.slots[s].state === 'confirmed') out.push(s);
  }
  return out;
}

/** Deliberate bugs, to prove the checks bite. */
export type Misbehaviour = 'none' | 'erase-fallback';

/** The A/B device under a plan of updates. */
class AbSubject implements SweepSubject {
  flashes: SimFlash[];
  violations: string[] = [];
  private readonly device: SimMcu;
  /** What the agent "persisted": the plan position and the resume offset of the image being written. */
  private journal = { next: 0, writing: '', durable: 0 };
  private lastConfirmed = FACTORY;
  private readonly rejected = new Set<string>();
  private settleLeft: number;
  private goalBoots = 0;
  private lastBoot: BootResult | null = null;

  constructor(private readonly g: SweepGeometry, private readonly scenario: Scenario, flash: SimFlash,
    private readonly images: Map<string, KnownImage>, private readonly misbehave: Misbehaviour = 'none') {
    this.flashes = [flash];
    this.settleLeft = scenario.settleBoots;
    this.device = new SimMcu({ flash, softwareType: SOFTWARE_TYPE, hashes: nodeHashes });
    flash.onMutate = (e) => this.checkMutation(e.kind, e.offset, e.length);
  }

  /** One power cycle: boot, run the image, let the agent work. True once the plan is done and settled. */
  async cycle(): Promise<boolean> {
    const boot = await this.device.boot();
    this.lastBoot = boot;
    this.checkBoot(boot);
    const target = this.device.target();
    if (boot.trial && boot.behaviour === 'crash-on-boot') return false;
    // A healthy image confirms at every start (idempotent): that also makes a confirmation torn by a cut durable.
    if (boot.behaviour === 'healthy') {
      await target.confirm();
      const index = this.images.get(boot.version)!.index;
      if (index > this.images.get(this.lastConfirmed)!.index) this.lastConfirmed = boot.version;
    }
    if (boot.trial) return false; // never-confirm: runs unconfirmed until the watchdog reboots it
    if (this.journal.next >= this.scenario.updates.length) {
      this.goalBoots++;
      return this.goalBoots > this.settleLeft;
    }
    await this.agent(boot);
    return false;
  }

  /** The agent: moves the plan forward from what the records say. Every step is safe to repeat after a cut. */
  private async agent(boot: BootResult): Promise<void> {
    const target = this.device.target();
    while (this.journal.next < this.scenario.updates.length) {
      const update = this.scenario.updates[this.journal.next];
      const image = this.images.get(update.version)!;
      if (boot.version === update.version) {
        this.journal.next++;
        continue;
      }
      const slot = await target.stagingSlot();
      const entry = target.slots.entry(slot);
      if (entry.version === update.version && entry.state === 'rejected') {
        this.journal.next++;
        continue;
      }
      if (entry.version === update.version && entry.state === 'pending') return;
      if (entry.version === update.version && entry.state === 'staged') {
        await target.activate();
        return;
      }
      const part = { size: image.bytes.length, version: update.version, sha256: sha256(image.bytes) };
      const resume = entry.state === 'writing' && entry.version === update.version && this.journal.writing === update.version
        ? this.journal.durable : 0;
      const writer = await target.begin(part, resume);
      this.journal.writing = update.version;
      this.journal.durable = writer.durableOffset();
      for (let at = resume; at < image.bytes.length; at += this.g.chunk) {
        await writer.write(image.bytes.subarray(at, Math.min(at + this.g.chunk, image.bytes.length)));
        this.journal.durable = writer.durableOffset();
      }
      await writer.finish();
      this.journal.durable = image.bytes.length;
      await target.activate();
      if (this.misbehave === 'erase-fallback') {
        const fallback = this.device.layout.slots[1 - slot];
        await fallback.erase(0, fallback.geometry.sectors[0].size);
      }
      return;
    }
  }

  private checkBoot(boot: BootResult): void {
    const known = this.images.get(boot.version);
    const layout = this.device.layout;
    for (const r of boot.rejected) this.rejected.add(r.version);
    if (!known) {
      this.violations.push(`booted unknown version "${boot.version}"`);
      return;
    }
    const slot = layout.slots[boot.slot];
    const bytes = this.flashes[0].peek(slot.offset, known.bytes.length);
    if (boot.size !== known.bytes.length || !bytesEqual(bytes, known.bytes)) {
      this.violations.push(`slot ${boot.slot} booted as ${boot.version} is not byte-identical to that image`);
    }
    if (this.rejected.has(boot.version)) this.violations.push(`rejected ${boot.version} booted again`);
    if (known.index < this.images.get(this.lastConfirmed)!.index) {
      this.violations.push(`booted ${boot.version} after ${this.lastConfirmed} was confirmed`);
    }
    if (!boot.trial && known.behaviour !== 'healthy') this.violations.push(`${known.behaviour} image ${boot.version} booted as confirmed`);
    if (possibleWinners(this.flashes[0], layout).length === 0) this.violations.push('no boot record decodes after boot');
  }

  /** The fallback (and the booted image) must never be erased or written while a possible winning record needs it. */
  private checkMutation(kind: string, offset: number, length: number): void {
    const layout = this.device.layout;
    for (const r of possibleWinners(this.flashes[0], layout)) {
      for (const s of neededSlots(r)) {
        const area = layout.slots[s];
        if (overlaps(offset, length, area.offset, area.size)) {
          this.violations.push(`${kind} [${offset}, ${offset + length}) hits slot ${s}, still needed by record seq ${r.seq}`);
        }
      }
    }
  }

  /** Final state: the expected image runs confirmed; staging sectors were erased at most once per cut more. */
  async finish(cuts: number): Promise<string[]> {
    const out: string[] = [];
    const last = this.lastBoot;
    const healthy = [FACTORY, ...this.scenario.updates.filter((u) => u.behaviour === 'healthy').map((u) => u.version)];
    const expected = healthy[healthy.length - 1];
    if (last === null || last.trial) out.push('run ended without a confirmed boot');
    else if (last.version !== expected && (cuts <= 1 || !healthy.includes(last.version))) {
      out.push(`ended on ${last.version}, expected ${expected}`);
    }
    const baseline = await baselineErases(this.g, this.scenario);
    const counts = this.flashes[0].eraseCounts();
    const layout = this.device.layout;
    const firstImageSector = layout.records.geometry.sectors.length;
    for (let i = firstImageSector; i < counts.length; i++) {
      if (counts[i] > baseline[i] + cuts) out.push(`sector ${i} erased ${counts[i]} times, fault-free run ${baseline[i]}, cuts ${cuts}`);
    }
    return out;
  }
}

const baselines = new Map<string, number[]>();

async function baselineErases(g: SweepGeometry, scenario: Scenario): Promise<number[]> {
  const key = geometryName(g) + '|' + scenario.name;
  const cached = baselines.get(key);
  if (cached) return cached;
  const base = await provisionedFlash(g, scenario);
  const subject = new AbSubject(g, scenario, base.flash.clone(), base.images);
  for (let i = 0; i < 30 && !(await subject.cycle()); i++) { /* fault-free */ }
  const counts = subject.flashes[0].eraseCounts();
  baselines.set(key, counts);
  return counts;
}

/** The sweep case for `scenario` on geometry `g`. */
export function abDeviceCase(scenario: Scenario, g: SweepGeometry, misbehave: Misbehaviour = 'none'): SweepCase {
  return {
    name: scenario.name,
    config: geometryName(g),
    async make(seed: number): Promise<SweepSubject> {
      const base = await provisionedFlash(g, scenario);
      return new AbSubject(g, scenario, base.flash.clone(seed), base.images, misbehave);
    },
  };
}
