import type { ImageWriter } from '../../../hal/image-target.js';
import type { PayloadSink, SinkFormat, SinkOpen } from './sink.js';
import type { ReleasePlan } from '../state.js';
import { targetFor } from '../../bundle/device-check.js';
import { deviceFailure, otaError } from '../../util/errors.js';

// A payload that is one image (no bundle magic): it goes to the target of the software type the device
// queried, as the Memfault SDK does with its single binary.

class RawImageSink implements PayloadSink {
  constructor(private readonly writer: ImageWriter, private readonly options: SinkOpen, private readonly imageVersion: string | null,
    private readonly activateFn: () => Promise<void>) {}

  /** Appends image bytes. */
  write(chunk: Uint8Array): Promise<void> {
    return this.writer.write(chunk).then(undefined, deviceFailure);
  }

  /** The writer's durable offset (payload offset = image offset). */
  durableOffset(): number {
    return this.writer.durableOffset();
  }

  /** Nothing beyond the offset is needed to resume. */
  resumeState(): unknown {
    return null;
  }

  /** A raw image needs nothing replayed. */
  replayPrefix(): number {
    return 0;
  }

  /** Reads the image back and checks it. */
  finish(): Promise<void> {
    return this.writer.finish();
  }

  /** Marks the image pending. */
  activate(): Promise<void> {
    return this.activateFn();
  }

  /** The one software type. */
  softwareTypes(): string[] {
    return [this.options.softwareType];
  }

  /** The version read from the image header, when there is one. */
  version(): string | null {
    return this.imageVersion;
  }

  /** A raw image has no manifest. */
  plan(): ReleasePlan | null {
    return null;
  }
}

/** A raw image refused for its version: nothing written, the artifact given up (`refused`). */
function versionRefused(code: string, message: string, options: SinkOpen, found: string | null): Promise<PayloadSink> {
  return Promise.reject(otaError(code, message, false, { softwareType: options.softwareType, release: options.version, found: found,
    discard: true, refused: true }));
}

function openRaw(options: SinkOpen, version: string | null): Promise<PayloadSink> {
  const target = targetFor(options.targets, options.softwareType);
    if (target === null) {
      return Promise.reject(otaError('no-target', 'No image target is configured for software type "' + options.softwareType +
        '"; map it to a flash target when creating the agent.', false, { softwareType: options.softwareType }));
    }
    if (options.size > target.capacity()) {
      // `refused`: the payload itself is refused, so the agent gives this artifact up instead of fetching it again.
      return Promise.reject(otaError('image-too-large', 'The image is ' + options.size + ' bytes but the "' + options.softwareType +
        '" slot holds ' + target.capacity() + '; nothing was written. Build a smaller image or enlarge the slot.', false,
      { size: options.size, capacity: target.capacity(), discard: true, refused: true }));
    }
    const part = { size: options.size, version: version !== null ? version : '' };
    // Checked once, on the first bytes (a resume reopens what was accepted then, under the version journaled then).
    const fresh = options.head.length > 0 ? target.status() : Promise.resolve(null);
    return fresh.then(function (status) {
      if (status !== null && status.runningVersion === part.version) {
        // The server offers, as a newer release, an image of the version that runs: it records this artifact under
        // another version (the image says otherwise), and installing it would repeat after every check.
        return versionRefused('image-already-running', 'The release offered for "' + options.softwareType + '" is an image of version ' +
          part.version + ', which this device already runs; nothing was written and it is given up. The server lists it under ' +
          'another version than the image carries: upload the image as the release its header names, or build it with the ' +
          'release\'s version.', options, part.version);
      }
      return target.begin(part, options.resumeAt).then(function (writer) {
        return new RawImageSink(writer, options, part.version !== '' ? part.version : null, function () { return target.activate(); }) as PayloadSink;
      });
    });
}

/** Reads an image's version from its first bytes (its header), or null when it has none. */
export type ImageVersionReader = (head: Uint8Array) => string | null;

/**
 * The raw single-image format, the fallback when no other format recognizes the payload. The image's version (for
 * the slot record, and so for current_version) is the release's from /latest, checked against the image header when
 * `versionOf` reads one, else the header's. An image whose version cannot be told (no /latest version and no header
 * version), whose header disagrees with the release, or that is the version already running, is refused before
 * anything is written (and given up): installed, it would be reported as "" or as another version, so the server
 * would offer it again after every check, and each install would overwrite the fallback slot.
 */
export function rawImage(versionOf: ImageVersionReader | null, headBytes: number): SinkFormat {
  return {
    name: 'raw',
    headBytes: headBytes,
    recognizes: function (): boolean { return true; },
    open: function (options: SinkOpen): Promise<PayloadSink> {
      const given = options.version !== null && options.version !== '' ? options.version : null;
      if (options.head.length === 0) return openRaw(options, given);
      const read = versionOf !== null ? versionOf(options.head) : null;
      const found = read !== null && read !== '' ? read : null;
      if (versionOf !== null && found === null) {
        return versionRefused('image-version-unknown', 'The raw image for "' + options.softwareType + '"' + (given !== null ? ' (release ' +
          given + ')' : '') + ' has no version in its header; it is not an image this device can report running. Nothing was written ' +
          'and it is given up; upload a firmware image built with its version.', options, null);
      }
      if (given !== null && found !== null && found !== given) {
        return versionRefused('image-version-mismatch', 'The raw image for "' + options.softwareType + '" says version ' + found +
          ' in its header but the release is ' + given + '; nothing was written and it is given up. Upload it as release ' + found +
          ', or build the image with version ' + given + '.', options, found);
      }
      const version = given !== null ? given : found;
      if (version === null) {
        // The agent's configuration is at fault, not the release: polling stops (like a 400), nothing is given up.
        return Promise.reject(otaError('image-version-unknown', 'The raw image for "' + options.softwareType + '" has no version the ' +
          'device can tell: the device API gave none (releases/latest/url) and the agent reads no image header. Installed, it would ' +
          'run as "" and be offered again after every check. Nothing was written and polling stops; configure useLatestJson, a ' +
          'rawFormat that reads the header (rawImage(versionOf, headBytes)), or signed bundles, then run again.', false,
        { softwareType: options.softwareType, discard: true, stopPolling: true }));
      }
      return openRaw(options, version);
    },
  };
}

/** The raw format without a header reader (the version must come from /latest). */
export const rawImageFormat: SinkFormat = rawImage(null, 0);
