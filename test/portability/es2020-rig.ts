// The device of the ES2020 QA tests: a main MCU and a WiFi co-processor on simulated NOR flash, booted by the host's
// bootloader (hal/sim), updated by the agent from dist/ota-agent.es2020.js running in QuickJS (es2020-host.ts),
// against the mock backend over HTTPS.
import { randomBytes } from 'node:crypto';
import { uniformGeometry } from '../../hal/flash.js';
import { SimFlash } from '../../hal/sim/sim-flash.js';
import { SimMcu } from '../../hal/sim/sim-mcu.js';
import { defaultLayoutSpec } from '../../hal/sim/layout.js';
import { buildFirmwareImage } from '../../hal/sim/firmware-image.js';
import type { BootResult } from '../../hal/sim/bootloader.js';
import { nodeHashes } from '../../src/node/crypto.js';
import { startBackend } from '../../src/backend/index.js';
import type { Backend } from '../../src/backend/index.js';
import { createBundle } from '../../src/tools/bundle.js';
import type { BundlePartInput } from '../../src/tools/bundle.js';
import { hmacSigner } from '../../src/tools/keys.js';
import { toHex } from '../../src/util/bytes.js';
import { GuestDevice, guestTarget, journalWindow } from './es2020-host.js';
import type { GuestConfig } from './es2020-host.js';

export const HW = 'evt';

/** A device with a main MCU (journal in its flash) and a WiFi MCU, and the backend it talks to. */
export class Es2020Rig {
  readonly key = new Uint8Array(randomBytes(32));
  readonly mainFlash = new SimFlash(uniformGeometry(4096, 2 + 2 * 40 + 2, 8, 0xff));
  readonly wifiFlash = new SimFlash(uniformGeometry(4096, 2 + 2 * 16, 8, 0xff));
  readonly main = new SimMcu({ flash: this.mainFlash, softwareType: 'main-fw', hashes: nodeHashes, layout: defaultLayoutSpec(this.mainFlash, 2) });
  readonly wifi = new SimMcu({ flash: this.wifiFlash, softwareType: 'wifi-fw', hashes: nodeHashes });
  guest: GuestDevice | null = null;
  boots: { main: BootResult; wifi: BootResult }[] = [];
  serial = 'es2020-' + Math.floor(Math.random() * 1e9);

  private constructor(readonly backend: Backend) {}

  /** Starts a backend and provisions both MCUs with 1.0.0. */
  static async create(): Promise<Es2020Rig> {
    const rig = new Es2020Rig(await startBackend());
    await rig.main.provision(buildFirmwareImage({ version: '1.0.0', size: 40 * 1024 }), '1.0.0');
    await rig.wifi.provision(buildFirmwareImage({ version: '1.0.0', size: 20 * 1024 }), '1.0.0');
    return rig;
  }

  /** Uploads and deploys an HMAC-signed bundle (or an unsigned one) with the given parts. */
  async publishBundle(version: string, sequence: number, parts: BundlePartInput[], options: { unsigned?: boolean } = {}): Promise<Uint8Array> {
    const payload = createBundle({ sequence, releaseVersion: version, hardwareVersions: [HW], parts },
      options.unsigned === true ? null : hmacSigner(this.key));
    await this.backend.admin.uploadPayload(payload, { hardwareVersion: HW, softwareType: 'main-fw', softwareVersion: version });
    this.backend.admin.deploy({ releaseVersion: version, cohort: 'default', rolloutPercent: 100 });
    return payload;
  }

  /** Uploads and deploys a raw image. */
  async publishRaw(version: string, image: Uint8Array): Promise<void> {
    await this.backend.admin.uploadPayload(image, { hardwareVersion: HW, softwareType: 'main-fw', softwareVersion: version });
    this.backend.admin.deploy({ releaseVersion: version, cohort: 'default', rolloutPercent: 100 });
  }

  /** Power-on: both bootloaders run, then a fresh VM loads the ES2020 file and builds the agent. */
  async boot(config: Partial<GuestConfig> = {}, memoryLimit?: number): Promise<GuestDevice> {
    if (this.guest !== null) this.guest.kill();
    const main = await this.main.boot();
    const wifi = await this.wifi.boot();
    this.boots.push({ main, wifi });
    const full: GuestConfig = {
      baseUrl: this.backend.baseUrl, projectKey: this.backend.projectKey, serial: this.serial, hardwareVersion: HW,
      softwareType: 'main-fw',
      targets: [guestTarget('main-fw', 0, this.main.layout, main.slot), guestTarget('wifi-fw', 1, this.wifi.layout, wifi.slot)],
      journal: journalWindow(this.main.layout),
      hmacKeyHex: toHex(this.key),
      policy: { healthDeadlineMs: 5000, retriesPerCycle: 3 },
      ...config,
    };
    this.guest = await GuestDevice.create({ flashes: [this.mainFlash, this.wifiFlash], config: full, caPem: (this.backend.apiCaPem ?? '') + (this.backend.cdnCaPem ?? ''), memoryLimit });
    this.guest.startAgent();
    return this.guest;
  }

  /** One runOnce() of the current guest; resolves with its result. */
  runOnce(): Promise<{ phase: string; outcome: string; error?: { code: string; message: string } }> {
    if (this.guest === null) throw new Error('not booted');
    return this.guest.call('agent.runOnce()');
  }

  /** Stops everything. */
  async close(): Promise<void> {
    if (this.guest !== null) this.guest.kill();
    this.guest = null;
    await this.backend.close();
  }
}

/** A firmware image for the simulated MCUs. */
export function firmware(version: string, size: number): Uint8Array {
  return buildFirmwareImage({ version, size });
}
