import { join } from 'node:path';
import type { Flash, FlashGeometry } from '../../hal/flash.js';
import { FlashArea, uniformGeometry } from '../../hal/flash.js';
import type { ImageTarget } from '../../hal/image-target.js';
import type { BootResult } from '../../hal/sim/bootloader.js';
import { SimMcu } from '../../hal/sim/sim-mcu.js';
import type { LayoutSpec } from '../../hal/sim/layout.js';
import { SimFlash } from '../../hal/sim/sim-flash.js';
import { WifiCoprocessor } from '../../hal/sim/wifi/coprocessor.js';
import { SerialLink } from '../../hal/sim/wifi/serial-link.js';
import { WifiTarget } from '../../hal/sim/wifi/wifi-target.js';
import { UnreachableWifiTarget } from '../../hal/sim/wifi/unreachable-target.js';
import type { LinkFaults } from '../../hal/sim/wifi/serial-link.js';
import { createAgent } from '../agent/agent.js';
import type { Agent, AgentNetwork, CycleResult } from '../agent/agent.js';
import type { AgentEvent } from '../agent/events.js';
import { networkOverHttp } from '../agent/http-adapter.js';
import { Journal } from '../agent/journal.js';
import type { Policy } from '../agent/policy.js';
import { anchoredBundleFormat } from './sequence-recording.js';
import { rawImage } from '../agent/sinks/raw-image.js';
import { FIRMWARE_HEADER_LENGTH, parseFirmwareHeader } from '../../hal/sim/firmware-image.js';
import type { AgentState } from '../agent/state.js';
import { decodeState } from '../agent/state.js';
import type { TrustPolicy } from '../bundle/header.js';
import { HttpClient } from '../http/client.js';
import type { Transport } from '../http/transport.js';
import type { Clock, Random } from '../util/clock.js';
import { nativeBytesEqual } from './native-bytes.js';
import { FileFlash } from './file-flash.js';
import type { FileFlashOptions } from './file-flash.js';
import { lockDirectory } from '../tools/dir-lock.js';
import type { DirLock } from '../tools/dir-lock.js';
import { systemClock } from './clock.js';
import { nodeHashes } from './crypto.js';
import type { HashFactory } from '../integrity/hash.js';
import { NodeTlsTransport } from './transports/tls.js';
import { TcpTransport } from './transports/tcp.js';
import { InterruptibleTransport } from './interruptible-transport.js';
import { isOtaError, otaError, toOtaError } from '../util/errors.js';
import type { OtaError } from '../util/errors.js';
import { makeDirectories } from '../tools/make-directories.js';

// A simulated device for Node: the main MCU (bootloader, A/B banks, the agent's journal area) and the WiFi
// co-processor behind its serial link, a clock and the agent. With `dir`, both flashes are files, so killing the
// process is a real power loss and running it again resumes. Every boot() is a power-on: all objects above the
// flash are rebuilt, nothing survives in RAM. The agent of the previous boot is ended first (its cycle stops at its
// next step, its requests at once): two agents must never share one flash. For a power cut at an exact flash
// operation, arm one on a SimFlash (hal/sim/power-cut.ts).

/** Sectors of the main MCU: 2 boot-record sectors, 2 journal sectors, then slots A and B. */
export const MAIN_SECTOR_SIZE = 4096;
/** Default slot sizes: 256 KiB per main slot, 128 KiB per WiFi slot. */
export const DEFAULT_MAIN_SLOT_BYTES = 64 * MAIN_SECTOR_SIZE;
export const DEFAULT_WIFI_SLOT_BYTES = 32 * MAIN_SECTOR_SIZE;
/** Sectors before the slots: boot records and journal on the main MCU, boot records on the WiFi one. */
const MAIN_HEAD_SECTORS = 4;
const WIFI_HEAD_SECTORS = 2;

/** The main MCU's flash with slots of `slotBytes` (a multiple of MAIN_SECTOR_SIZE). */
export function mainGeometryFor(slotBytes: number): FlashGeometry {
  return uniformGeometry(MAIN_SECTOR_SIZE, MAIN_HEAD_SECTORS + 2 * (slotBytes / MAIN_SECTOR_SIZE), 8, 0xff);
}

/** The WiFi co-processor's flash with slots of `slotBytes` (a multiple of MAIN_SECTOR_SIZE). */
export function wifiGeometryFor(slotBytes: number): FlashGeometry {
  return uniformGeometry(MAIN_SECTOR_SIZE, WIFI_HEAD_SECTORS + 2 * (slotBytes / MAIN_SECTOR_SIZE), 4, 0xff);
}

/** The slot size a flash file of `fileBytes` was made with (inverse of the geometries above); null if none fits. */
export function slotBytesOfFlashFile(fileBytes: number, mcu: 'main' | 'wifi'): number | null {
  const head = (mcu === 'main' ? MAIN_HEAD_SECTORS : WIFI_HEAD_SECTORS) * MAIN_SECTOR_SIZE;
  const slots = fileBytes - head;
  if (slots <= 0 || slots % (2 * MAIN_SECTOR_SIZE) !== 0) return null;
  return slots / 2;
}

/** How a held device directory's lock names its holder (SimDevice and `ota device run` share DIR/lock). */
export const DEVICE_LOCK_HOLDER = 'simulated device (a SimDevice, or "ota device run")';

/** What one MCU's flash holds: nothing (all erased), a valid boot record, or data without one (corrupt, or foreign). */
export type FlashContents = 'blank' | 'provisioned' | 'unrecognized';

/** How a simulated device is built. */
export interface SimDeviceOptions {
  /** Directory for file-backed flash (main.flash, wifi.flash); in-memory SimFlash when absent. */
  dir?: string;
  /**
   * Take `dir`/lock while the device is open (default true with `dir`): a second SimDevice or `ota device run` on the
   * same directory, in this process or another, is refused with `dir-locked` (two agents on one flash corrupt it).
   * false only for a reader that holds the lock itself or never writes (`ota device status`).
   */
  lock?: boolean;
  /** Options of the file-backed flashes made for `dir` (e.g. `wearLimit`: erases a sector may take over its life). */
  fileFlash?: FileFlashOptions;
  /** Explicit flash parts (sweeps pass SimFlash with armed power cuts). */
  mainFlash?: Flash & { powerCycle?: () => void };
  wifiFlash?: Flash & { powerCycle?: () => void };
  /** Geometry of a created main flash (default: 4 KiB sectors, 2 + 2 + 2 x 64). */
  mainGeometry?: FlashGeometry;
  wifiGeometry?: FlashGeometry;
  serial: string;
  hardwareVersion: string;
  /** Software type of the main MCU, the one the device queries (default "main-fw"). */
  softwareType?: string;
  /** Include the WiFi co-processor (default true). */
  wifi?: boolean;
  wifiType?: string;
  /** Serial link speed (default 2 000 000 baud, so a simulated transfer stays short in real time). */
  baud?: number;
  /** Faults of the serial link to the co-processor (each power-on's new link; see `SimDevice.wifiLinkFaults`). */
  wifiLinkFaults?: LinkFaults;
  api: { baseUrl: string; projectKey: string };
  /** Trusted roots (DER) for HTTPS. */
  ca?: Uint8Array[];
  /** Network ports (default: HTTP client over node:tls / TCP). */
  network?: AgentNetwork;
  transport?: Transport;
  clock?: Clock;
  /**
   * Clock of the device's own HTTP client: its connect, idle and request timeouts (default `clock`). A fleet on a
   * VirtualClock polling a real backend passes `systemClock` here, so advancing virtual time to the next poll never
   * times out bytes still on their way over real sockets.
   */
  networkClock?: Clock;
  random?: Random;
  policy?: { [K in keyof Policy]?: Policy[K] };
  /** Bundle trust (default: unsigned bundles and raw images accepted, for development). */
  trust?: TrustPolicy;
  onEvent?: (event: AgentEvent) => void;
  /** HTTP working buffer (bytes). */
  bufferSize?: number;
  /** Longest wait for the next bytes of a response (default 30 000 ms); stop() does not wait for it. */
  idleTimeoutMs?: number;
  /** Bytes per flash read when images are read back and verified (default 16 KiB). */
  readChunk?: number;
  /** SHA-256 for image digests and bundles (default `nodeHashes`, node:crypto). */
  hashes?: HashFactory;
}

/** What one power-on did. */
export interface DeviceBoot {
  main: BootResult;
  wifi: BootResult | null;
  /**
   * Why the co-processor does not answer (no bootable image, a dead link), or null. The agent then holds an
   * UnreachableWifiTarget, whose every operation fails with a retryable `wifi-unreachable`.
   */
  wifiError: OtaError | null;
  /** Extra boots because the image crashed on boot. */
  crashes: number;
}

/** A slot of one MCU, for status displays. */
export interface SlotView {
  slot: number;
  state: string;
  version: string;
  size: number;
  attempts: number;
}

/** Everything `ota device status` shows. */
export interface DeviceStatus {
  main: { softwareType: string; running: string | null; trial: boolean; slots: SlotView[] };
  wifi: { softwareType: string; running: string | null; trial: boolean; slots: SlotView[] } | null;
  journal: { seq: number; bank: number; offset: number; state: AgentState | null }[];
  agent: AgentState | null;
}

/** Reads `flash` through, in sectors: true when every byte is the erase value. */
async function allErased(flash: Flash): Promise<boolean> {
  for (const sector of flash.geometry.sectors) {
    const bytes = await flash.read(sector.offset, sector.size);
    for (let i = 0; i < bytes.length; i++) if (bytes[i] !== flash.geometry.eraseValue) return false;
  }
  return true;
}

async function contentsOf(flash: Flash, record: () => Promise<unknown>): Promise<FlashContents> {
  // A flash read error is not "no record": it propagates, rather than inviting a provisioning over unread flash.
  let valid = false;
  try {
    valid = (await record()) !== null;
  } catch (error) {
    if (!isOtaError(error) || error.code.startsWith('flash-')) throw error;
  }
  if (valid) return 'provisioned';
  return (await allErased(flash)) ? 'blank' : 'unrecognized';
}

/**
 * A flash file of another size than the geometry asked for, when its size is one this simulator makes: names the slot
 * size it was provisioned with and the option that opens it (a wear record that says it was cut gets no such hint).
 */
function withSlotHint(error: unknown): unknown {
  if (!isOtaError(error) || error.code !== 'flash-file-size' || error.details === undefined) return error;
  const { path, actual, made } = error.details as { path: string; actual: number; made?: number };
  if (made !== undefined && made !== actual) return error;
  const mcu = path.endsWith('wifi.flash') ? 'wifi' : 'main';
  const slot = slotBytesOfFlashFile(actual, mcu);
  if (slot === null || slot % MAIN_SECTOR_SIZE !== 0) return error;
  const option = mcu === 'wifi' ? 'wifiGeometry: wifiGeometryFor' : 'mainGeometry: mainGeometryFor';
  return otaError(error.code, `${error.message} It was provisioned with ${slot}-byte slots: pass ${option}(${slot}) (or ` +
    `slotBytesOfFlashFile(size, '${mcu}')) to open it.`, false, { ...error.details, slotBytes: slot }, error);
}

function mainLayout(geometry: FlashGeometry): LayoutSpec {
  const n = geometry.sectors.length;
  const half = 4 + Math.floor((n - 4) / 2);
  return { records: [0, 2], a: [4, half], b: [half, n] };
}

/** A simulated two-MCU device running the agent. */
export class SimDevice {
  readonly mainFlash: Flash & { powerCycle?: () => void };
  readonly wifiFlash: (Flash & { powerCycle?: () => void }) | null;
  readonly main: SimMcu;
  readonly wifi: WifiCoprocessor | null;
  readonly journalArea: FlashArea;
  readonly clock: Clock;
  readonly softwareType: string;
  agent: Agent | null = null;
  targets: ImageTarget[] = [];
  lastBoot: DeviceBoot | null = null;
  /** Faults of the serial link to the co-processor, applied from the next power-on (a dead link: `{ dropRate: 1 }`). */
  wifiLinkFaults: LinkFaults;
  private readonly options: SimDeviceOptions;
  private linkSeed = 1;
  private client: HttpClient | null = null;
  private transports: InterruptibleTransport[] = [];
  private rebooted = 0;
  private phase: string | null = null;
  private stopRequested = false;
  private readonly hashes: HashFactory;
  private polling = false;
  private lock: DirLock | null = null;

  /** See SimDeviceOptions. Opens (or creates) the flash files when `dir` is given, after taking its lock. */
  constructor(options: SimDeviceOptions) {
    this.options = options;
    this.clock = options.clock ?? systemClock;
    this.softwareType = options.softwareType ?? 'main-fw';
    this.hashes = options.hashes ?? nodeHashes;
    this.wifiLinkFaults = options.wifiLinkFaults ?? {};
    const mainGeometry = options.mainGeometry ?? mainGeometryFor(DEFAULT_MAIN_SLOT_BYTES);
    const wifiGeometry = options.wifiGeometry ?? wifiGeometryFor(DEFAULT_WIFI_SLOT_BYTES);
    if (options.dir !== undefined) makeDirectories(options.dir);
    const dir = options.dir;
    const withWifi = options.wifi ?? true;
    const files = dir !== undefined && (options.mainFlash === undefined || (withWifi && options.wifiFlash === undefined));
    if (files && options.lock !== false) this.lock = lockDirectory(dir, DEVICE_LOCK_HOLDER);
    const opened: FileFlash[] = [];
    const open = (name: string, geometry: FlashGeometry): FileFlash => {
      const flash = FileFlash.open(join(dir as string, name), geometry, options.fileFlash);
      opened.push(flash);
      return flash;
    };
    try {
      this.mainFlash = options.mainFlash ?? (dir !== undefined ? open('main.flash', mainGeometry) : new SimFlash(mainGeometry));
      this.wifiFlash = !withWifi ? null : options.wifiFlash ?? (dir !== undefined ? open('wifi.flash', wifiGeometry) : new SimFlash(wifiGeometry));
      this.main = new SimMcu({ flash: this.mainFlash, softwareType: this.softwareType, hashes: this.hashes, layout: mainLayout(this.mainFlash.geometry),
        readChunk: options.readChunk ?? 16384, equal: nativeBytesEqual });
      const sectors = this.mainFlash.geometry.sectors;
      this.journalArea = new FlashArea(this.mainFlash, sectors[2].offset, sectors[4].offset - sectors[2].offset, 'journal');
      this.wifi = this.wifiFlash === null ? null
        : new WifiCoprocessor({ flash: this.wifiFlash as unknown as SimFlash, hashes: this.hashes, softwareType: options.wifiType ?? 'wifi-fw' });
    } catch (error) {
      // A flash file or geometry refused (another size, a wear record that is none, no room for the slots): nothing
      // stays open or locked.
      for (const flash of opened) flash.close();
      this.releaseLock();
      throw withSlotHint(error);
    }
  }

  /**
   * What each MCU's flash holds. Only 'blank' flash may be factory-provisioned: flash with data but no valid boot
   * record is corrupt (or another device's), and provisioning over it would destroy what is left.
   */
  async contents(): Promise<{ main: FlashContents; wifi: FlashContents | null }> {
    const main = await contentsOf(this.mainFlash, () => this.main.target().record());
    const wifi = this.wifi === null || this.wifiFlash === null ? null : await contentsOf(this.wifiFlash, () => this.wifi!.device.target().record());
    return { main, wifi };
  }

  /** Factory-programs the WiFi co-processor alone (a provisioning cut short after the main MCU). */
  async provisionWifi(image: Uint8Array, version: string): Promise<void> {
    if (this.wifi !== null) await this.wifi.provision(image, version);
  }

  /**
   * Stops the agent, leaving a resumable journal. A read parked on a silent server (a check, a download) is failed at
   * once (the agent treats it as the stop and journals its durable offset) instead of waiting for the idle timeout.
   */
  stop(): Promise<void> {
    this.stopRequested = true;
    this.polling = false;
    if (this.agent === null) return Promise.resolve();
    const done = this.agent.stop();
    if (this.phase === 'downloading' || this.phase === 'checking') {
      this.interruptRequests('The request was ended by stop(); the next cycle asks again, a download resumes from the journaled offset.');
    }
    return done;
  }

  /** Factory-programs both MCUs (confirmed images in slot A). */
  async provision(mainImage: Uint8Array, mainVersion: string, wifiImage?: Uint8Array, wifiVersion?: string): Promise<void> {
    await this.main.provision(mainImage, mainVersion);
    if (this.wifi !== null && wifiImage !== undefined && wifiVersion !== undefined) await this.wifi.provision(wifiImage, wifiVersion);
  }

  /**
   * Power-on: ends the previous boot's agent, then both bootloaders run (an image that crashes on boot is booted
   * again, spending its attempts) and a fresh agent starts; a polling device polls on.
   */
  async boot(): Promise<DeviceBoot> {
    const polling = this.polling;
    await this.retire();
    const booted = await this.powerOn();
    if (polling) await this.start();
    return booted;
  }

  /** Ends the agents of earlier boots (one may reboot into another while it ends) and waits for their cycles. */
  private async retire(): Promise<void> {
    this.polling = false;
    while (this.agent !== null) {
      const old = this.agent;
      this.agent = null;
      // A runOnce() in flight returns with the cycle it was running instead of carrying on with the next boot's agent.
      this.stopRequested = true;
      const ended = old.stop();
      this.interruptRequests('The request was ended by a power-on (SimDevice.boot()); the new boot asks again.');
      await ended;
    }
  }

  /** Fails every request parked on the network, so a stopped cycle does not wait for an idle timeout. */
  private interruptRequests(message: string): void {
    const error = otaError('transfer-stopped', message, true);
    for (const transport of this.transports) transport.interrupt(error);
  }

  private async powerOn(): Promise<DeviceBoot> {
    if (this.wifiFlash !== null && this.wifiFlash.powerCycle) this.wifiFlash.powerCycle();
    let main = await this.main.boot();
    let crashes = 0;
    while (main.behaviour === 'crash-on-boot' && crashes < 16) {
      crashes++;
      main = await this.main.boot();
    }
    let wifi: BootResult | null = null;
    let wifiError: OtaError | null = null;
    this.targets = [this.main.target()];
    if (this.wifi !== null) {
      const wifiType = this.options.wifiType ?? 'wifi-fw';
      const link = new SerialLink({ clock: this.clock, baud: this.options.baud ?? 2_000_000, seed: this.linkSeed++, faults: this.wifiLinkFaults });
      this.wifi.attach(link.ports[1], this.clock);
      wifi = await this.wifi.powerOn();
      let target: ImageTarget | null = null;
      if (wifi === null) {
        wifiError = toOtaError(this.wifi.bootError, 'wifi-boot-failed', false);
      } else {
        // A co-processor that does not answer must not stop the main MCU from booting and running its agent.
        target = await WifiTarget.connect({ port: link.ports[0], clock: this.clock, baud: this.options.baud ?? 2_000_000,
          chunkSize: 960, softwareType: wifiType }).catch((error: unknown) => {
          if (isOtaError(error) && error.code === 'power-cut') throw error;
          wifiError = toOtaError(error, 'wifi-unreachable', true);
          return null;
        });
      }
      // Still mapped while it does not answer: a release with a WiFi part then waits (retryable) instead of being refused.
      this.targets.push(target ?? new UnreachableWifiTarget(wifiType, this.wifi.device.target().capacity(), wifiError));
    }
    this.lastBoot = { main, wifi, wifiError, crashes };
    this.agent = this.makeAgent(main);
    return this.lastBoot;
  }

  /**
   * Polls on the agent's cadence (Agent.start()) until stop(). A reboot makes a fresh agent over the same flash; that
   * one polls on too, so the trial after an update runs and confirms without a caller driving it.
   */
  async start(): Promise<void> {
    if (this.agent === null) await this.boot();
    this.stopRequested = false;
    this.polling = true;
    (this.agent as Agent).start();
  }

  /** Runs agent cycles until one ends without a reboot (a reboot boots the device and continues, unless stop() was called). */
  async runOnce(maxReboots = 8): Promise<CycleResult> {
    if (this.agent === null) await this.boot();
    // A stop() before this call stopped the cycle it interrupted, not this one.
    this.stopRequested = false;
    for (let i = 0; ; i++) {
      const before = this.rebooted;
      const result = await (this.agent as Agent).runOnce();
      // After stop() the agent a reboot made is not the one stopped: it does not get to run.
      if (this.rebooted === before || i >= maxReboots || this.stopRequested) return result;
    }
  }

  /** Slots, versions, states and the journal. */
  async status(): Promise<DeviceStatus> {
    const slotsOf = async (mcu: SimMcu): Promise<{ running: string | null; trial: boolean; slots: SlotView[] }> => {
      const target = mcu.target();
      const record = await target.record().catch(() => null);
      const status = await target.status().catch(() => ({ runningVersion: null, trial: false }));
      const slots: SlotView[] = record === null ? [] : record.slots.map((s, i) => ({ slot: i, state: s.state, version: s.version, size: s.size, attempts: s.attempts }));
      return { running: status.runningVersion, trial: status.trial, slots };
    };
    const main = { softwareType: this.softwareType, ...(await slotsOf(this.main)) };
    const wifi = this.wifi === null ? null : { softwareType: this.options.wifiType ?? 'wifi-fw', ...(await slotsOf(this.wifi.device)) };
    const journal = new Journal(this.journalArea);
    const records = await journal.scan();
    const payload = await journal.load();
    return {
      main, wifi,
      journal: records.map((r) => ({ seq: r.seq, bank: r.bank, offset: r.offset, state: decodeState(r.payload) })),
      agent: payload === null ? null : decodeState(payload),
    };
  }

  /**
   * Stops the agent and closes files and connections, and releases `dir`'s lock; a cycle still in flight fails at its
   * next flash access.
   */
  close(): void {
    this.polling = false;
    if (this.agent !== null) void this.agent.stop();
    if (this.client !== null) this.client.close();
    for (const flash of [this.mainFlash, this.wifiFlash]) {
      const closable = flash as unknown as { close?: () => void };
      if (closable !== null && typeof closable.close === 'function') closable.close();
    }
    this.releaseLock();
  }

  private releaseLock(): void {
    if (this.lock !== null) this.lock.release();
    this.lock = null;
  }

  private network(): AgentNetwork {
    if (this.options.network !== undefined) return this.options.network;
    if (this.client === null) {
      const transport = new InterruptibleTransport(this.options.transport ?? new NodeTlsTransport({ ca: this.options.ca }));
      const plainTransport = new InterruptibleTransport(new TcpTransport());
      this.transports = [transport, plainTransport];
      this.client = new HttpClient({ transport, plainTransport, clock: this.options.networkClock ?? this.clock, ca: this.options.ca, bufferSize: this.options.bufferSize,
        idleTimeoutMs: this.options.idleTimeoutMs });
    }
    return networkOverHttp(this.client);
  }

  private makeAgent(main: BootResult): Agent {
    const behaviour = main.behaviour;
    const trust = this.options.trust ?? { verifiers: [], allowUnsigned: true };
    return createAgent({
      api: this.options.api,
      device: { serial: this.options.serial, hardwareVersion: this.options.hardwareVersion },
      softwareType: this.softwareType,
      transport: this.network(),
      targets: this.targets,
      journal: new Journal(this.journalArea),
      clock: this.clock,
      random: this.options.random ?? Math.random,
      policy: this.options.policy,
      onEvent: (event) => {
        if (event.type === 'state') this.phase = event.phase ?? null;
        if (this.options.onEvent !== undefined) this.options.onEvent(event);
      },
      // Raw images carry no signature: accepted only where unsigned bundles are (the development default).
      allowUnsigned: trust.allowUnsigned === true,
      rawFormat: rawImage((head) => parseFirmwareHeader(head)?.version ?? null, FIRMWARE_HEADER_LENGTH),
      // Anti-rollback floor from the MCUs' boot records (bootloader storage that survives an erased journal): a verified
      // bundle's sequence is recorded with each staged image, and confirming the image raises that MCU's floor.
      formats: [anchoredBundleFormat({ trust, hashes: this.hashes, hardwareVersion: this.options.hardwareVersion }, this.main, () => this.targets)],
      // The simulated application: a healthy image passes its self-test, a "never-confirm" one never answers.
      selfTest: () => behaviour === 'never-confirm' ? new Promise<boolean>(() => undefined) : Promise.resolve(true),
      reboot: async () => {
        this.rebooted++;
        await this.powerOn();
        if (this.polling) (this.agent as Agent).start();
      },
    });
  }
}
