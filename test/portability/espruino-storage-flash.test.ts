// StorageFlash (Storage files as NOR sectors) carrying the agent's journal, and the Espruino trust policy.
import { describe, expect, it } from 'vitest';
import { StorageFlash } from '../../src/espruino/storage-flash.js';
import { espruinoTrust } from '../../src/espruino/trust.js';
import { Journal } from '../../src/agent/journal.js';
import { FakeCrypto, FakeStorage, fakeRuntime } from './fakes/espruino-fakes.js';

function setup() {
  const storage = new FakeStorage();
  const runtime = fakeRuntime({ Storage: storage, crypto: new FakeCrypto(true) });
  return { storage, runtime, flash: new StorageFlash({ prefix: 'otaj', sectorSize: 512, sectors: 2, runtime }) };
}

describe('StorageFlash', () => {
  it('reads erased, programs erased bytes, refuses bytes already written, and erases a sector by re-creating its file', async () => {
    const { storage, flash } = setup();
    expect([...(await flash.read(510, 2))]).toEqual([0xff, 0xff]);
    await flash.write(10, new Uint8Array([0xf0, 0x0f]));
    await flash.write(12, new Uint8Array([0x3c]));
    expect([...(await flash.read(10, 3))]).toEqual([0xf0, 0x0f, 0x3c]);
    // Storage refuses to write over written bytes (as Espruino does): a clear error, the bytes unchanged.
    await expect(flash.write(11, new Uint8Array([0x0f]))).rejects.toMatchObject({ code: 'storage-write-failed' });
    expect([...(await flash.read(10, 3))]).toEqual([0xf0, 0x0f, 0x3c]);
    // Byte 0 of the sector is byte 1 of its file: a write there never re-creates (and so wipes) the file.
    await flash.write(0, new Uint8Array([0x01]));
    expect([...(await flash.read(0, 1)), ...(await flash.read(10, 3))]).toEqual([0x01, 0xf0, 0x0f, 0x3c]);
    expect(storage.files.get('otaj0')?.length).toBe(513);
    await flash.erase(0, 512);
    expect([...(await flash.read(10, 2))]).toEqual([0xff, 0xff]);
    await expect(flash.write(510, new Uint8Array(4))).rejects.toMatchObject({ code: 'flash-out-of-range' });
    await expect(flash.erase(100, 512)).rejects.toMatchObject({ code: 'flash-erase-unaligned' });
  });

  it('carries the agent journal: the newest record survives a re-open, across bank switches', async () => {
    const { runtime, flash } = setup();
    const journal = new Journal(flash);
    for (let i = 0; i < 40; i++) await journal.append(new Uint8Array(40).fill(i));
    const reopened = new Journal(new StorageFlash({ prefix: 'otaj', sectorSize: 512, sectors: 2, runtime }));
    expect([...((await reopened.load()) as Uint8Array)]).toEqual(new Array(40).fill(39));
  });

  it('appends journal records into a sector until it is full: one erase per bank, not one per record', async () => {
    const { storage, flash } = setup();
    const journal = new Journal(flash);
    for (let i = 0; i < 6; i++) await journal.append(new Uint8Array(40).fill(i));
    // Six small records fit one 512-byte bank: its file is made once and written at increasing offsets.
    const recreated = storage.writes.filter((w) => w.offset === 0 || w.offset === undefined);
    expect(recreated.map((w) => w.name)).toEqual(['otaj0']);
    expect(storage.writes.filter((w) => w.name === 'otaj0' && (w.offset ?? 0) > 0)).toHaveLength(6);
  });

  it('says storage-full when a sector file cannot be made, instead of letting Storage\'s exception escape', async () => {
    const storage = new FakeStorage(600);
    const runtime = fakeRuntime({ Storage: storage, crypto: new FakeCrypto(true) });
    const flash = new StorageFlash({ prefix: 'otaj', sectorSize: 512, sectors: 2, runtime });
    await flash.write(0, new Uint8Array([1]));
    await expect(flash.write(512, new Uint8Array([1]))).rejects.toMatchObject({ code: 'storage-full', retryable: true });
  });
});

describe('espruinoTrust', () => {
  it('refuses a configuration without an HMAC key unless allowUnsigned is set', () => {
    const runtime = fakeRuntime({ crypto: new FakeCrypto(true) });
    expect(() => espruinoTrust({ runtime })).toThrow(expect.objectContaining({ code: 'espruino-unsigned-refused' }));
    expect(espruinoTrust({ runtime, allowUnsigned: true })).toEqual({ verifiers: [], allowUnsigned: true });
    expect(() => espruinoTrust({ runtime, hmacKey: new Uint8Array(8) })).toThrow(expect.objectContaining({ code: 'hmac-key-too-short' }));
    // fromHex("REPLACE_WITH_64_HEX_DIGITS") is null: named as a bad key, not a TypeError.
    expect(() => espruinoTrust({ runtime, hmacKey: null })).toThrow(expect.objectContaining({ code: 'hmac-key-invalid' }));
  });

  it('trusts one HMAC-SHA256 key over the native hash, and never unsigned bundles', () => {
    const policy = espruinoTrust({ runtime: fakeRuntime({ crypto: new FakeCrypto(true) }), hmacKey: new Uint8Array(32).fill(1) });
    expect(policy.allowUnsigned).toBe(false);
    expect(policy.verifiers).toHaveLength(1);
    expect(policy.verifiers[0].structure).toBe('MAC0');
    expect(policy.verifiers[0].accepts(5)).toBe(true);
  });
});
