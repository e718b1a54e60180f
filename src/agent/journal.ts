import type { Flash } from '../../hal/flash.js';
import { crc32Update } from '../integrity/crc32.js';
import { otaError } from '../util/errors.js';

// The agent's journal: an append-only log of CRC-protected records in two flash banks used in turn (ESP-IDF's
// otadata and littlefs's metadata pairs do the same). A record is appended to the bank holding the newest one;
// when that bank is full, or its tail is not cleanly erased (a torn append), the other bank is erased and the
// record starts it. The newest valid record (highest sequence, serial order) wins, so a cut at any point
// leaves either the previous or the new record as the answer, never a mix.
//
// Record, little-endian, padded to the write unit with the erase value:
//   0 magic u32 "OTJL" | 4 seq u32 | 8 payload length u16 | 10 format u8 (1) | 11 reserved u8 (0)
//   12 payload | 12+n CRC-32 of bytes [0, 12+n)

/** Magic of a journal record ("OTJL" read as little-endian bytes). */
export const JOURNAL_MAGIC = 0x4c4a544f;
const HEADER = 12;
const TRAILER = 4;
const FORMAT = 1;
/** Bytes per read when checking that a bank's tail is erased (bounds RAM on small devices). */
const TAIL_READ = 512;

/** One decoded record, for status displays. */
export interface JournalRecord {
  bank: number;
  offset: number;
  seq: number;
  payload: Uint8Array;
}

/** Counters for tests and status displays. */
export interface JournalStats {
  appends: number;
  erases: number;
  bank: number;
  appendAt: number;
  seq: number;
}

interface Bank {
  offset: number;
  size: number;
}

interface BankScan {
  records: JournalRecord[];
  /** Where the next record would go: the end of the last valid one. */
  end: number;
}

function serialNewer(a: number, b: number): boolean {
  return a !== b && ((a - b) >>> 0) < 0x80000000;
}

function padTo(length: number, align: number): number {
  return Math.ceil(length / align) * align;
}

/** Append-only two-bank journal over its own flash area (at least two sectors). */
export class Journal {
  private banks: Bank[];
  private loaded = false;
  private seq = 0;
  private bank = 0;
  private appendAt = 0;
  private appends = 0;
  private erases = 0;
  /** Per bank, where the bytes up to the bank's end were last read back erased (the bank size when not known). */
  private erasedFrom: number[];

  /** `area` is the journal's own flash: the first half of its sectors is bank 0, the rest bank 1. */
  constructor(readonly area: Flash) {
    const sectors = area.geometry.sectors;
    if (sectors.length < 2) {
      throw otaError('journal-area-too-small', 'The journal needs a flash area of at least two sectors, found ' + sectors.length +
        '; give it its own two erase units.', false, { sectors: sectors.length });
    }
    const half = Math.floor(sectors.length / 2);
    const last = sectors[sectors.length - 1];
    this.banks = [
      { offset: 0, size: sectors[half].offset },
      { offset: sectors[half].offset, size: last.offset + last.size - sectors[half].offset },
    ];
    this.erasedFrom = [this.banks[0].size, this.banks[1].size];
  }

  /** Largest payload one record can carry. */
  maxPayload(): number {
    const smallest = this.banks[0].size < this.banks[1].size ? this.banks[0].size : this.banks[1].size;
    const limit = smallest - HEADER - TRAILER - this.area.geometry.writeAlign;
    return limit < 0xffff ? limit : 0xffff;
  }

  /** Every valid record of both banks, oldest first within each bank. */
  scan(): Promise<JournalRecord[]> {
    return this.scanBank(0).then((first) => {
      return this.scanBank(1).then((second) => {
        return first.records.concat(second.records);
      });
    });
  }

  /** The payload of the newest valid record, or null when the journal holds none. */
  load(): Promise<Uint8Array | null> {
    this.erasedFrom = [this.banks[0].size, this.banks[1].size];
    return this.scanBank(0, true).then((first) => {
      return this.scanBank(1, true).then((second) => {
        let best: JournalRecord | null = null;
        let bestEnd = 0;
        const scans = [first, second];
        for (let b = 0; b < 2; b++) {
          const records = scans[b].records;
          for (let i = 0; i < records.length; i++) {
            if (best === null || serialNewer(records[i].seq, best.seq)) {
              best = records[i];
              bestEnd = scans[b].end;
            }
          }
        }
        this.loaded = true;
        if (best === null) {
          this.seq = 0;
          this.bank = 1;
          this.appendAt = this.banks[1].size;
          return null;
        }
        this.seq = best.seq;
        this.bank = best.bank;
        this.appendAt = bestEnd;
        return best.payload;
      });
    });
  }

  /** Appends a record with `payload`; resolves once it is programmed and read back intact. */
  append(payload: Uint8Array): Promise<void> {
    if (payload.length > this.maxPayload()) {
      return Promise.reject(otaError('journal-record-too-large', 'A journal record of ' + payload.length + ' bytes does not fit a bank (' +
        this.maxPayload() + ' bytes at most); use larger journal sectors.', false, { length: payload.length }));
    }
    const ready = this.loaded ? Promise.resolve(null as Uint8Array | null) : this.load();
    return ready.then(() => {
      let seq = (this.seq + 1) >>> 0;
      if (seq === 0 || seq === 0xffffffff) seq = 1;
      const record = this.encode(seq, payload);
      const bank = this.banks[this.bank];
      if (this.appendAt + record.length <= bank.size) {
        return this.tailErased(this.bank, this.appendAt).then((clean) => {
          if (!clean) return this.rotate(record, seq);
          return this.program(this.bank, this.appendAt, record, seq).then((ok) => {
            if (!ok) return this.rotate(record, seq);
            return undefined;
          });
        });
      }
      return this.rotate(record, seq);
    });
  }

  /** Counters since construction. */
  stats(): JournalStats {
    return { appends: this.appends, erases: this.erases, bank: this.bank, appendAt: this.appendAt, seq: this.seq };
  }

  private rotate(record: Uint8Array, seq: number): Promise<void> {
    const next = 1 - this.bank;
    const bank = this.banks[next];
    this.erases++;
    this.erasedFrom[next] = bank.size;
    return this.area.erase(bank.offset, bank.size).then(() => {
      return this.program(next, 0, record, seq);
    }).then((ok) => {
      if (!ok) {
        throw otaError('journal-write-failed', 'A journal record did not read back intact after erasing bank ' + next +
          '; the flash may be worn out or failing.', false, { bank: next });
      }
    });
  }

  /** Programs and reads back; true when the record reads back exactly. */
  private program(bankIndex: number, at: number, record: Uint8Array, seq: number): Promise<boolean> {
    const bank = this.banks[bankIndex];
    this.appends++;
    return this.area.write(bank.offset + at, record).then(() => {
      return this.area.read(bank.offset + at, record.length);
    }).then((back) => {
      for (let i = 0; i < record.length; i++) if (back[i] !== record[i]) return false;
      this.seq = seq;
      this.bank = bankIndex;
      this.appendAt = at + record.length;
      return true;
    });
  }

  /**
   * Whether the bank is erased from `at` to its end. The rest of the bank is read once (in small pieces) and then
   * trusted while appends move up through it: only this journal programs there, and each append is read back.
   */
  private tailErased(bankIndex: number, at: number): Promise<boolean> {
    if (at >= this.erasedFrom[bankIndex]) return Promise.resolve(true);
    const bank = this.banks[bankIndex];
    const erased = this.area.geometry.eraseValue;
    const step = (from: number): Promise<boolean> => {
      if (from >= bank.size) {
        this.erasedFrom[bankIndex] = at;
        return Promise.resolve(true);
      }
      const n = Math.min(TAIL_READ, bank.size - from);
      return this.area.read(bank.offset + from, n).then((bytes) => {
        for (let i = 0; i < bytes.length; i++) if (bytes[i] !== erased) return false;
        return step(from + n);
      });
    };
    return step(at);
  }

  private encode(seq: number, payload: Uint8Array): Uint8Array {
    const length = HEADER + payload.length + TRAILER;
    const out = new Uint8Array(padTo(length, this.area.geometry.writeAlign));
    for (let i = length; i < out.length; i++) out[i] = this.area.geometry.eraseValue;
    const view = new DataView(out.buffer, 0, out.length);
    view.setUint32(0, JOURNAL_MAGIC, true);
    view.setUint32(4, seq >>> 0, true);
    view.setUint16(8, payload.length, true);
    out[10] = FORMAT;
    out.set(payload, HEADER);
    view.setUint32(HEADER + payload.length, crc32Update(0, out, 0, HEADER + payload.length), true);
    return out;
  }

  /**
   * The valid records of a bank, in order, and where they end; with `newestOnly`, only the newest of them (a load needs
   * no other). One read in flight, the next from its callback: no promise chain grows with the bank's records, which a
   * small board would hold all at once (Espruino: about 950 variable blocks for a full bank).
   */
  private scanBank(bankIndex: number, newestOnly?: boolean): Promise<BankScan> {
    const bank = this.banks[bankIndex];
    const align = this.area.geometry.writeAlign;
    const records: JournalRecord[] = [];
    return new Promise((resolve, reject) => {
      const step = (at: number): void => {
        const done = { records: records, end: at };
        if (at + HEADER + TRAILER > bank.size) {
          resolve(done);
          return;
        }
        this.area.read(bank.offset + at, HEADER).then((head) => {
          const view = new DataView(head.buffer, head.byteOffset, HEADER);
          const length = view.getUint16(8, true);
          if (view.getUint32(0, true) !== JOURNAL_MAGIC || head[10] !== FORMAT || at + HEADER + length + TRAILER > bank.size) {
            return resolve(done);
          }
          return this.area.read(bank.offset + at + HEADER, length + TRAILER).then((rest) => {
            let crc = crc32Update(0, head, 0, HEADER);
            crc = crc32Update(crc, rest, 0, length);
            const stored = new DataView(rest.buffer, rest.byteOffset, rest.length).getUint32(length, true);
            if (crc !== stored) return resolve(done);
            const record = { bank: bankIndex, offset: at, seq: view.getUint32(4, true), payload: new Uint8Array(rest.subarray(0, length)) };
            if (!newestOnly || records.length === 0) records.push(record);
            else if (serialNewer(record.seq, records[0].seq)) records[0] = record;
            return step(at + padTo(HEADER + length + TRAILER, align));
          });
        }).then(null, reject);
      };
      step(0);
    });
  }
}
