import { refusingRaw } from '../agent/sinks/refuse-raw.js';
import type { SinkFormat, SinkOpen } from '../agent/sinks/sink.js';
import { otaError } from '../util/errors.js';
import type { OtaError } from '../util/errors.js';

// The Espruino build's stand-in for src/agent/sinks/raw-image.ts (scripts/build/espruino.mjs swaps it in unless
// OTA_ESPRUINO_RAW=1). A device there takes signed bundles: Espruino's TLS authenticates no server, so an image without
// a manifest MAC is never trustworthy, and allowUnsigned (for development) admits unsigned bundles only. Leaving the
// raw-image sink out saves about 1 KB of code on the device.

/** Reads an image's version from its first bytes (its header), or null when it has none. */
export type ImageVersionReader = (head: Uint8Array) => string | null;

/** A raw format that refuses every payload, saying why. */
export function rawImage(): SinkFormat {
  return refusingRaw(function (options: SinkOpen): OtaError {
    return otaError('raw-image-omitted', 'The release payload is a raw image and this Espruino build has no ' +
      'raw-image path; nothing was written. Publish a signed bundle, or build with OTA_ESPRUINO_RAW=1.', false,
    { discard: true, softwareType: options.softwareType });
  });
}

/** The raw format: refusing, in this build. */
export const rawImageFormat: SinkFormat = rawImage();
