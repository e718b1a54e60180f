import { describe, expect, it } from 'vitest';
import { BundleUnpacker } from '../../src/bundle/unpacker.js';
import type { UnpackerOptions } from '../../src/bundle/unpacker.js';
import { toBeSigned } from '../../src/bundle/cose.js';
import { writePreamble } from '../../src/bundle/framing.js';
import { crc32 } from '../../src/integrity/crc32.js';
import { createBundle, encodeCbor, encodeHeader, manifestValue } from '../../src/tools/bundle.js';
import type { BundleInput, BundleSigner } from '../../src/tools/bundle.js';
import { ed25519Signer } from '../../src/tools/keys.js';
import { concatBytes, fromHex } from '../../src/util/bytes.js';
import type { OtaError } from '../../src/util/errors.js';
import { Tag } from 'cbor-x';
import {
  OTHER_KEY, TEST_KEY, ed25519Trust, hmacTrust, options, rejection, testDevice, testHmacSigner, testSigner, twoPartBundle, twoPartInput,
  unpackChunks,
} from './helpers.js';
import type { MemoryTarget } from './memory-target.js';

// The bad-input matrix of docs/bundle-format.md: one test per row, each with its specific error code, and each
// asserting that no target was written (header rows) or nothing was made bootable (part rows).

type Device = ReturnType<typeof testDevice>;

function u32(value: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value >>> 0, false);
  return out;
}

/** A bundle around arbitrary manifest bytes (signed as given) and the parts' data. */
function bundleAround(manifestBytes: Uint8Array, parts: Uint8Array[], signer: BundleSigner | null = testSigner()): Uint8Array {
  const head = encodeHeader(manifestBytes, signer);
  return concatBytes([head.preamble, head.header, ...parts.flatMap((p) => [u32(p.length), p])]);
}

/** A bundle whose manifest is `input`'s, edited by `edit` before encoding (no packer-side checks). */
function editedBundle(edit: (manifest: Map<number, any>, parts: Map<number, any>[]) => void, input: BundleInput = twoPartInput()): Uint8Array {
  const value = manifestValue(input);
  edit(value, value.get(5) as Map<number, any>[]);
  return bundleAround(encodeCbor(value), input.parts.map((p) => p.data));
}

/** Runs `bytes` through a fresh unpacker; returns the error and the device. */
async function run(bytes: Uint8Array, extra: Partial<UnpackerOptions> = {}, trust = ed25519Trust(), chunk = 97): Promise<{ error: OtaError; device: Device }> {
  const device = testDevice();
  const error = await rejection(unpackChunks(new BundleUnpacker(options(device.targets, trust, extra)), bytes, chunk));
  return { error, device };
}

function untouched(device: Device): void {
  for (const target of [device.main, device.wifi] as MemoryTarget[]) {
    expect(target.mutations, `${target.softwareType} was written`).toBe(0);
    expect(target.pending).toBeNull();
    expect(target.running).toEqual(new Uint8Array([1, 2, 3, 4]));
  }
}

function nothingBootable(device: Device): void {
  for (const target of [device.main, device.wifi] as MemoryTarget[]) {
    expect(target.pending).toBeNull();
    expect(target.running).toEqual(new Uint8Array([1, 2, 3, 4]));
  }
}

async function expectHeaderRejection(bytes: Uint8Array, code: string, extra: Partial<UnpackerOptions> = {}, trust = ed25519Trust()): Promise<OtaError> {
  const result = await run(bytes, extra, trust);
  expect(result.error.code).toBe(code);
  untouched(result.device);
  return result.error;
}

function withByte(bytes: Uint8Array, at: number, value: number): Uint8Array {
  const copy = new Uint8Array(bytes);
  copy[at] = value;
  return copy;
}

function withU32(bytes: Uint8Array, at: number, value: number): Uint8Array {
  const copy = new Uint8Array(bytes);
  new DataView(copy.buffer).setUint32(at, value >>> 0, false);
  return copy;
}

const good = twoPartBundle();
const headerLength = new DataView(good.buffer, good.byteOffset).getUint32(8, false);
const mainStart = 12 + headerLength + 4;
const wifiStart = mainStart + 1500 + 4;

describe('bad input: preamble and framing', () => {
  it('truncated preamble: end of stream is a retryable truncation, nothing written', async () => {
    const error = await expectHeaderRejection(good.subarray(0, 7), 'bundle-truncated');
    expect(error.retryable).toBe(true);
  });

  it('truncated header: retryable truncation, nothing written', async () => {
    const error = await expectHeaderRejection(good.subarray(0, 12 + headerLength - 1), 'bundle-truncated');
    expect(error.retryable).toBe(true);
  });

  it('hostile header length 2 GiB is rejected on the 12-byte preamble, before buffering', async () => {
    const device = testDevice();
    const unpacker = new BundleUnpacker(options(device.targets));
    const error = await rejection(unpacker.push(withU32(good, 8, 0x80000000).subarray(0, 12)));
    expect(error.code).toBe('header-length-invalid');
    expect(error.details).toMatchObject({ headerLength: 0x80000000 });
    untouched(device);
  });

  it('header length 0 is rejected', async () => {
    await expectHeaderRejection(withU32(good, 8, 0), 'header-length-invalid');
  });

  it('header length above 16 KiB is rejected', async () => {
    await expectHeaderRejection(withU32(good, 8, 16385), 'header-length-invalid');
  });

  it('unknown bundle format byte', async () => {
    await expectHeaderRejection(withByte(good, 4, 2), 'bundle-format-unsupported');
  });

  it('unknown header kind', async () => {
    await expectHeaderRejection(withByte(good, 5, 3), 'bundle-kind-unknown');
  });

  it('reserved bytes not zero', async () => {
    await expectHeaderRejection(withByte(good, 7, 1), 'bundle-reserved');
  });

  it('a longer header length than the header: the signature no longer covers what is read', async () => {
    const result = await run(withU32(good, 8, headerLength + 4));
    expect(['cbor-malformed', 'signature-invalid']).toContain(result.error.code);
    untouched(result.device);
  });

  it('Content-Length larger than the signed layout is refused before writing', async () => {
    await expectHeaderRejection(good, 'length-mismatch', { totalLength: good.length + 1 });
  });

  it('a part length prefix that differs from the signed size', async () => {
    await expectHeaderRejection(withU32(good, mainStart - 4, 1499), 'part-length-mismatch');
  });

  it('a hostile 2 GiB part length prefix is refused at the prefix', async () => {
    await expectHeaderRejection(withU32(good, mainStart - 4, 0x80000000), 'part-length-mismatch');
  });

  it('bytes after the last part are rejected and nothing is activated', async () => {
    const result = await run(concatBytes([good, new Uint8Array([0])]));
    expect(result.error.code).toBe('trailing-bytes');
    nothingBootable(result.device);
  });

  it('a truncated part is a retryable truncation and nothing is activated', async () => {
    const result = await run(good.subarray(0, wifiStart + 10));
    expect(result.error.code).toBe('bundle-truncated');
    expect(result.error.retryable).toBe(true);
    nothingBootable(result.device);
  });
});

describe('bad input: COSE and keys', () => {
  it('unsigned bundle on a device with keys', async () => {
    await expectHeaderRejection(twoPartBundle(null), 'bundle-unsigned');
  });

  it('a device without keys refuses everything unless unsigned payloads are allowed', async () => {
    await expectHeaderRejection(good, 'no-trusted-keys', {}, { verifiers: [], allowUnsigned: false });
    const device = testDevice();
    await unpackChunks(new BundleUnpacker(options(device.targets, { verifiers: [], allowUnsigned: true })), twoPartBundle(null), 512);
    expect(device.wifi.verified?.version).toBe('1.4.0');
  });

  it('bad signature (one bit of the signature flipped), not marked a refusal of the payload (bytes nothing vouches for)', async () => {
    const error = await expectHeaderRejection(withByte(good, 12 + headerLength - 1, good[12 + headerLength - 1] ^ 1), 'signature-invalid');
    expect(error.details?.refused).toBeUndefined();
  });

  it('manifest altered after signing', async () => {
    const at = 12 + 30; // inside the manifest bytes of the payload
    await expectHeaderRejection(withByte(good, at, good[at] ^ 0x01), 'signature-invalid');
  });

  it('signed by a key the device does not hold (its kid is unknown), naming both key ids', async () => {
    const signer = ed25519Signer(OTHER_KEY);
    const error = await expectHeaderRejection(twoPartBundle(signer), 'key-unknown');
    const named = Buffer.from(signer.keyId as Uint8Array).toString('hex');
    const held = Buffer.from(testSigner().keyId as Uint8Array).toString('hex');
    expect(error.message).toContain(named);
    expect(error.details).toMatchObject({ keyId: named, held: [held] });
  });

  it('signed by another key under the trusted kid', async () => {
    const forged = { ...ed25519Signer(OTHER_KEY), keyId: testSigner().keyId };
    await expectHeaderRejection(twoPartBundle(forged), 'signature-invalid');
  });

  it('algorithm not allowed (ES256 label -7 with an Ed25519 key)', async () => {
    await expectHeaderRejection(twoPartBundle(ed25519Signer(TEST_KEY, -7)), 'cose-alg-not-allowed');
  });

  it('the deprecated EdDSA label -8 is still accepted', async () => {
    const device = testDevice();
    await unpackChunks(new BundleUnpacker(options(device.targets)), twoPartBundle(ed25519Signer(TEST_KEY, -8)), 300);
    expect(device.main.verified?.version).toBe('2.0.0');
  });

  it('preamble kind differs from the COSE tag', async () => {
    await expectHeaderRejection(withByte(good, 5, 2), 'cose-kind-mismatch');
  });

  it('a signed bundle on an HMAC-only device', async () => {
    await expectHeaderRejection(good, 'cose-kind-not-trusted', {}, hmacTrust());
  });

  it('a MAC under the wrong key', async () => {
    const wrong = { ...testHmacSigner(), sign: (m: Uint8Array) => testHmacSigner().sign(concatBytes([m, new Uint8Array([1])])) };
    await expectHeaderRejection(twoPartBundle(wrong), 'signature-invalid', {}, hmacTrust());
  });

  it('extra protected header parameters', async () => {
    const input = twoPartInput();
    const manifest = encodeCbor(manifestValue(input));
    const protectedBytes = encodeCbor(new Map([[1, -19], [3, 0]]));
    const signer = testSigner();
    const tag = signer.sign(toBeSigned('Signature1', protectedBytes, writePreamble(1, 0).subarray(0, 8), manifest));
    const header = encodeCbor(new Tag([protectedBytes, new Map([[4, signer.keyId]]), manifest, tag], 18));
    const bytes = concatBytes([writePreamble(1, header.length), header, ...input.parts.flatMap((p) => [u32(p.data.length), p.data])]);
    await expectHeaderRejection(bytes, 'cose-header-unsupported');
  });

  it('detached payload (nil)', async () => {
    const protectedBytes = encodeCbor(new Map([[1, -19]]));
    const header = encodeCbor(new Tag([protectedBytes, new Map(), null, new Uint8Array(64)], 18));
    await expectHeaderRejection(concatBytes([writePreamble(1, header.length), header]), 'cose-payload-detached');
  });
});

describe('bad input: manifest', () => {
  it('unknown manifest format version', async () => {
    await expectHeaderRejection(editedBundle((m) => m.set(1, 2)), 'manifest-version-unsupported');
  });

  it('unknown positive manifest key', async () => {
    await expectHeaderRejection(editedBundle((m) => m.set(6, 'new meaning')), 'manifest-key-unknown');
  });

  it('negative (vendor) keys are ignored', async () => {
    const input = twoPartInput();
    const value = manifestValue(input);
    const withVendor = new Map<number, unknown>([...value.entries(), [-1, 'vendor note']]);
    const device = testDevice();
    await unpackChunks(new BundleUnpacker(options(device.targets)), bundleAround(encodeCbor(withVendor), input.parts.map((p) => p.data)), 256);
    expect(device.wifi.verified?.version).toBe('1.4.0');
  });

  it('missing required field', async () => {
    await expectHeaderRejection(editedBundle((_, parts) => parts[0].delete(4)), 'manifest-invalid');
  });

  it('duplicate software type', async () => {
    await expectHeaderRejection(editedBundle((_, parts) => parts[1].set(1, 'main-fw')), 'part-duplicate-type');
  });

  it('duplicate activation order', async () => {
    await expectHeaderRejection(editedBundle((_, parts) => parts[1].set(6, parts[0].get(6))), 'part-duplicate-order');
  });

  it('software type with no target on this device (no silent skip)', async () => {
    const input = twoPartInput();
    input.parts[1] = { ...input.parts[1], softwareType: 'ble-fw' };
    input.parts[0] = { ...input.parts[0], requires: [] };
    await expectHeaderRejection(createBundle(input, testSigner()), 'part-unmapped');
  });

  it('part larger than its target (a signed 2 GiB size is refused before anything is buffered or erased)', async () => {
    await expectHeaderRejection(editedBundle((_, parts) => parts[0].set(3, 0x80000000)), 'part-too-large');
  });

  it('part larger than its target (real bytes)', async () => {
    await expectHeaderRejection(twoPartBundle(undefined, twoPartInput(4097, 10)), 'part-too-large');
  });

  it('hardware version not listed, marked a refusal of the payload (its manifest verified)', async () => {
    const error = await expectHeaderRejection(createBundle({ ...twoPartInput(), hardwareVersions: ['pvt'] }, testSigner()), 'hardware-mismatch');
    expect(error.details?.refused).toBe(true);
  });

  it('sequence lower than installed', async () => {
    await expectHeaderRejection(twoPartBundle(undefined, twoPartInput(1500, 700, 9)), 'sequence-not-newer');
  });

  it('sequence equal to installed (a replay, not a resume)', async () => {
    await expectHeaderRejection(twoPartBundle(undefined, twoPartInput(1500, 700, 10)), 'sequence-not-newer');
  });

  it('requirement not met by the bundle or the running image', async () => {
    const input = twoPartInput();
    input.parts = [input.parts[0]];
    await expectHeaderRejection(createBundle(input, testSigner()), 'requires-unmet');
  });

  it('a part activated before the part it requires', async () => {
    await expectHeaderRejection(editedBundle((_, parts) => { parts[0].set(6, 1); parts[1].set(6, 2); }), 'requires-order');
  });

  it('SHA-256 mismatch with a matching CRC-32 (tampering) is final, and nothing is activated', async () => {
    // The reference's forged 8-byte part: same CRC-32 as 50..57, different bytes.
    const original = fromHex('5051525354555657') as Uint8Array;
    const forged = fromHex('0a51525392bae6f3') as Uint8Array;
    expect(crc32(forged)).toBe(crc32(original));
    const input: BundleInput = { sequence: 100, releaseVersion: '1', hardwareVersions: ['evt'], parts: [{ softwareType: 'wifi-fw', version: '1.4.0', data: original }] };
    const bytes = createBundle(input, testSigner());
    const tampered = concatBytes([bytes.subarray(0, bytes.length - 8), forged]);
    const result = await run(tampered);
    expect(result.error.code).toBe('part-digest-mismatch');
    expect(result.error.retryable).toBe(false);
    nothingBootable(result.device);
  });

  it('CRC-32 mismatch in transit is retryable, and nothing is activated', async () => {
    const result = await run(withByte(good, mainStart + 10, good[mainStart + 10] ^ 0x80));
    expect(result.error.code).toBe('part-crc-mismatch');
    expect(result.error.retryable).toBe(true);
    nothingBootable(result.device);
  });
});

describe('bad input: CBOR subset in a correctly signed header', () => {
  // Each manifest below is signed, so only the strict reader stands between it and the device.
  const rows: [string, string, string][] = [
    ['duplicate map key', 'a2 01 01 01 01', 'cbor-malformed'],
    ['unordered map keys', 'a2 02 00 01 01', 'cbor-malformed'],
    ['indefinite-length map', 'bf 01 01 ff', 'cbor-malformed'],
    ['non-shortest integer', 'a1 01 18 01', 'cbor-malformed'],
    ['float', 'a1 01 f9 3c00', 'cbor-malformed'],
    ['undefined', 'a1 01 f7', 'cbor-malformed'],
    ['tag 64 on a byte string', 'a1 01 d8 40 41 00', 'cbor-malformed'],
    ['text map key', 'a1 61 61 01', 'cbor-malformed'],
    ['8-byte length', 'a1 01 5b 0000000000000001 00', 'cbor-malformed'],
    ['byte string claiming 2^32-1 bytes', 'a1 01 5a ffffffff', 'cbor-limit'],
    ['array claiming 2^32-1 items', 'a1 01 9a ffffffff', 'cbor-limit'],
    ['deep nesting', 'a1 01 81 81 81 81 81 81 00', 'cbor-limit'],
    ['non-ASCII text', 'a1 01 62 c3a9', 'cbor-malformed'],
    ['trailing bytes after the manifest', 'a1 01 01 00', 'cbor-malformed'],
  ];
  for (const [name, hex, code] of rows) {
    it(`${name} -> ${code}`, async () => {
      const manifest = fromHex(hex.replace(/ /g, '')) as Uint8Array;
      await expectHeaderRejection(bundleAround(manifest, []), code);
    });
  }
});
