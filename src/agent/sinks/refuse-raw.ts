import type { PayloadSink, SinkFormat, SinkOpen } from './sink.js';
import { otaError } from '../../util/errors.js';
import type { OtaError } from '../../util/errors.js';

// Its own file, apart from raw-image.ts, so a build that leaves the raw-image path out (the Espruino one) keeps it.

/** A raw format that accepts nothing: every payload that is not a bundle is refused with the error `reason` makes. */
export function refusingRaw(reason: (options: SinkOpen) => OtaError): SinkFormat {
  return {
    name: 'raw',
    headBytes: 0,
    recognizes: function (): boolean { return true; },
    open: function (options: SinkOpen): Promise<PayloadSink> { return Promise.reject(reason(options)); },
  };
}

/**
 * The raw format of a device that only takes signed bundles: any payload that is not a bundle is refused before
 * anything is written to flash (a raw image carries no signature, so accepting it would bypass the trust policy).
 */
export const refuseRawFormat: SinkFormat = refusingRaw(function (options: SinkOpen): OtaError {
  return otaError('unsigned-payload-refused', 'The release payload (' + options.size + ' bytes for "' + options.softwareType +
    '") is a raw image, not a signed bundle, and this device only accepts signed bundles; nothing was written. Publish a ' +
    'signed bundle, or set allowUnsigned: true on the agent for development.', false, { discard: true, refused: true, softwareType: options.softwareType });
});
