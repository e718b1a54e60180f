import type { ImageWriter } from '../../../hal/image-target.js';
import type { PayloadSink, SinkFormat, SinkOpen } from './sink.js';
import type { ReleasePlan } from '../state.js';
import { targetFor } from '../../bundle/device-check.js';
import { otaError } from '../../util/errors.js';

// A payload that is one image (no bundle magic): it goes to the target of the software type the device
// queried, as the Memfault SDK does with its single binary.

class RawImageSink implements PayloadSink {
  constructor(private readonly writer: ImageWriter, private readonly options: SinkOpen, private readonly imageVersion: string | null,
    private readonly activateFn: () => Promise<void>) {}

  /** Appends image bytes. */
  write(chunk: Uint8Array): Promise<void> {
    return this.writer.write(chunk);
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
    return target.begin(part, options.resumeAt).then(function (writer) {
      return new RawImageSink(writer, options, part.version !== '' ? part.version : null, function () { return target.activate(); }) as PayloadSink;
    });
}

/** Reads an image's version from its first bytes (its header), or null when it has none. */
export type ImageVersionReader = (head: Uint8Array) => string | null;

/**
 * The raw single-image format, the fallback when no other format recognizes the payload. The image's version (for
 * the slot record, and so for current_version) comes from /latest, else from `versionOf` reading the image header.
 */
export function rawImage(versionOf: ImageVersionReader | null, headBytes: number): SinkFormat {
  return {
    name: 'raw',
    headBytes: headBytes,
    recognizes: function (): boolean { return true; },
    open: function (options: SinkOpen): Promise<PayloadSink> {
      let version = options.version;
      if (version === null && versionOf !== null && options.head.length > 0) version = versionOf(options.head);
      return openRaw(options, version);
    },
  };
}

/** The raw format without a header reader. */
export const rawImageFormat: SinkFormat = rawImage(null, 0);
