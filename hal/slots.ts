import type { Flash } from './flash.js';
import type { BootRecord, SlotEntry, SlotState } from './boot-record.js';
import { copyRecord, decodeBootRecord, emptyEntry, encodeBootRecord, entrySequence, nextSeq, paddedExtendedLength,
  recordFloor, seqNewer, storedRecordLength } from './boot-record.js';
import { bytesEqual } from '../src/util/bytes.js';
import { otaError } from '../src/util/errors.js';

// A/B boot control. The records live in their own flash area: copy 0 at the start of its first sector, copy 1 at the
// start of its second, so erasing one copy never touches the other. The newest valid copy wins; an update always
// erases and rewrites the other copy (the older or unreadable one) and reads it back before anyone acts on it.
//
// A copy torn by a power cut may read valid on one read and invalid on the next (marginal cells). So before the
// first destructive step of a power cycle (erasing the older copy, or an image slot) the winning copy is
// re-programmed in place with the bytes it already holds and read back: a replay firms up marginal cells, and from
// then on the winner cannot fade while the older copy is gone. See docs/architecture.md, "Why every cut point is safe".
//
// Anti-rollback: each slot entry may carry the sequence of the signed bundle its image came from, and the record
// carries the floor, the highest such sequence confirmed. The floor rises in the same record write that confirms the
// image (as MCUboot raises its security counter only for a confirmed image), so a reverted trial never raises it,
// and a power cut leaves the old state with the old floor or the new one with the new floor, never one without the
// other. It lives here, in the record the bootloader owns, not in the updater's journal, which may be erased.

/** Tuning for Slots. */
export interface SlotsOptions {
  /** Boot attempts a pending trial gets (default 3). */
  attempts?: number;
  /** Re-program the winning copy before the first destructive step of a power cycle (default true). Turn off only
   *  for parts that forbid re-programming a unit; their ECC then reports torn units as read errors instead. */
  refresh?: boolean;
}

/** What a verified staged image is. */
export interface StagedImage {
  size: number;
  crc32: number;
  sha256: Uint8Array;
  version: string;
  softwareType: string;
  /** Sequence of the signed bundle the image came from (0 or absent: none). */
  sequence?: number;
}

/** What is about to be written into a slot: recorded with state `writing` so a resume can check it. */
export interface ImageIntent {
  size: number;
  version: string;
  softwareType: string;
  sha256?: Uint8Array;
}

/** True for errors that mean "these cells cannot be read", as opposed to a dead device. */
export function isUnreadable(error: unknown): boolean {
  const c = error !== null && typeof error === 'object' ? (error as { code?: unknown }).code : undefined;
  return c === 'flash-read-error' || c === 'flash-ecc-error';
}

/** True for states whose image the bootloader may start. */
export function bootable(state: SlotState): boolean {
  return state === 'pending' || state === 'trial' || state === 'confirmed';
}

/** The boot-control records of one A/B pair. */
export class Slots {
  readonly attempts: number;
  private readonly refresh: boolean;
  private readonly recordLength: number;
  private readonly copyOffsets: number[];
  private current: BootRecord | null = null;
  private currentCopy = -1;
  private currentBytes: Uint8Array | null = null;
  private stable = false;
  private loaded = false;

  /** Records in `area` (at least two sectors, each holding one copy). */
  constructor(readonly area: Flash, options?: SlotsOptions) {
    const sectors = area.geometry.sectors;
    this.recordLength = paddedExtendedLength(area.geometry.writeAlign);
    if (sectors.length < 2 || sectors[0].size < this.recordLength || sectors[1].size < this.recordLength) {
      throw otaError('slots-area-too-small', 'The boot-record area needs two sectors of at least ' + this.recordLength +
        ' bytes each (one per copy); it has ' + sectors.length + '.', false, { sectors: sectors.length });
    }
    this.copyOffsets = [sectors[0].offset, sectors[1].offset];
    this.attempts = options !== undefined && options.attempts !== undefined ? options.attempts : 3;
    this.refresh = options !== undefined && options.refresh !== undefined ? options.refresh : true;
    if (!(this.attempts >= 1 && this.attempts <= 255)) {
      throw otaError('slots-attempts-invalid', 'Boot attempts must be 1 to 255, got ' + this.attempts + '.', false);
    }
  }

  /** Reads both copies; the newest valid one wins. Resolves null on a device with no valid record. */
  load(): Promise<BootRecord | null> {
    return this.readCopy(0).then((first) => {
      return this.readCopy(1).then((second) => {
        const a = first === null ? null : decodeBootRecord(first);
        const b = second === null ? null : decodeBootRecord(second);
        let winner = -1;
        if (a !== null && (b === null || !seqNewer(b.seq, a.seq))) winner = 0;
        else if (b !== null) winner = 1;
        this.current = winner === 0 ? a : winner === 1 ? b : null;
        const bytes = winner === 0 ? first : winner === 1 ? second : null;
        // Only the bytes the record was written with: settle() re-programs exactly those, never the erased tail.
        this.currentBytes = bytes === null ? null : bytes.subarray(0, storedRecordLength(bytes, this.area.geometry.writeAlign));
        this.currentCopy = winner;
        this.stable = false;
        this.loaded = true;
        return this.current === null ? null : copyRecord(this.current);
      });
    });
  }

  /** The loaded record (a copy), or null. */
  record(): BootRecord | null {
    return this.current === null ? null : copyRecord(this.current);
  }

  /** True once load() (or a write) has run. */
  isLoaded(): boolean {
    return this.loaded;
  }

  /** Which copy (0 or 1) holds the winning record, or -1. */
  winningCopy(): number {
    return this.currentCopy;
  }

  /** The entry of `slot` (a copy; an empty entry when there is no record). */
  entry(slot: number): SlotEntry {
    if (this.current === null) return emptyEntry();
    return copyRecord(this.current).slots[slot];
  }

  /**
   * The slot whose image runs now: the boot slot once the bootloader has started it (trial or confirmed), else the
   * confirmed other slot (the boot slot is only pending, or was rejected). -1 when nothing is known to run.
   */
  running(): number {
    const r = this.current;
    if (r === null) return -1;
    if (r.boot >= 0) {
      const state = r.slots[r.boot].state;
      if (state === 'trial' || state === 'confirmed') return r.boot;
      if (r.slots[1 - r.boot].state === 'confirmed') return 1 - r.boot;
      return -1;
    }
    if (r.slots[0].state === 'confirmed') return 0;
    if (r.slots[1].state === 'confirmed') return 1;
    return -1;
  }

  /** The slot an update is staged into: the one not running (slot 0 on a blank device). */
  inactive(): number {
    const running = this.running();
    return running < 0 ? 0 : 1 - running;
  }

  /** True while the boot slot is an unconfirmed trial or a pending request. */
  trialOutstanding(): boolean {
    const r = this.current;
    return r !== null && r.boot >= 0 && (r.slots[r.boot].state === 'pending' || r.slots[r.boot].state === 'trial');
  }

  /** Provisioning: erases both copies and writes `record` (its seq is replaced by 1) into copy 0. */
  format(record: BootRecord): Promise<void> {
    const next = copyRecord(record);
    next.seq = 1;
    const bytes = encodeBootRecord(next, this.area.geometry.writeAlign, this.area.geometry.eraseValue);
    return this.eraseCopy(1).then(() => {
      return this.eraseCopy(0);
    }).then(() => {
      return this.writeCopy(0, bytes, next);
    });
  }

  /**
   * Marks `slot` as being written with `intent`, before any byte of it is erased, so no stale record can start it.
   * Refuses the running slot, and the fallback while the boot slot is an unconfirmed trial or pending request.
   */
  invalidate(slot: number, intent: ImageIntent): Promise<void> {
    const bad = this.checkSlot(slot);
    if (bad !== null) return Promise.reject(bad);
    const r = this.base();
    if (slot === this.running()) {
      return Promise.reject(otaError('slot-running', 'Slot ' + slot + ' holds the running image; stage into the ' +
        'other slot.', false, { slot: slot }));
    }
    if (r.boot >= 0 && r.boot !== slot && this.trialOutstanding()) {
      return Promise.reject(otaError('fallback-needed', 'Slot ' + slot + ' holds the fallback of the unconfirmed ' +
        'trial in slot ' + r.boot + '; confirm or revert the trial before staging another image.', false,
      { slot: slot, trial: r.boot }));
    }
    const entry = emptyEntry();
    entry.state = 'writing';
    entry.size = intent.size;
    entry.version = intent.version;
    entry.softwareType = intent.softwareType;
    if (intent.sha256 !== undefined) entry.sha256 = new Uint8Array(intent.sha256);
    r.slots[slot] = entry;
    if (r.boot === slot) r.boot = this.running();
    return this.commit(r);
  }

  /** Records the verified image in `slot` (which must be `writing`) as staged. */
  stage(slot: number, image: StagedImage): Promise<void> {
    const bad = this.checkSlot(slot) || this.expectState(slot, 'writing', 'stage an image');
    if (bad !== null) return Promise.reject(bad);
    const r = this.base();
    r.slots[slot] = { state: 'staged', attempts: 0, size: image.size, crc32: image.crc32 >>> 0,
      sha256: new Uint8Array(image.sha256), version: image.version, softwareType: image.softwareType };
    if (image.sequence !== undefined && image.sequence !== 0) r.slots[slot].sequence = image.sequence;
    return this.commit(r);
  }

  /**
   * Records that the staged image in `slot` came from a signed bundle with `sequence`, so confirming it raises the
   * floor. Only a staged image (verified, not yet pending) may be tagged; tagging it again with the same value only
   * settles the record.
   */
  tagSequence(slot: number, sequence: number): Promise<void> {
    const bad = this.checkSlot(slot) || this.expectState(slot, 'staged', 'record its bundle sequence');
    if (bad !== null) return Promise.reject(bad);
    const r = this.base();
    if (entrySequence(r.slots[slot]) === sequence) return this.settle();
    r.slots[slot].sequence = sequence;
    return this.commit(r);
  }

  /** The anti-rollback floor: the highest bundle sequence confirmed on this pair (0 with no record, or none yet). */
  floor(): number {
    return this.current === null ? 0 : recordFloor(this.current);
  }

  /** Requests a trial boot of the staged image in `slot`: it boots next, with `attempts` tries. */
  markPending(slot: number, attempts?: number): Promise<void> {
    const bad = this.checkSlot(slot) || this.expectState(slot, 'staged', 'mark it pending');
    if (bad !== null) return Promise.reject(bad);
    const r = this.base();
    r.slots[slot].state = 'pending';
    r.slots[slot].attempts = attempts !== undefined ? attempts : this.attempts;
    r.boot = slot;
    return this.commit(r);
  }

  /**
   * Confirms the running trial; when it is already confirmed, makes sure that record is durable. `runningSlot` is
   * the slot the caller knows it executes from (the bootloader's handoff); a record that disagrees is not touched.
   */
  confirm(runningSlot?: number): Promise<void> {
    const running = this.running();
    const r = this.base();
    if (runningSlot !== undefined && runningSlot !== running) {
      return Promise.reject(otaError('running-slot-mismatch', 'The records say slot ' + running + ' runs, but this image ' +
        'runs from slot ' + runningSlot + '; nothing was confirmed. Reboot so the bootloader settles the records.', false,
      { records: running, actual: runningSlot }));
    }
    if (running >= 0 && r.slots[running].state === 'confirmed') return this.settle();
    if (running < 0 || r.slots[running].state !== 'trial') {
      return Promise.reject(otaError('nothing-to-confirm', 'No trial image is running (running slot ' + running +
        '); confirm only after booting a pending image.', false, { running: running }));
    }
    r.slots[running].state = 'confirmed';
    r.slots[running].attempts = 0;
    // The floor rises in the very write that confirms the image: durable together or not at all.
    if (entrySequence(r.slots[running]) > recordFloor(r)) r.floor = entrySequence(r.slots[running]);
    return this.commit(r);
  }

  /** Gives up the trial (running or pending): it is rejected and the confirmed fallback boots again. */
  revert(): Promise<void> {
    const r = this.base();
    if (!this.trialOutstanding()) {
      return Promise.reject(otaError('nothing-to-revert', 'No trial or pending image to revert.', false));
    }
    return this.reject(r.boot);
  }

  /** Bootloader: spends one attempt of the pending/trial image in `slot`, which becomes (or stays) a trial. */
  spendAttempt(slot: number): Promise<void> {
    const r = this.base();
    const e = r.slots[slot];
    if (!(e.state === 'pending' || e.state === 'trial') || e.attempts < 1) {
      return Promise.reject(otaError('no-attempts-left', 'Slot ' + slot + ' is ' + e.state + ' with ' + e.attempts +
        ' attempts; only a pending or trial image with attempts left may be started.', false, { slot: slot }));
    }
    e.state = 'trial';
    e.attempts--;
    r.boot = slot;
    return this.commit(r);
  }

  /** Marks `slot` rejected; if it was the boot slot, the other slot (when confirmed) becomes the boot slot. */
  reject(slot: number): Promise<void> {
    const bad = this.checkSlot(slot);
    if (bad !== null) return Promise.reject(bad);
    const r = this.base();
    r.slots[slot].state = 'rejected';
    r.slots[slot].attempts = 0;
    if (r.boot === slot || r.boot < 0) r.boot = r.slots[1 - slot].state === 'confirmed' ? 1 - slot : -1;
    return this.commit(r);
  }

  /**
   * Makes the winning copy durable for this power cycle: re-programs it with the bytes it holds and reads it back.
   * Every write does this first; call it before any other destructive step (erasing an image slot).
   */
  settle(): Promise<void> {
    if (this.stable || !this.refresh || this.current === null || this.currentBytes === null) return Promise.resolve();
    const copy = this.currentCopy;
    const bytes = this.currentBytes;
    return this.area.write(this.copyOffsets[copy], bytes).then(() => {
      return this.area.read(this.copyOffsets[copy], bytes.length);
    }).then((back) => {
      if (!bytesEqual(back, bytes)) {
        throw otaError('record-unstable', 'The boot record in copy ' + copy + ' did not read back as re-programmed; ' +
          'the record area may be failing.', false, { copy: copy });
      }
      this.stable = true;
    });
  }

  /** A copy's bytes, or null when the part reports the cells unreadable (ECC error on a torn unit, read error). */
  private readCopy(copy: number): Promise<Uint8Array | null> {
    return this.area.read(this.copyOffsets[copy], this.recordLength).then(null, (e) => {
      if (isUnreadable(e)) return null;
      throw e;
    });
  }

  private checkSlot(slot: number): object | null {
    if (slot === 0 || slot === 1) return null;
    return otaError('slot-invalid', 'Slot must be 0 or 1, got ' + slot + '.', false, { slot: slot });
  }

  private expectState(slot: number, state: SlotState, action: string): object | null {
    const actual = this.current === null ? 'empty' : this.current.slots[slot].state;
    if (actual === state) return null;
    return otaError('slot-state', 'Slot ' + slot + ' is ' + actual + ', expected ' + state + ' to ' + action + '.', false,
      { slot: slot, state: actual, expected: state });
  }

  /** A copy of the current record to modify, or a blank one on a blank device. */
  private base(): BootRecord {
    if (this.current !== null) return copyRecord(this.current);
    return { seq: 0, boot: -1, slots: [emptyEntry(), emptyEntry()] };
  }

  /** Settle, erase the copy not holding the winner, program the new record there, read it back. */
  private commit(next: BootRecord): Promise<void> {
    next.seq = this.current === null ? 1 : nextSeq(this.current.seq);
    let bytes: Uint8Array;
    try {
      bytes = encodeBootRecord(next, this.area.geometry.writeAlign, this.area.geometry.eraseValue);
    } catch (e) {
      return Promise.reject(e);
    }
    const target = this.currentCopy === 0 ? 1 : 0;
    return this.settle().then(() => {
      return this.eraseCopy(target);
    }).then(() => {
      return this.writeCopy(target, bytes, next);
    });
  }

  private eraseCopy(copy: number): Promise<void> {
    const sector = this.area.geometry.sectors[copy];
    return this.area.erase(sector.offset, sector.size);
  }

  private writeCopy(copy: number, bytes: Uint8Array, record: BootRecord): Promise<void> {
    return this.area.write(this.copyOffsets[copy], bytes).then(() => {
      return this.area.read(this.copyOffsets[copy], bytes.length);
    }).then((back) => {
      if (!bytesEqual(back, bytes)) {
        throw otaError('record-verify-failed', 'The boot record written to copy ' + copy + ' read back differently; ' +
          'the previous record stays in force. The record area may be failing.', false, { copy: copy });
      }
      this.current = copyRecord(record);
      this.currentBytes = bytes;
      this.currentCopy = copy;
      this.stable = true;
      this.loaded = true;
    });
  }
}
