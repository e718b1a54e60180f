import { describe, expect, it } from 'vitest';
import { Slots } from '../../hal/slots.js';
import type { BootRecord } from '../../hal/boot-record.js';
import { emptyEntry, encodeBootRecord, paddedRecordLength } from '../../hal/boot-record.js';
import { SimFlash } from '../../hal/sim/sim-flash.js';
import { uniformGeometry } from '../../hal/flash.js';
import type { OtaError } from '../../src/util/errors.js';

function code(p: Promise<unknown>): Promise<string> {
  return p.then(() => 'ok', (e: OtaError) => e.code);
}

const image = (version: string) => ({ size: 100, crc32: 5, sha256: new Uint8Array(32).fill(1), version, softwareType: 'main' });

function factory(): BootRecord {
  const r: BootRecord = { seq: 1, boot: 0, slots: [emptyEntry(), emptyEntry()] };
  r.slots[0] = { ...image('1.0.0'), state: 'confirmed', attempts: 0 };
  return r;
}

async function provisioned(align = 4, erase = 0xff): Promise<{ flash: SimFlash; slots: Slots }> {
  const flash = new SimFlash(uniformGeometry(512, 2, align, erase));
  const slots = new Slots(flash);
  await slots.format(factory());
  return { flash, slots };
}

describe('Slots', () => {
  it('a blank area has no record; format writes seq 1 into copy 0', async () => {
    const flash = new SimFlash(uniformGeometry(512, 2, 4, 0xff));
    const slots = new Slots(flash);
    expect(await slots.load()).toBeNull();
    expect(slots.running()).toBe(-1);
    expect(slots.inactive()).toBe(0);
    await slots.format(factory());
    const again = new Slots(flash);
    const r = await again.load();
    expect(r?.seq).toBe(1);
    expect(again.winningCopy()).toBe(0);
    expect(again.running()).toBe(0);
    expect(again.inactive()).toBe(1);
  });

  it('walks a full update: invalidate, stage, pending, attempt, confirm; each write goes to the other copy', async () => {
    const { flash, slots } = await provisioned();
    const copies: number[] = [];
    const step = async (p: Promise<void>): Promise<void> => { await p; copies.push(slots.winningCopy()); };
    await step(slots.invalidate(1, { size: 100, version: '2.0.0', softwareType: 'main' }));
    expect(slots.entry(1).state).toBe('writing');
    await step(slots.stage(1, image('2.0.0')));
    await step(slots.markPending(1));
    expect(slots.entry(1)).toMatchObject({ state: 'pending', attempts: 3 });
    expect(slots.running()).toBe(0);
    expect(slots.trialOutstanding()).toBe(true);
    await step(slots.spendAttempt(1));
    expect(slots.running()).toBe(1);
    expect(slots.entry(1)).toMatchObject({ state: 'trial', attempts: 2 });
    await step(slots.confirm());
    expect(copies).toEqual([1, 0, 1, 0, 1]);
    const fresh = new Slots(flash);
    const r = await fresh.load();
    expect(r?.seq).toBe(6);
    expect(r?.boot).toBe(1);
    expect(r?.slots.map((e) => e.state)).toEqual(['confirmed', 'confirmed']);
    expect(fresh.running()).toBe(1);
    expect(fresh.inactive()).toBe(0);
  });

  it('refuses to stage over the running slot or over the fallback of an unconfirmed trial', async () => {
    const { slots } = await provisioned();
    expect(await code(slots.invalidate(0, { size: 1, version: 'x', softwareType: 'main' }))).toBe('slot-running');
    await slots.invalidate(1, { size: 100, version: '2.0.0', softwareType: 'main' });
    await slots.stage(1, image('2.0.0'));
    await slots.markPending(1);
    await slots.spendAttempt(1);
    expect(await code(slots.invalidate(0, { size: 1, version: '3', softwareType: 'main' }))).toBe('fallback-needed');
    expect(await code(slots.invalidate(1, { size: 1, version: '3', softwareType: 'main' }))).toBe('slot-running');
    await slots.confirm();
    expect(await code(slots.invalidate(0, { size: 1, version: '3', softwareType: 'main' }))).toBe('ok');
  });

  it('checks states: stage needs writing, pending needs staged, confirm needs a running trial', async () => {
    const { slots } = await provisioned();
    expect(await code(slots.stage(1, image('2')))).toBe('slot-state');
    expect(await code(slots.markPending(1))).toBe('slot-state');
    expect(await code(slots.spendAttempt(1))).toBe('no-attempts-left');
    expect(await code(slots.revert())).toBe('nothing-to-revert');
    expect(await code(slots.invalidate(2, { size: 1, version: '3', softwareType: 'main' }))).toBe('slot-invalid');
    expect(await code(slots.confirm())).toBe('ok'); // already confirmed: only settles
  });

  it('revert rejects the trial and boots the confirmed fallback', async () => {
    const { flash, slots } = await provisioned();
    await slots.invalidate(1, { size: 100, version: '2.0.0', softwareType: 'main' });
    await slots.stage(1, image('2.0.0'));
    await slots.markPending(1);
    await slots.spendAttempt(1);
    await slots.revert();
    const r = await new Slots(flash).load();
    expect(r?.boot).toBe(0);
    expect(r?.slots[1].state).toBe('rejected');
    expect(await code(slots.confirm())).toBe('ok');
  });

  it('the newest valid copy wins; a corrupt newer copy falls back to the older one', async () => {
    const { flash, slots } = await provisioned();
    await slots.invalidate(1, { size: 100, version: '2.0.0', softwareType: 'main' }); // seq 2 in copy 1
    const fresh = new Slots(flash);
    expect((await fresh.load())?.seq).toBe(2);
    // Clear bits inside the newer copy's slot-1 entry (a non-strict part lets them change).
    const loose = new SimFlash(flash.geometry, { strict: false });
    loose.restore(flash.snapshot());
    await loose.write(512 + 16, new Uint8Array(4));
    const r = await new Slots(loose).load();
    expect(r?.seq).toBe(1);
    expect(r?.slots[1].state).toBe('empty');
  });

  it('follows serial order across the sequence wrap', async () => {
    const flash = new SimFlash(uniformGeometry(512, 2, 4, 0xff));
    const old = factory();
    old.seq = 0xfffffffe;
    const newer = factory();
    newer.seq = 1;
    newer.slots[0].version = '1.0.1';
    await flash.write(0, encodeBootRecord(old, 4, 0xff));
    await flash.write(512, encodeBootRecord(newer, 4, 0xff));
    expect((await new Slots(flash).load())?.slots[0].version).toBe('1.0.1');
  });

  it('a cut anywhere in a record update leaves the old or the new record, never none', async () => {
    for (const mode of ['before', 'after', 'torn-prefix', 'torn-bits', 'torn-unstable'] as const) {
      for (let op = 0; op < 3; op++) {
        const { flash, slots } = await provisioned(1);
        await slots.load();
        flash.armCut({ op: flash.ops + op, mode, seed: op + 1 });
        expect(await code(slots.invalidate(1, { size: 100, version: '2.0.0', softwareType: 'main' }))).toMatch(/ok|power-cut/);
        flash.powerCycle();
        for (let read = 0; read < 5; read++) {
          const r = await new Slots(flash).load();
          expect(r).not.toBeNull();
          expect(['empty', 'writing']).toContain(r!.slots[1].state);
        }
      }
    }
  });

  it('a dropped record write or a skipped erase is caught by the read-back; the old record stays in force', async () => {
    for (const kind of ['drop-write', 'skip-erase'] as const) {
      const { flash, slots } = await provisioned();
      await slots.invalidate(1, { size: 100, version: '2.0.0', softwareType: 'main' }); // copy 1 now holds seq 2
      const strictless = new SimFlash(flash.geometry, { strict: false });
      strictless.restore(flash.snapshot());
      const s2 = new Slots(strictless);
      await s2.load();
      await s2.settle();
      // The next write: erase copy 0 (op +0), program it (op +1).
      strictless.faults.silent.push({ op: strictless.ops + (kind === 'drop-write' ? 1 : 0), kind });
      expect(await code(s2.stage(1, image('2.0.0')))).toBe('record-verify-failed');
      expect(s2.entry(1).state).toBe('writing');
      const r = await new Slots(strictless).load();
      expect(r?.seq).toBe(2);
      expect(r?.slots[1].state).toBe('writing');
    }
  });

  it('refuses areas without two sectors big enough for a copy', () => {
    expect(() => new Slots(new SimFlash(uniformGeometry(512, 1, 4, 0xff)))).toThrow();
    expect(() => new Slots(new SimFlash(uniformGeometry(128, 2, 4, 0xff)))).toThrow();
    expect(() => new Slots(new SimFlash(uniformGeometry(512, 2, 4, 0xff)), { attempts: 0 })).toThrow();
  });
});

describe('Slots against marginal records', () => {
  // A copy torn in its last program unit can read valid by luck. If the next update erased the older copy while
  // trusting it, a cut there could leave no readable record. settle() re-programs the winner first.
  async function tornWinner(refresh: boolean): Promise<{ flash: SimFlash }> {
    for (let seed = 1; seed < 500; seed++) {
      const flash = new SimFlash(uniformGeometry(512, 2, 1, 0xff), { seed });
      const slots = new Slots(flash, { refresh });
      await slots.format(factory());
      await slots.invalidate(1, { size: 100, version: '2.0.0', softwareType: 'main' }); // copy 1, seq 2
      flash.armCut({ op: flash.ops + 1, mode: 'torn-unstable', tornAt: paddedRecordLength(1) - 1 });
      await code(slots.stage(1, image('2.0.0'))); // copy 0, seq 3, last byte torn
      flash.powerCycle();
      if (flash.unstableBytes(0, 512) === 0) continue;
      for (let read = 0; read < 64; read++) {
        const s = new Slots(flash, { refresh });
        const r = await s.load();
        if (r !== null && r.seq === 3) {
          // The device believes seq 3 and starts the next update: cut right after it erases the other copy.
          flash.armCut({ op: flash.ops + (refresh ? 1 : 0), mode: 'after' }); // right after erasing the other copy
          await code(s.markPending(1));
          flash.powerCycle();
          return { flash };
        }
      }
    }
    throw new Error('no lucky read found');
  }

  it('with refresh, the winner was firmed up before the older copy was erased', async () => {
    const { flash } = await tornWinner(true);
    for (let read = 0; read < 50; read++) expect((await new Slots(flash).load())?.seq).toBe(3);
  });

  it('without refresh, the same cut can leave no readable record (why refresh exists)', async () => {
    const { flash } = await tornWinner(false);
    let lost = 0;
    for (let read = 0; read < 50; read++) if ((await new Slots(flash).load()) === null) lost++;
    expect(lost).toBeGreaterThan(0);
  });
});
