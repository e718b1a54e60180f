import type { ImageTarget } from '../../../hal/image-target.js';
import type { ReleasePlan } from '../state.js';

// Where downloaded payload bytes go. One implementation per payload format: a raw single image, or a bundle
// routed by the bundle unpacker. The agent never learns which one it holds beyond the format name.

/** A payload being written to flash. */
export interface PayloadSink {
  /** Appends payload bytes in order. */
  write(chunk: Uint8Array): Promise<void>;
  /** Payload bytes known to be programmed and read back; a resume restarts the sink here, and the caller feeds nothing below it again. */
  durableOffset(): number;
  /** JSON-able resume state valid at `durableOffset()` (null when the offset alone suffices). */
  resumeState(): unknown;
  /** Bytes [0, n) the sink needs fed again before it continues at `durableOffset()` (a bundle's header); 0 for none. */
  replayPrefix(): number;
  /** Flushes and verifies every part by reading it back from flash. */
  finish(): Promise<void>;
  /** Marks every verified part pending (trial boot on the next reboot), in activation order. */
  activate(): Promise<void>;
  /** The software types this payload installs. */
  softwareTypes(): string[];
  /** The release version the payload declares (a bundle manifest), or null. */
  version(): string | null;
  /** A verified bundle's parts and sequence (journaled for activation and confirmation); null for a raw image. */
  plan(): ReleasePlan | null;
}

/** What a sink is opened with. */
export interface SinkOpen {
  /** Total payload size in bytes. */
  size: number;
  /** Release version from the API, when known. */
  version: string | null;
  /** The software type the device queried (a raw image goes to its target). */
  softwareType: string;
  targets: ImageTarget[];
  /** The payload's first bytes (the format's headBytes), or an empty array when resuming. */
  head: Uint8Array;
  /** Resume point: the payload offset and the sink state saved with it (offset 0 = fresh). */
  resumeAt: number;
  resumeState: unknown;
  /** Sequence of the last confirmed bundle from the agent's journal (set by the agent); 0 or absent when none. */
  installedSequence?: number;
}

/** Opens sinks of one payload format. */
export interface SinkFormat {
  name: string;
  /** Bytes of the payload's start this format needs to see before it opens (the agent waits for the largest). */
  headBytes: number;
  /** True when `head` (the first bytes: at least the largest headBytes, or the whole payload) is this format. */
  recognizes(head: Uint8Array): boolean;
  open(options: SinkOpen): Promise<PayloadSink>;
}
