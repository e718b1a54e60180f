import { bundleLength, hasMagic, partDataOffset, PREAMBLE_SIZE } from '../../bundle/framing.js';
import type { TrustPolicy } from '../../bundle/header.js';
import { BundleUnpacker } from '../../bundle/unpacker.js';
import type { UnpackResult, UnpackState } from '../../bundle/unpacker.js';
import type { HashFactory } from '../../integrity/hash.js';
import { otaError } from '../../util/errors.js';
import type { PayloadSink, SinkFormat, SinkOpen } from './sink.js';

// A multi-part bundle (docs/bundle-format.md) streamed through the bundle unpacker, which checks the signed
// manifest before the first flash write and routes each part to the target of its software type. Resuming
// needs the header again: the sink asks the agent to replay bytes [0, 12 + header length) first.

/** What the device contributes to bundle checks. */
export interface BundleConfig {
  trust: TrustPolicy;
  hashes: HashFactory;
  hardwareVersion: string;
  /** Sequence of the last confirmed bundle (anti-rollback floor); 0 when none. */
  installedSequence: () => number;
}

function isUnpackState(value: unknown): value is UnpackState {
  return value !== null && typeof value === 'object' && typeof (value as UnpackState).headerDigest === 'string' &&
    typeof (value as UnpackState).partIndex === 'number' && typeof (value as UnpackState).partOffset === 'number';
}

class BundleSink implements PayloadSink {
  private result: UnpackResult | null = null;

  constructor(private readonly unpacker: BundleUnpacker, private readonly resumeAt: number, private readonly resumed: UnpackState | null) {}

  /** Feeds payload bytes at the unpacker's next offset. */
  write(chunk: Uint8Array): Promise<void> {
    return this.unpacker.push(chunk);
  }

  /** Payload offset of the unpacker's resumable state. */
  durableOffset(): number {
    const state = this.unpacker.state();
    if (state === null) return 0;
    const header = this.unpacker.verifiedHeader();
    if (header === null) return this.resumed !== null ? this.resumeAt : 0;
    const sizes: number[] = [];
    for (let i = 0; i < header.manifest.parts.length; i++) sizes.push(header.manifest.parts[i].size);
    if (state.partIndex >= sizes.length) return bundleLength(header.headerLength, sizes);
    return partDataOffset(header.headerLength, sizes, state.partIndex) + state.partOffset;
  }

  /** The unpacker's state. */
  resumeState(): unknown {
    return this.unpacker.state();
  }

  /** Bytes [0, n) to feed again before continuing: the header, when resuming. */
  replayPrefix(): number {
    if (this.resumed === null || this.resumed.headerDigest === '' || this.unpacker.verifiedHeader() !== null) return 0;
    return PREAMBLE_SIZE + this.resumed.headerLength;
  }

  /** Ends the stream: every part was checked by reading it back as it completed. */
  finish(): Promise<void> {
    return this.unpacker.end().then((result) => {
      this.result = result;
    });
  }

  /** Activates the parts in the manifest's order. */
  activate(): Promise<void> {
    const result = this.result;
    if (result === null) return Promise.reject(otaError('bundle-not-verified', 'activate() before the bundle finished verifying.', false));
    const parts = result.parts.slice(0).sort(function (a, b) { return a.order - b.order; });
    function next(i: number): Promise<void> {
      if (i >= parts.length) return Promise.resolve();
      return parts[i].target.activate().then(function () { return next(i + 1); });
    }
    return next(0);
  }

  /** The software types of the manifest, in activation order. */
  softwareTypes(): string[] {
    const header = this.unpacker.verifiedHeader();
    const out: string[] = [];
    if (header === null) return out;
    const parts = header.manifest.parts.slice(0).sort(function (a, b) { return a.order - b.order; });
    for (let i = 0; i < parts.length; i++) out.push(parts[i].softwareType);
    return out;
  }

  /** The manifest's release version. */
  version(): string | null {
    const header = this.unpacker.verifiedHeader();
    return header !== null ? header.manifest.releaseVersion : null;
  }
}

/** The bundle format, for `createAgent({ formats: [bundleFormat(config)] })`. */
export function bundleFormat(config: BundleConfig): SinkFormat {
  return {
    name: 'bundle',
    headBytes: 4,
    recognizes: function (head: Uint8Array): boolean { return head.length >= 4 && hasMagic(head); },
    open: function (options: SinkOpen): Promise<PayloadSink> {
      const resume = options.resumeAt > 0 && isUnpackState(options.resumeState) ? options.resumeState : null;
      const unpacker = new BundleUnpacker({
        device: { hardwareVersion: config.hardwareVersion, targets: options.targets, installedSequence: config.installedSequence() },
        trust: config.trust,
        hashes: config.hashes,
        totalLength: options.size,
        resume: resume !== null ? resume : undefined,
      });
      return Promise.resolve(new BundleSink(unpacker, options.resumeAt, resume) as PayloadSink);
    },
  };
}
