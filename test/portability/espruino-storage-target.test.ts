// The Storage-file target and the example's .bootcde loader, against a fake Storage that behaves like 2v29's.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { StorageFileTarget } from '../../src/espruino/storage-target.js';
import { BootPointer } from '../../src/espruino/boot-pointer.js';
import { crc32 } from '../../src/integrity/crc32.js';
import type { ImagePart } from '../../hal/image-target.js';
import { FakeCrypto, FakeStorage, fakeRuntime } from './fakes/espruino-fakes.js';

const LOADER = readFileSync('examples/espruino/boot.js', 'utf8');

function image(size: number, seed: number): Uint8Array {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (i * 31 + seed) & 0xff;
  return data;
}

function partOf(data: Uint8Array, version: string): ImagePart {
  return { size: data.length, version, sha256: new Uint8Array(createHash('sha256').update(data).digest()), crc32: crc32(data) };
}

function device(withSha256 = true) {
  const storage = new FakeStorage();
  const crypto = new FakeCrypto(withSha256);
  const runtime = fakeRuntime({ Storage: storage, crypto });
  const target = (verify?: 'sha256' | 'crc32') => new StorageFileTarget({ softwareType: 'app', banks: ['app.a.js', 'app.b.js'], capacity: 16384, runtime, verify });
  return { storage, crypto, runtime, target };
}

async function stage(target: StorageFileTarget, data: Uint8Array, version: string, chunk = 536): Promise<void> {
  const writer = await target.begin(partOf(data, version), 0);
  for (let i = 0; i < data.length; i += chunk) await writer.write(new Uint8Array(data.subarray(i, i + chunk)));
  await writer.finish();
}

/** Boots the example loader once; returns the file it required. */
function boot(storage: FakeStorage): string | null {
  let required: string | null = null;
  runInNewContext(LOADER, {
    require: (name: string) => {
      if (name === 'Storage') return storage;
      required = name;
      return {};
    },
    print: () => {},
  });
  return required;
}

describe('StorageFileTarget', () => {
  it('creates the staging file at full size on the first write, fills it at increasing offsets and verifies it in place', async () => {
    const { storage, crypto, target } = device();
    const t = target();
    const data = image(3000, 1);
    const writer = await t.begin(partOf(data, '2.0.0'), 0);
    await writer.write(new Uint8Array(data.subarray(0, 536)));
    expect(storage.writes[0]).toEqual({ name: 'app.b.js', offset: 0, length: 536, size: 3000 });
    expect(storage.files.get('app.b.js')?.length).toBe(3000);
    expect(storage.files.get('app.b.js')?.[536]).toBe(0xff);
    for (let i = 536; i < data.length; i += 536) await writer.write(new Uint8Array(data.subarray(i, i + 536)));
    expect(storage.writes.map((w) => w.offset)).toEqual([0, 536, 1072, 1608, 2144, 2680]);
    expect(writer.durableOffset()).toBe(3000);
    await writer.finish();
    // The one-shot hash read the whole file as Storage.read returns it (a memory-mapped string), not a copy in RAM.
    expect(crypto.inputs).toHaveLength(1);
    expect(typeof crypto.inputs[0]).toBe('string');
    expect(Buffer.from(storage.files.get('app.b.js') as Uint8Array).equals(Buffer.from(data))).toBe(true);
  });

  it('activates the verified file as a trial, refuses a new download during the trial, and confirms it', async () => {
    const { storage, target } = device();
    const t = target();
    expect(await t.status()).toEqual({ softwareType: 'app', runningVersion: null, trial: false });
    await stage(t, image(2000, 2), '2.0.0');
    await t.activate();
    // Pending until the loader boots it: the fallback (version unknown on a fresh device) still runs.
    expect(await t.status()).toEqual({ softwareType: 'app', runningVersion: null, trial: false });
    expect(storage.readJSON('ota0.json', true)).toMatchObject({ seq: 2, active: 'app.b.js', trial: true, attempts: 0, fallback: 'app.a.js', staged: null });
    expect(storage.readJSON('ota1.json', true)).toMatchObject({ seq: 1, active: 'app.a.js', staged: 'app.b.js', stagedVersion: '2.0.0' });
    await expect(t.begin(partOf(image(10, 3), '3.0.0'), 0)).rejects.toMatchObject({ code: 'trial-unconfirmed' });
    expect(boot(storage)).toBe('app.b.js');
    expect(await t.status()).toEqual({ softwareType: 'app', runningVersion: '2.0.0', trial: true });
    await t.confirm();
    expect(await t.status()).toEqual({ softwareType: 'app', runningVersion: '2.0.0', trial: false });
    expect(t.stagingFile()).toBe('app.a.js');
  });

  it('activates a file verified before a reboot (the staged record is persisted)', async () => {
    const { target } = device();
    await stage(target(), image(700, 12), '2.0.0');
    await target().activate();
    expect(await target().status()).toEqual({ softwareType: 'app', runningVersion: null, trial: false });
    await expect(target().activate()).rejects.toMatchObject({ code: 'image-not-verified' });
  });

  it('rejects a corrupted file, activates nothing and leaves the pointer untouched', async () => {
    const { storage, target } = device();
    const t = target();
    const data = image(1500, 4);
    const writer = await t.begin(partOf(data, '2.0.0'), 0);
    const bad = new Uint8Array(data);
    bad[700] ^= 0x10;
    for (let i = 0; i < bad.length; i += 536) await writer.write(new Uint8Array(bad.subarray(i, i + 536)));
    await expect(writer.finish()).rejects.toMatchObject({ code: 'image-digest-mismatch', retryable: true });
    await expect(t.activate()).rejects.toMatchObject({ code: 'image-not-verified' });
    expect(storage.files.has('ota0.json') || storage.files.has('ota1.json')).toBe(false);
  });

  it('resumes after a reboot at the durable offset of the pre-sized file', async () => {
    const { storage, target } = device();
    const data = image(4000, 5);
    const part = partOf(data, '2.0.0');
    const first = await target().begin(part, 0);
    await first.write(new Uint8Array(data.subarray(0, 1700)));
    const resumed = await target().begin(part, first.durableOffset());
    await resumed.write(new Uint8Array(data.subarray(1700)));
    await resumed.finish();
    expect(storage.writes.filter((w) => w.name === 'app.b.js').map((w) => w.offset)).toEqual([0, 1700]);
    await expect(target().begin(partOf(image(5000, 6), '3.0.0'), 100)).rejects.toMatchObject({ code: 'storage-resume-lost' });
  });

  it('resumes at a journaled offset behind what the file holds (written before a power cut): the bytes there are skipped, not rewritten', async () => {
    const { storage, target } = device();
    const data = image(4000, 7);
    const part = partOf(data, '2.0.0');
    const first = await target().begin(part, 0);
    await first.write(new Uint8Array(data.subarray(0, 2900)));
    // The journal's last checkpoint was at 1024: the resumed download sends 1024.. again, in chunks across the old end.
    const resumed = await target().begin(part, 1024);
    for (let at = 1024; at < data.length; at += 700) await resumed.write(new Uint8Array(data.subarray(at, Math.min(at + 700, data.length))));
    await resumed.finish();
    expect(storage.writes.filter((w) => w.name === 'app.b.js').map((w) => [w.offset, w.length])).toEqual([[0, 2900], [2900, 224], [3124, 700], [3824, 176]]);
    // Different bytes there (the CDN's copy changed): the download is dropped and starts again from 0.
    const again = await target().begin(partOf(image(4000, 8), '3.0.0'), 0);
    await again.write(new Uint8Array(image(4000, 8).subarray(0, 2000)));
    const mismatched = await target().begin(partOf(image(4000, 9), '3.0.0'), 1000);
    await expect(mismatched.write(new Uint8Array(image(4000, 9).subarray(1000, 1500)))).rejects.toMatchObject({
      code: 'storage-resume-mismatch', retryable: true, details: { discard: true } });
  });

  it('refuses an image above capacity or larger than Storage has room for, and a file past its size', async () => {
    const { storage, target } = device();
    await expect(target().begin(partOf(image(20000, 7), '2'), 0)).rejects.toMatchObject({ code: 'image-too-large' });
    storage.capacity = 4000;
    await expect(target().begin(partOf(image(8000, 7), '2'), 0)).rejects.toMatchObject({ code: 'storage-full' });
    storage.capacity = 64 * 1024;
    const writer = await target().begin(partOf(image(100, 7), '2'), 0);
    await expect(writer.write(new Uint8Array(101))).rejects.toMatchObject({ code: 'image-overflow' });
  });

  it.each(['app.b.js', 'old-app.js'])('never stages into the running file when a leftover pointer names %s, which Storage lacks', async (named) => {
    const { storage, target } = device();
    // The developer uploaded app.a.js afresh; the pointer pair is left from an earlier install (or configuration).
    storage.write('app.a.js', 'print("v1")');
    storage.writeJSON('ota1.json', { seq: 7, active: named, version: '9.0.0', trial: false, attempts: 0, maxAttempts: 3,
      fallback: null, fallbackVersion: null, staged: null, stagedVersion: null });
    // The loader cannot boot a file that is not there: it boots bank A, as on a fresh device, and so does the target.
    expect(boot(storage)).toBe('app.a.js');
    expect(await target().status()).toEqual({ softwareType: 'app', runningVersion: null, trial: false });
    expect(target().stagingFile()).toBe('app.b.js');
    const data = image(900, 13);
    const writer = await target().begin(partOf(data, '2.0.0'), 0);
    // Superseded before the first byte lands: a power cut mid-download must not revive it (app.b.js exists then).
    expect(storage.readJSON('ota0.json', true)).toMatchObject({ seq: 8, active: 'app.a.js' });
    await writer.write(new Uint8Array(data.subarray(0, 400)));
    expect(boot(storage)).toBe('app.a.js');
    expect(target().stagingFile()).toBe('app.b.js');
    await writer.write(new Uint8Array(data.subarray(400)));
    await writer.finish();
    await target().activate();
    expect(boot(storage)).toBe('app.b.js');
    expect(storage.read('app.a.js')).toBe('print("v1")');
    expect(target().record()).toMatchObject({ active: 'app.b.js', trial: true, fallback: 'app.a.js', version: '2.0.0' });
  });

  it('needs crypto.SHA256 unless configured for CRC-32 only (ESP8266)', async () => {
    const { target } = device(false);
    await expect(stage(target(), image(600, 8), '2')).rejects.toMatchObject({ code: 'sha256-unavailable' });
    await stage(target('crc32'), image(600, 8), '2');
    const data = image(600, 9);
    const writer = await target('crc32').begin(partOf(data, '2'), 0);
    await writer.write(new Uint8Array(600));
    await expect(writer.finish()).rejects.toMatchObject({ code: 'image-crc-mismatch' });
  });
});

describe('the boot pointer and the example loader', () => {
  it('keeps the previous record when the newest one is torn', () => {
    const storage = new FakeStorage();
    const pointer = new BootPointer(storage, 'ota');
    const base = { seq: 0, version: '1', trial: false, attempts: 0, maxAttempts: 3, fallback: null, fallbackVersion: null, staged: null, stagedVersion: null };
    pointer.write({ ...base, active: 'app.a.js' });
    pointer.write({ ...base, active: 'app.b.js' });
    expect(pointer.read()).toMatchObject({ seq: 2, active: 'app.b.js' });
    storage.files.set('ota0.json', new TextEncoder().encode('{"seq":2,"act'));
    expect(pointer.read()).toMatchObject({ seq: 1, active: 'app.a.js' });
    expect(() => new BootPointer(storage, 'a-prefix-far-too-long-for-it')).toThrow();
  });

  it('boots bank A on a fresh device, counts trial boots and reverts after maxAttempts', async () => {
    const { storage, target } = device();
    expect(boot(storage)).toBeNull();
    storage.write('app.a.js', 'print("v1")');
    expect(boot(storage)).toBe('app.a.js');
    await stage(target(), image(900, 10), '2.0.0');
    await target().activate();
    expect(boot(storage)).toBe('app.b.js');
    expect(await target().status()).toMatchObject({ runningVersion: '2.0.0', trial: true });
    expect(boot(storage)).toBe('app.b.js');
    expect(boot(storage)).toBe('app.b.js');
    // Three boots spent without a confirm: the fourth reverts to the fallback.
    expect(boot(storage)).toBe('app.a.js');
    expect(await target().status()).toEqual({ softwareType: 'app', runningVersion: null, trial: false });
    expect(boot(storage)).toBe('app.a.js');
  });

  it('reverts a trial the agent rejects (self-test failed) before the next boot, instead of booting it maxAttempts times', async () => {
    const { storage, target } = device();
    storage.write('app.a.js', 'print("v1")');
    await stage(target(), image(900, 14), '2.0.0');
    await target().activate();
    expect(boot(storage)).toBe('app.b.js');
    expect(await target().status()).toEqual({ softwareType: 'app', runningVersion: '2.0.0', trial: true });
    await target().revert();
    expect(await target().status()).toEqual({ softwareType: 'app', runningVersion: null, trial: false });
    expect(boot(storage)).toBe('app.a.js');
    expect(target().stagingFile()).toBe('app.b.js');
    // A pending trial (activated, not booted yet) reverts too; with nothing on trial, revert() changes nothing.
    await stage(target(), image(900, 15), '3.0.0');
    await target().activate();
    await target().revert();
    expect(boot(storage)).toBe('app.a.js');
    const before = storage.writes.length;
    await target().revert();
    expect(storage.writes.length).toBe(before);
    expect(boot(storage)).toBe('app.a.js');
  });

  it('reports initialVersion for the first bank until an update writes the boot pointer, and after a revert to it', async () => {
    const { storage, runtime } = device();
    const target = () => new StorageFileTarget({ softwareType: 'app', banks: ['app.a.js', 'app.b.js'], capacity: 16384, runtime, initialVersion: '1.0.0' });
    storage.write('app.a.js', 'print("v1")');
    expect(await target().status()).toEqual({ softwareType: 'app', runningVersion: '1.0.0', trial: false });
    await stage(target(), image(900, 16), '2.0.0');
    await target().activate();
    expect(await target().status()).toEqual({ softwareType: 'app', runningVersion: '1.0.0', trial: false });
    expect(boot(storage)).toBe('app.b.js');
    expect(await target().status()).toEqual({ softwareType: 'app', runningVersion: '2.0.0', trial: true });
    await target().revert();
    expect(boot(storage)).toBe('app.a.js');
    expect(await target().status()).toEqual({ softwareType: 'app', runningVersion: '1.0.0', trial: false });
  });

  it('keeps a confirmed trial across boots', async () => {
    const { storage, target } = device();
    await stage(target(), image(900, 11), '2.0.0');
    await target().activate();
    expect(boot(storage)).toBe('app.b.js');
    await target().confirm();
    for (let i = 0; i < 5; i++) expect(boot(storage)).toBe('app.b.js');
    expect(await target().status()).toEqual({ softwareType: 'app', runningVersion: '2.0.0', trial: false });
  });
});
