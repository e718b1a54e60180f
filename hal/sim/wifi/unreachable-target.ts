import type { ImageTarget, ImageWriter, TargetStatus } from '../../image-target.js';
import type { OtaError } from '../../../src/util/errors.js';
import { isOtaError, otaError } from '../../../src/util/errors.js';

// What the main MCU maps the WiFi software type to while its co-processor does not answer (no bootable image of its
// own, a dead serial link). Leaving the type out would make the agent refuse a release with a WiFi part as built for
// another device ("part-unmapped") and give it up for good; here every operation fails with a retryable
// `wifi-unreachable`, so cycles back off and the release installs once the co-processor answers again. Nothing can
// be said about what the co-processor runs, so nothing is installed, not even a release that leaves it alone.

/** An ImageTarget for a co-processor that does not answer: every operation fails with a retryable `wifi-unreachable`. */
export class UnreachableWifiTarget implements ImageTarget {
  readonly softwareType: string;
  /** Why it does not answer, as found at power-on (its code is in the error's details). */
  readonly cause: OtaError;
  private readonly slotBytes: number;

  /** A stand-in for `softwareType` whose staging slot holds `slotBytes` (known from the layout), failing with `cause`. */
  constructor(softwareType: string, slotBytes: number, cause: unknown) {
    this.softwareType = softwareType;
    this.slotBytes = slotBytes;
    this.cause = isOtaError(cause) ? cause : otaError('wifi-internal', String(cause), false);
  }

  /** The error every operation fails with. */
  error(): OtaError {
    return otaError('wifi-unreachable', `The WiFi co-processor ("${this.softwareType}") did not answer at power-on ` +
      `(${this.cause.code}): what it runs cannot be told, so no release is checked or installed until it answers. Nothing ` +
      'was given up; it is asked again at the next power-on. Check its power, reset line and serial link, or reflash it ' +
      'over its serial bootloader if it has no bootable image.', true, { softwareType: this.softwareType, why: this.cause.code }, this.cause);
  }

  /** The co-processor's slot size, from the layout: a header check needs no answer. */
  capacity(): number {
    return this.slotBytes;
  }

  /** Rejects with `wifi-unreachable`. */
  status(): Promise<TargetStatus> {
    return Promise.reject(this.error());
  }

  /** Rejects with `wifi-unreachable`. */
  begin(): Promise<ImageWriter> {
    return Promise.reject(this.error());
  }

  /** Rejects with `wifi-unreachable`. */
  activate(): Promise<void> {
    return Promise.reject(this.error());
  }

  /** Rejects with `wifi-unreachable`. */
  confirm(): Promise<void> {
    return Promise.reject(this.error());
  }
}
