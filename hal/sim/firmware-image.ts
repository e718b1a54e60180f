import type { Flash } from '../flash.js';
import { asciiToBytes, bytesToAscii } from '../../src/util/bytes.js';
import { otaError } from '../../src/util/errors.js';
import { seededRandom } from './random.js';

// Simulated firmware: a small header that tells the simulated device how the image behaves once booted, then
// seeded filler so different builds differ in every sector. Little-endian.
//
//   0  4  magic "SFW1"
//   4  1  behaviour (0 healthy, 1 crash-on-boot, 2 never-confirm)
//   5  1  version length
//   6  2  reserved, zero
//   8  4  total image size
//  12  4  filler seed
//  16 32  version, ASCII, zero-padded
//  48  .. filler

/** What a simulated image does when booted. */
export type FirmwareBehaviour = 'healthy' | 'crash-on-boot' | 'never-confirm';

/** The parsed header of a simulated image. */
export interface FirmwareHeader {
  version: string;
  behaviour: FirmwareBehaviour;
  size: number;
  seed: number;
}

/** How to build a simulated image. */
export interface FirmwareSpec {
  version: string;
  /** Total bytes, header included (at least FIRMWARE_HEADER_LENGTH). */
  size: number;
  behaviour?: FirmwareBehaviour;
  /** Seeds the filler (default: derived from the version). */
  seed?: number;
}

/** Header bytes at the start of every simulated image. */
export const FIRMWARE_HEADER_LENGTH = 48;

const MAGIC = 'SFW1';
const BEHAVIOURS: FirmwareBehaviour[] = ['healthy', 'crash-on-boot', 'never-confirm'];

function versionSeed(version: string): number {
  let h = 2166136261;
  for (let i = 0; i < version.length; i++) h = ((h ^ version.charCodeAt(i)) * 16777619) >>> 0;
  return h;
}

/** Builds a simulated firmware image. */
export function buildFirmwareImage(spec: FirmwareSpec): Uint8Array {
  if (spec.size < FIRMWARE_HEADER_LENGTH || spec.version.length > 32 || !/^[\x20-\x7e]*$/.test(spec.version)) {
    throw otaError('firmware-spec-invalid', 'A simulated image needs size >= ' + FIRMWARE_HEADER_LENGTH +
      ' and a printable version of at most 32 characters; got size ' + spec.size + ', version "' + spec.version + '".', false);
  }
  const seed = (spec.seed ?? versionSeed(spec.version)) >>> 0;
  const out = new Uint8Array(spec.size);
  const view = new DataView(out.buffer);
  out.set(asciiToBytes(MAGIC), 0);
  out[4] = BEHAVIOURS.indexOf(spec.behaviour ?? 'healthy');
  out[5] = spec.version.length;
  view.setUint32(8, spec.size, true);
  view.setUint32(12, seed, true);
  out.set(asciiToBytes(spec.version), 16);
  const random = seededRandom(seed);
  for (let i = FIRMWARE_HEADER_LENGTH; i < spec.size; i++) out[i] = Math.floor(random() * 256);
  return out;
}

/** Parses the header of a simulated image, or returns null when `bytes` does not start with one. */
export function parseFirmwareHeader(bytes: Uint8Array): FirmwareHeader | null {
  if (bytes.length < FIRMWARE_HEADER_LENGTH || bytesToAscii(bytes, 0, 4) !== MAGIC) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const behaviour = BEHAVIOURS[bytes[4]];
  if (behaviour === undefined || bytes[5] > 32) return null;
  return { behaviour, version: bytesToAscii(bytes, 16, 16 + bytes[5]), size: view.getUint32(8, true),
    seed: view.getUint32(12, true) };
}

/** Reads and parses the header of the image at the start of `flash`. */
export function readFirmwareHeader(flash: Flash): Promise<FirmwareHeader | null> {
  return flash.read(0, FIRMWARE_HEADER_LENGTH).then(parseFirmwareHeader);
}
