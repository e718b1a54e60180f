// Where a software type's image goes. The device maps software types to targets; a payload never chooses.

/** What the release says about one image. */
export interface ImagePart {
  size: number;
  version: string;
  /** SHA-256 of the image, when the release carries one (bundles always do). */
  sha256?: Uint8Array;
  /** CRC-32 of the image, when known: a transport check, never the security check. */
  crc32?: number;
}

/** Streams one image into the target's staging area. */
export interface ImageWriter {
  /**
   * Appends bytes in order. Resolves once they are accepted (buffered or programmed). A rejection is taken as the
   * device's failure: the agent later resumes from the durable offset it journaled, through a new begin().
   */
  write(chunk: Uint8Array): Promise<void>;
  /** Bytes known to be programmed and read back: a resume restarts here after a power cut. */
  durableOffset(): number;
  /** Flushes, reads the whole image back from flash and checks size, CRC-32 and SHA-256; rejects on mismatch. */
  finish(): Promise<void>;
}

/** The running/staging state of a target, for `current_version` and status displays. */
export interface TargetStatus {
  softwareType: string;
  /** Version of the image that runs now, or null when none is known. */
  runningVersion: string | null;
  /** True while the running image is an unconfirmed trial. */
  trial: boolean;
}

/** A flash destination for one software type. */
export interface ImageTarget {
  softwareType: string;
  /** Largest image the staging slot holds. */
  capacity(): number;
  /** What runs now. */
  status(): Promise<TargetStatus>;
  /** Prepares the staging slot (invalidate, erase what `resumeAt` does not keep) and returns a writer at `resumeAt`. */
  begin(part: ImagePart, resumeAt: number): Promise<ImageWriter>;
  /** Marks the verified staged image pending: it boots as a trial on the next reboot. */
  activate(): Promise<void>;
  /** Marks the running trial image good, so the fallback may be reused. */
  confirm(): Promise<void>;
  /**
   * Rejects the running trial (or a pending image) so the confirmed fallback boots next. Optional: without it the agent
   * reboots unconfirmed and relies on the bootloader reverting a trial that was never confirmed.
   */
  revert?(): Promise<void>;
}
