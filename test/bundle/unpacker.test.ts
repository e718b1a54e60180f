import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BundleUnpacker } from '../../src/bundle/unpacker.js';
import type { UnpackState } from '../../src/bundle/unpacker.js';
import { activateRelease } from '../../src/bundle/activation.js';
import { bundleLength, partDataOffset } from '../../src/bundle/framing.js';
import {
  options, patternBytes, rejection, testDevice, testHmacSigner, hmacTrust, twoPartBundle, twoPartInput, unpackChunks, unpackSplit,
} from './helpers.js';
import { MemoryTarget } from './memory-target.js';

const SEED = 0x5eed;

describe('streaming unpacker', () => {
  it('unpacks a signed two-part bundle into both targets and reports what to activate', async () => {
    const device = testDevice();
    const input = twoPartInput();
    const bytes = twoPartBundle(undefined, input);
    const result = await unpackChunks(new BundleUnpacker(options(device.targets, undefined, { totalLength: bytes.length })), bytes, 100);
    expect(device.main.image()).toEqual(input.parts[0].data);
    expect(device.wifi.image()).toEqual(input.parts[1].data);
    expect(result.sequence).toBe(100);
    expect(result.parts.map((p) => [p.softwareType, p.version, p.order])).toEqual([['main-fw', '2.0.0', 2], ['wifi-fw', '1.4.0', 1]]);
    expect(result.header?.authenticated).toBe(true);
    await activateRelease(result);
    expect(device.main.pending?.version).toBe('2.0.0');
    expect(device.wifi.pending?.version).toBe('1.4.0');
  });

  it('decodes identically under random chunk splits (fast-check)', async () => {
    const input = twoPartInput(300, 150);
    const bytes = twoPartBundle(undefined, input);
    await fc.assert(fc.asyncProperty(fc.array(fc.integer({ min: 0, max: bytes.length }), { maxLength: 40 }), async (cuts) => {
      const device = testDevice();
      const unpacker = new BundleUnpacker(options(device.targets));
      const result = await unpackSplit(unpacker, bytes, cuts);
      expect(device.main.image()).toEqual(input.parts[0].data);
      expect(device.wifi.image()).toEqual(input.parts[1].data);
      expect(result.parts.map((p) => p.softwareType)).toEqual(['main-fw', 'wifi-fw']);
      expect(unpacker.nextOffset()).toBe(bytes.length);
    }), { seed: SEED, numRuns: 150 });
  });

  it('accepts a COSE_Mac0 (HMAC-SHA256) bundle on an HMAC device', async () => {
    const device = testDevice();
    const bytes = twoPartBundle(testHmacSigner());
    const result = await unpackChunks(new BundleUnpacker(options(device.targets, hmacTrust())), bytes, 64);
    expect(result.header?.alg).toBe(5);
    expect(result.header?.authenticated).toBe(true);
  });

  it('takes a raw image (no magic) as one part of the queried type when unsigned payloads are allowed', async () => {
    const device = testDevice();
    const image = patternBytes(999, 9);
    image[0] = 0xe9; // an ESP32 image header byte
    const unpacker = new BundleUnpacker(options(device.targets, { verifiers: [], allowUnsigned: true },
      { raw: { softwareType: 'wifi-fw', version: '1.5.0', size: image.length }, totalLength: image.length }));
    const result = await unpackSplit(unpacker, image, [1, 2, 3, 7, 500]);
    expect(result.header).toBeNull();
    expect(result.parts.map((p) => [p.softwareType, p.version])).toEqual([['wifi-fw', '1.5.0']]);
    expect(device.wifi.image()).toEqual(image);
    expect(device.main.mutations).toBe(0);
  });

  it('refuses a raw image on a device configured with keys', async () => {
    const device = testDevice();
    const image = patternBytes(100, 3);
    const unpacker = new BundleUnpacker(options(device.targets, undefined, { raw: { softwareType: 'wifi-fw', version: '1', size: 100 } }));
    expect((await rejection(unpackChunks(unpacker, image, 50))).code).toBe('raw-image-not-allowed');
    expect(device.wifi.mutations).toBe(0);
  });

  it('the resume offset formula matches the framing', () => {
    const sizes = [16, 8];
    expect(partDataOffset(237, sizes, 0)).toBe(253);
    expect(partDataOffset(237, sizes, 1)).toBe(273);
    expect(bundleLength(237, sizes)).toBe(281);
  });
});

describe('resume', () => {
  /** Runs a download that stops after `stopAt` bytes, journals state(), then resumes in a fresh unpacker. */
  async function interruptAndResume(stopAt: number, chunk: number, keepHeader: boolean): Promise<void> {
    const input = twoPartInput(1500, 700);
    const bytes = twoPartBundle(undefined, input);
    const device = testDevice();
    const first = new BundleUnpacker(options(device.targets));
    for (let at = 0; at < stopAt; at += chunk) await first.push(bytes.subarray(at, Math.min(stopAt, at + chunk)));
    // A reboot: buffered, non-durable bytes in the writers are lost. The journal keeps the JSON of state().
    const journal = JSON.stringify(first.state());
    const state = JSON.parse(journal) as UnpackState | null;
    const second = new BundleUnpacker(options(device.targets, undefined, state === null ? {} : { resume: state }));
    let position = 0;
    if (state !== null) {
      // The header again (re-downloaded, or kept when keepHeader), then Range from nextOffset().
      const headerEnd = 12 + state.headerLength;
      if (keepHeader) await second.push(bytes.subarray(0, headerEnd));
      else for (let at = 0; at < headerEnd; at += 7) await second.push(bytes.subarray(at, Math.min(headerEnd, at + 7)));
      position = second.nextOffset();
      expect(second.stateOffset()).toBe(position);
      const sizes = input.parts.map((p) => p.data.length);
      expect(position).toBe(state.partIndex >= sizes.length ? bytes.length : partDataOffset(state.headerLength, sizes, state.partIndex) + state.partOffset);
      expect(position).toBeLessThanOrEqual(Math.max(stopAt, 12 + state.headerLength));
    }
    for (let at = position; at < bytes.length; at += chunk) await second.push(bytes.subarray(at, Math.min(bytes.length, at + chunk)));
    const result = await second.end();
    expect(device.main.image()).toEqual(input.parts[0].data);
    expect(device.wifi.image()).toEqual(input.parts[1].data);
    expect(result.parts.map((p) => p.softwareType)).toEqual(['main-fw', 'wifi-fw']);
  }

  it('continues mid-part from the journaled state and produces the same images', async () => {
    await interruptAndResume(900, 37, false);
  });

  it('continues after the first part completed, and at every cut of a sweep (fast-check)', async () => {
    const total = twoPartBundle().length;
    await fc.assert(fc.asyncProperty(fc.integer({ min: 0, max: total }), fc.integer({ min: 1, max: 400 }), fc.boolean(),
      async (stopAt, chunk, keep) => {
        await interruptAndResume(stopAt, chunk, keep);
      }), { seed: SEED, numRuns: 80 });
  });

  it('refuses to resume against a different header (TOCTOU)', async () => {
    const device = testDevice();
    const bytes = twoPartBundle();
    const first = new BundleUnpacker(options(device.targets));
    await first.push(bytes.subarray(0, 1000));
    const state = first.state() as UnpackState;
    const other = twoPartBundle(undefined, twoPartInput(1500, 700, 101));
    const second = new BundleUnpacker(options(device.targets, undefined, { resume: state }));
    expect((await rejection(second.push(other.subarray(0, 12 + state.headerLength)))).code).toBe('resume-header-changed');
  });

  it('leaves finished parts alone when resuming a later part', async () => {
    const device = testDevice();
    const bytes = twoPartBundle();
    const first = new BundleUnpacker(options(device.targets));
    await first.push(bytes.subarray(0, bytes.length - 10));
    const state = first.state() as UnpackState;
    expect(state.partIndex).toBe(1);
    const mainWrites = device.main.mutations;
    const second = new BundleUnpacker(options(device.targets, undefined, { resume: state }));
    await second.push(bytes.subarray(0, 12 + state.headerLength));
    await second.push(bytes.subarray(second.nextOffset()));
    const result = await second.end();
    expect(device.main.mutations).toBe(mainWrites);
    expect(result.parts.map((p) => p.softwareType)).toEqual(['main-fw', 'wifi-fw']);
  });

  it('a part that arrives corrupted in transit is retryable and the state points at its start', async () => {
    const device = testDevice();
    const bytes = twoPartBundle();
    const corrupted = new Uint8Array(bytes);
    const start = bytes.length - 700;
    corrupted[start + 100] ^= 0x01;
    const first = new BundleUnpacker(options(device.targets));
    const error = await rejection(unpackChunks(first, corrupted, 256));
    expect(error.code).toBe('part-crc-mismatch');
    expect(error.retryable).toBe(true);
    const state = first.state() as UnpackState;
    expect([state.partIndex, state.partOffset, state.crc]).toEqual([1, 0, 0]);
    const second = new BundleUnpacker(options(device.targets, undefined, { resume: state }));
    await second.push(bytes.subarray(0, 12 + state.headerLength));
    expect(second.nextOffset()).toBe(start);
    await second.push(bytes.subarray(start));
    await second.end();
    expect(device.wifi.image()).toEqual(bytes.subarray(start));
  });

  it('bounds its checkpoint list however small the chunks', async () => {
    const device = { main: new MemoryTarget('main-fw', 4096, '1.0.0', 1024), wifi: new MemoryTarget('wifi-fw', 2048, '1.0.0', 1024) };
    const bytes = twoPartBundle();
    const unpacker = new BundleUnpacker(options([device.main, device.wifi]));
    for (let at = 0; at < 1200; at++) await unpacker.push(bytes.subarray(at, at + 1));
    const internal = unpacker as unknown as { checkpoints: unknown[] };
    expect(internal.checkpoints.length).toBeLessThanOrEqual(33);
    const state = unpacker.state() as UnpackState;
    expect(state.partOffset).toBeLessThanOrEqual(1024);
  });
});

describe('unpacker contract edges', () => {
  it('end() before the last byte is a retryable truncation that does not end the download: more bytes can follow', async () => {
    const device = testDevice();
    const bytes = twoPartBundle();
    const unpacker = new BundleUnpacker(options(device.targets));
    await unpacker.push(bytes.subarray(0, 1000));
    const error = await rejection(unpacker.end());
    expect([error.code, error.retryable, (error.details as { nextOffset: number }).nextOffset]).toEqual(['bundle-truncated', true, 1000]);
    await unpacker.push(bytes.subarray(1000));
    expect((await unpacker.end()).parts).toHaveLength(2);
  });

  it('refuses a second push while one is pending, and repeats a final error on every later call', async () => {
    const device = testDevice();
    const bytes = twoPartBundle();
    const unpacker = new BundleUnpacker(options(device.targets));
    const first = unpacker.push(bytes.subarray(0, 600));
    expect((await rejection(unpacker.push(bytes.subarray(600, 700)))).code).toBe('unpacker-busy');
    await first;
    const tail = await rejection(unpacker.push(bytes.subarray(600)).then(() => unpacker.push(new Uint8Array([0]))));
    expect(tail.code).toBe('trailing-bytes');
    expect((await rejection(unpacker.push(new Uint8Array([1])))).code).toBe('trailing-bytes');
    expect((await rejection(unpacker.end())).code).toBe('trailing-bytes');
  });

  it('resumes a raw image at its journaled offset without a header', async () => {
    const device = testDevice();
    const image = patternBytes(1800, 5);
    image[0] = 0x00;
    const raw = { softwareType: 'main-fw', version: '1.1.0', size: image.length };
    const trust = { verifiers: [], allowUnsigned: true };
    const first = new BundleUnpacker(options(device.targets, trust, { raw }));
    await first.push(image.subarray(0, 1000));
    const state = first.state() as UnpackState;
    expect(state.headerDigest).toBe('');
    expect(state.partOffset).toBeGreaterThan(0);
    expect(first.stateOffset()).toBe(state.partOffset);
    const second = new BundleUnpacker(options(device.targets, trust, { raw, resume: state }));
    expect(second.nextOffset()).toBe(state.partOffset);
    await second.push(image.subarray(state.partOffset));
    await second.end();
    expect(device.main.image()).toEqual(image);
  });

  it('state() is null before anything durable exists', async () => {
    const device = testDevice();
    const unpacker = new BundleUnpacker(options(device.targets));
    expect(unpacker.state()).toBeNull();
    await unpacker.push(twoPartBundle().subarray(0, 100));
    expect(unpacker.state()).toBeNull();
    expect(unpacker.currentPhase()).toBe('header');
  });
});

