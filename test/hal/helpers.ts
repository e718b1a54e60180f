import { createHash } from 'node:crypto';
import { SimFlash } from '../../hal/sim/sim-flash.js';
import type { SimFlashOptions } from '../../hal/sim/sim-flash.js';
import { presetGeometry } from '../../hal/sim/geometries.js';
import type { GeometryPreset } from '../../hal/sim/geometries.js';
import { SimMcu } from '../../hal/sim/sim-mcu.js';
import { nodeHashes } from '../../src/node/crypto.js';
import type { OtaError } from '../../src/util/errors.js';
import type { ImageTarget } from '../../hal/image-target.js';

/** Resolves to 'ok' or the rejection's error code. */
export function code(p: Promise<unknown>): Promise<string> {
  return p.then(() => 'ok', (e: OtaError) => e.code);
}

/** SHA-256 of `data`. */
export function sha256(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(data).digest());
}

/** A device on a preset geometry. */
export function device(preset: GeometryPreset = 'uniform-4k', align = 4, erase = 0xff, options: SimFlashOptions = {}): SimMcu {
  const flash = new SimFlash(presetGeometry(preset, align, erase), options);
  return new SimMcu({ flash, softwareType: 'main-mcu', hashes: nodeHashes });
}

/** Stages `image` through `target` in `chunk`-byte writes, starting at `from`. */
export async function stage(target: ImageTarget, image: Uint8Array, version: string, chunk = 1000, from = 0): Promise<void> {
  const writer = await target.begin({ size: image.length, version, sha256: sha256(image) }, from);
  for (let at = from; at < image.length; at += chunk) await writer.write(image.subarray(at, Math.min(at + chunk, image.length)));
  await writer.finish();
}
