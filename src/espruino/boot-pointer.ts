import { otaError } from '../util/errors.js';
import type { EspruinoStorage } from './runtime.js';

// Which application file runs, kept in two JSON files used in turn: record n lives in PREFIX + (n % 2) + ".json".
// A write never touches the newest record, so a power cut during it leaves the previous one valid (the torn file
// fails to parse and is ignored). examples/espruino/boot.js reads the same records at boot.

/** One boot-pointer record. */
export interface BootRecord {
  /** Increases by one with every write; the highest valid record wins. */
  seq: number;
  /** Storage file the loader requires. */
  active: string;
  /** Version of the active file, null when unknown (first install). */
  version: string | null;
  /** True while the active file is an unconfirmed trial. */
  trial: boolean;
  /** Boots spent on the trial so far (the loader counts them). */
  attempts: number;
  /** Boots a trial gets before the loader reverts to the fallback. */
  maxAttempts: number;
  /** The file to revert to, and its version. */
  fallback: string | null;
  fallbackVersion: string | null;
  /** The other bank once finish() verified it (and its version): activate() may follow a reboot. */
  staged: string | null;
  stagedVersion: string | null;
}

function valid(value: unknown): value is BootRecord {
  if (value === null || typeof value !== 'object') return false;
  const r = value as BootRecord;
  return typeof r.seq === 'number' && typeof r.active === 'string' && typeof r.trial === 'boolean' &&
    typeof r.attempts === 'number' && typeof r.maxAttempts === 'number';
}

/** Reads and writes the boot-pointer pair. */
export class BootPointer {
  constructor(private storage: EspruinoStorage, private prefix: string) {
    if (prefix.length + 7 > 28) {
      throw otaError('storage-name-too-long', 'Boot-pointer prefix "' + prefix + '" makes file names longer than Storage\'s 28 characters; use a shorter one.', false);
    }
  }

  /** File name of record slot `index` (0 or 1). */
  fileName(index: number): string {
    return this.prefix + index + '.json';
  }

  /** The newest valid record, or null when there is none (a fresh device). */
  read(): BootRecord | null {
    let best: BootRecord | null = null;
    for (let i = 0; i < 2; i++) {
      const record = this.storage.readJSON(this.fileName(i), true);
      if (valid(record) && (best === null || record.seq > best.seq)) best = record;
    }
    return best;
  }

  /** Writes `record` as the next one (its seq is set here) into the slot that does not hold the newest. */
  write(record: BootRecord): BootRecord {
    const current = this.read();
    const next: BootRecord = {
      seq: current === null ? 1 : current.seq + 1,
      active: record.active,
      version: record.version,
      trial: record.trial,
      attempts: record.attempts,
      maxAttempts: record.maxAttempts,
      fallback: record.fallback,
      fallbackVersion: record.fallbackVersion,
      staged: record.staged,
      stagedVersion: record.stagedVersion,
    };
    if (!this.storage.writeJSON(this.fileName(next.seq % 2), next)) {
      throw otaError('storage-write-failed', 'Could not write the boot pointer ' + this.fileName(next.seq % 2) + '; Storage may be full: run require("Storage").compact().', true);
    }
    return next;
  }
}
