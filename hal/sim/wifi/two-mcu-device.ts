import type { ImageTarget } from '../../image-target.js';
import type { HashFactory } from '../../../src/integrity/hash.js';
import type { VirtualClock } from '../../../src/util/virtual-clock.js';
import type { BootResult } from '../bootloader.js';
import type { SimFlash } from '../sim-flash.js';
import { SimMcu } from '../sim-mcu.js';
import { WifiCoprocessor } from './coprocessor.js';
import type { LinkFaults } from './serial-link.js';
import { SerialLink } from './serial-link.js';
import { WifiTarget } from './wifi-target.js';

// A device with two MCUs on one power supply: the main MCU (its own flash, A/B banks, bootloader) and the WiFi
// co-processor behind a serial link. A power cut on either flash cuts both: from the moment one part dies, the
// next mutating operation of the other dies too (before it changes anything).

/** How a two-MCU device is built. */
export interface TwoMcuOptions {
  mainFlash: SimFlash;
  wifiFlash: SimFlash;
  hashes: HashFactory;
  /** Software type of the main MCU (default "main-fw"). */
  mainType?: string;
  /** Software type of the co-processor (default "wifi-fw"). */
  wifiType?: string;
  baud?: number;
  linkSeed?: number;
  linkFaults?: LinkFaults;
  /** Image bytes per WRITE frame. */
  chunkSize?: number;
}

/** What one power-on produced. */
export interface TwoMcuBoot {
  main: BootResult;
  /** Null when the co-processor found nothing bootable (it then never answers). */
  wifi: BootResult | null;
  link: SerialLink;
  /** The main MCU's targets: its own A/B slots and the co-processor (null when the co-processor is down). */
  targets: ImageTarget[];
  wifiTarget: WifiTarget | null;
}

/** Two simulated MCUs sharing power. */
export class TwoMcuDevice {
  readonly main: SimMcu;
  readonly wifi: WifiCoprocessor;
  private readonly options: TwoMcuOptions;
  private seed: number;

  /** Both MCUs over their flashes, with their power coupled. */
  constructor(options: TwoMcuOptions) {
    this.options = options;
    this.seed = options.linkSeed ?? 1;
    this.main = new SimMcu({ flash: options.mainFlash, softwareType: options.mainType ?? 'main-fw', hashes: options.hashes });
    this.wifi = new WifiCoprocessor({ flash: options.wifiFlash, hashes: options.hashes, softwareType: options.wifiType ?? 'wifi-fw' });
    const couple = (self: SimFlash, other: SimFlash): void => {
      self.onMutate = (event) => {
        if (other.isDead && !self.isDead) self.faults.cut = { op: event.op, mode: 'before' };
      };
    };
    couple(options.mainFlash, options.wifiFlash);
    couple(options.wifiFlash, options.mainFlash);
  }

  /** Factory-programs both MCUs. */
  async provision(mainImage: Uint8Array, mainVersion: string, wifiImage: Uint8Array, wifiVersion: string): Promise<void> {
    await this.main.provision(mainImage, mainVersion);
    await this.wifi.provision(wifiImage, wifiVersion);
  }

  /** True while either part is cut off. */
  isDead(): boolean {
    return this.options.mainFlash.isDead || this.options.wifiFlash.isDead;
  }

  /**
   * Power-on of both MCUs on `clock` (run it under drive()): both bootloaders run, a fresh link joins them, and the
   * main MCU's WifiTarget says hello. Every object above the flashes is new, as after a real power cycle.
   */
  async powerOn(clock: VirtualClock): Promise<TwoMcuBoot> {
    const link = new SerialLink({ clock, baud: this.options.baud, seed: this.seed++, faults: this.options.linkFaults });
    const main = await this.main.boot();
    this.wifi.attach(link.ports[1], clock);
    const wifi = await this.wifi.powerOn();
    let wifiTarget: WifiTarget | null = null;
    if (wifi !== null) {
      wifiTarget = await WifiTarget.connect({ port: link.ports[0], clock, baud: this.options.baud, chunkSize: this.options.chunkSize,
        softwareType: this.options.wifiType ?? 'wifi-fw' });
    }
    const targets: ImageTarget[] = [this.main.target()];
    if (wifiTarget !== null) targets.push(wifiTarget);
    return { main, wifi, link, targets, wifiTarget };
  }
}
