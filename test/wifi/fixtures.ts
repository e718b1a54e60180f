import { SimFlash } from '../../hal/sim/sim-flash.js';
import { uniform4kGeometry } from '../../hal/sim/geometries.js';
import { buildFirmwareImage } from '../../hal/sim/firmware-image.js';
import { TwoMcuDevice } from '../../hal/sim/wifi/two-mcu-device.js';
import type { LinkFaults } from '../../hal/sim/wifi/serial-link.js';
import { nodeHashes } from '../../src/node/crypto.js';
import { createBundle } from '../../src/tools/bundle.js';
import type { BundleInput } from '../../src/tools/bundle.js';
import { testSigner } from '../bundle/helpers.js';

/** Sizes of the simulated images. */
export interface ImageSizes {
  main: number;
  wifi: number;
}

/** The factory and release images of the two-MCU tests. */
export function images(sizes: ImageSizes): { mainOld: Uint8Array; wifiOld: Uint8Array; mainNew: Uint8Array; wifiNew: Uint8Array } {
  return {
    mainOld: buildFirmwareImage({ version: '1.0.0', size: sizes.main }),
    wifiOld: buildFirmwareImage({ version: '1.0.0', size: sizes.wifi, seed: 77 }),
    mainNew: buildFirmwareImage({ version: '2.0.0', size: sizes.main + 13 }),
    wifiNew: buildFirmwareImage({ version: '1.4.0', size: sizes.wifi + 7, seed: 78 }),
  };
}

/** The release: main-fw 2.0.0 requires wifi-fw >= 1.4.0; wifi-fw 1.4.0 activates first. */
export function releaseInput(sizes: ImageSizes, sequence = 100): BundleInput {
  const img = images(sizes);
  return {
    sequence, releaseVersion: '2.0.0', hardwareVersions: ['evt'],
    parts: [
      { softwareType: 'main-fw', version: '2.0.0', data: img.mainNew, requires: [{ softwareType: 'wifi-fw', minVersion: '1.4.0' }] },
      { softwareType: 'wifi-fw', version: '1.4.0', data: img.wifiNew },
    ],
  };
}

/** A signed release bundle. */
export function releaseBundle(sizes: ImageSizes): Uint8Array {
  return createBundle(releaseInput(sizes), testSigner());
}

/** Options of a provisioned two-MCU device. */
export interface DeviceSpec {
  sizes: ImageSizes;
  /** 4 KiB sectors per slot on each MCU. */
  sectorsPerSlot?: number;
  baud?: number;
  linkFaults?: LinkFaults;
  linkSeed?: number;
  flashSeed?: number;
  chunkSize?: number;
}

/** A two-MCU device with both factory images installed. */
export async function provisionedDevice(spec: DeviceSpec): Promise<{ device: TwoMcuDevice; mainFlash: SimFlash; wifiFlash: SimFlash }> {
  const per = spec.sectorsPerSlot ?? 2;
  const mainFlash = new SimFlash(uniform4kGeometry(2 + 2 * per, 4, 0xff), { seed: spec.flashSeed ?? 1 });
  const wifiFlash = new SimFlash(uniform4kGeometry(2 + 2 * per, 4, 0xff), { seed: (spec.flashSeed ?? 1) + 1 });
  const device = new TwoMcuDevice({ mainFlash, wifiFlash, hashes: nodeHashes, baud: spec.baud, linkFaults: spec.linkFaults,
    linkSeed: spec.linkSeed, chunkSize: spec.chunkSize });
  const img = images(spec.sizes);
  await device.provision(img.mainOld, '1.0.0', img.wifiOld, '1.0.0');
  return { device, mainFlash, wifiFlash };
}
