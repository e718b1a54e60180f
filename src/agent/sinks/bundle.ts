import { bundleLength, hasMagic, partDataOffset, PREAMBLE_SIZE } from '../../bundle/framing.js';
import type { TrustPolicy } from '../../bundle/header.js';
import { BundleUnpacker } from '../../bundle/unpacker.js';
import type { UnpackResult, UnpackState } from '../../bundle/unpacker.js';
import type { HashFactory } from '../../integrity/hash.js';
import { otaError } from '../../util/errors.js';
import { activateRelease } from '../../bundle/activation.js';
import type { PlannedPart, ReleasePlan } from '../state.js';
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

  /** Payload offset of the next byte write() receives (after a resumed header replay: the resume offset). */
  private at = 0;

  /**
   * Feeds payload bytes. A resumed unpacker may stand further on than the agent's journal (a part that was
   * already staged before the journal moved past it): bytes before its next offset are dropped, not written again.
   */
  write(chunk: Uint8Array): Promise<void> {
    if (this.resumed === null) return this.unpacker.push(chunk);
    if (this.unpacker.verifiedHeader() === null) {
      // The header replay, from byte 0; once it is checked the stream continues at the resume offset.
      return this.unpacker.push(chunk).then(() => {
        if (this.unpacker.verifiedHeader() !== null) this.at = this.resumeAt;
      });
    }
    const skip = this.unpacker.nextOffset() - this.at;
    if (skip >= chunk.length) {
      this.at += chunk.length;
      return Promise.resolve();
    }
    const data = skip > 0 ? chunk.subarray(skip) : chunk;
    this.at += chunk.length;
    return this.unpacker.push(data);
  }

  /**
   * Payload offset of the unpacker's resumable state, but never past the next byte the unpacker still needs in this
   * run (a part's 4-byte length prefix is not durable, yet a journaled state past it resumes straight in the part's
   * data). The agent feeds nothing below this offset again, so the next write() starts at it or after it.
   */
  durableOffset(): number {
    const state = this.unpacker.state();
    if (state === null) return 0;
    const header = this.unpacker.verifiedHeader();
    if (header === null) return this.resumed !== null ? this.resumeAt : 0;
    const sizes: number[] = [];
    for (let i = 0; i < header.manifest.parts.length; i++) sizes.push(header.manifest.parts[i].size);
    let durable = state.partIndex >= sizes.length ? bundleLength(header.headerLength, sizes)
      : partDataOffset(header.headerLength, sizes, state.partIndex) + state.partOffset;
    if (this.unpacker.nextOffset() < durable) durable = this.unpacker.nextOffset();
    if (durable > this.at) this.at = durable;
    return durable;
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

  /** Activates the parts through activateRelease: manifest order, required parts switched to and confirmed first. */
  activate(): Promise<void> {
    const result = this.result;
    if (result === null) return Promise.reject(otaError('bundle-not-verified', 'activate() before the bundle finished verifying.', false));
    return activateRelease(result);
  }

  /** The verified manifest's parts and sequence. */
  plan(): ReleasePlan | null {
    const header = this.unpacker.verifiedHeader();
    if (header === null) return null;
    const parts: PlannedPart[] = [];
    for (let i = 0; i < header.manifest.parts.length; i++) {
      const part = header.manifest.parts[i];
      // The manifest's requirements are plain { softwareType, minVersion } pairs already (the plan is journaled as JSON).
      parts.push({ softwareType: part.softwareType, version: part.version, order: part.order, requires: part.requires });
    }
    return { sequence: header.manifest.sequence, parts: parts };
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
      // The floor is the higher of the device's own record and the sequence the agent journaled at its last confirm.
      const journaled = typeof options.installedSequence === 'number' ? options.installedSequence : 0;
      const floor = Math.max(config.installedSequence(), journaled);
      const unpacker = new BundleUnpacker({
        device: { hardwareVersion: config.hardwareVersion, targets: options.targets, installedSequence: floor },
        trust: config.trust,
        hashes: config.hashes,
        totalLength: options.size,
        resume: resume !== null ? resume : undefined,
      });
      return Promise.resolve(new BundleSink(unpacker, options.resumeAt, resume) as PayloadSink);
    },
  };
}
