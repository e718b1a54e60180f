import fc from 'fast-check';
import { Decoder, Tag } from 'cbor-x';
import { describe, expect, it } from 'vitest';
import { CborMap, CborTag, MANIFEST_LIMITS, readCbor } from '../../src/bundle/cbor-reader.js';
import type { CborLimits, CborValue } from '../../src/bundle/cbor-reader.js';
import { headerLimits } from '../../src/bundle/cose.js';
import { parseManifest } from '../../src/bundle/manifest.js';
import { BundleUnpacker } from '../../src/bundle/unpacker.js';
import { ed25519Verifier, nodeHashes } from '../../src/node/crypto.js';
import { OTA_CBOR, encodeCbor, manifestValue } from '../../src/tools/bundle.js';
import type { BundleInput } from '../../src/tools/bundle.js';
import { fromHex } from '../../src/util/bytes.js';
import { isOtaError } from '../../src/util/errors.js';
import { GOLDEN_HEX, GOLDEN_PUBLIC_HEX } from './golden.js';
import { MemoryTarget } from './memory-target.js';
import { unpackChunks } from './helpers.js';

// The strict reader against cbor-x: on everything cbor-x encodes with the OTA option set (within the limits) the two
// decode to the same value; on arbitrary and mutated bytes the reader accepts only what cbor-x also accepts, with
// the same value (so whatever cbor-x rejects, the reader rejects too).

const SEED = 20261123;
const decoder = new Decoder(OTA_CBOR);
const golden = fromHex(GOLDEN_HEX) as Uint8Array;
const GOLDEN_H = 237;

/** cbor-x's decoding in a comparable shape. */
function fromCborX(value: unknown): unknown {
  if (value instanceof Map) return new Map([...value].map(([k, v]) => [k, fromCborX(v)]));
  if (Array.isArray(value)) return value.map(fromCborX);
  if (value instanceof Uint8Array) return new Uint8Array(value);
  if (value instanceof Tag) return { tag: value.tag, value: fromCborX(value.value) };
  return value;
}

/** The reader's decoding in the same shape. */
function fromReader(value: CborValue): unknown {
  if (value instanceof CborMap) return new Map(value.keys.map((k, i) => [k, fromReader(value.values[i])]));
  if (value instanceof CborTag) return { tag: value.tag, value: fromReader(value.value) };
  if (Array.isArray(value)) return value.map(fromReader);
  if (value instanceof Uint8Array) return new Uint8Array(value);
  return value;
}

type Outcome = { ok: true; value: unknown } | { ok: false; code: string };

function viaReader(bytes: Uint8Array, limits: CborLimits): Outcome {
  try {
    return { ok: true, value: fromReader(readCbor(bytes, 0, bytes.length, limits)) };
  } catch (error) {
    if (!isOtaError(error)) throw error; // the reader must never fail with anything but an OtaError
    return { ok: false, code: error.code };
  }
}

function viaCborX(bytes: Uint8Array): Outcome {
  try {
    return { ok: true, value: fromCborX(decoder.decode(bytes)) };
  } catch (error) {
    return { ok: false, code: String(error) };
  }
}

/** The property: reader-accepts implies cbor-x accepts the same value. */
function agreeWhenAccepted(bytes: Uint8Array, limits: CborLimits): void {
  const ours = viaReader(bytes, limits);
  if (!ours.ok) return;
  const theirs = viaCborX(bytes);
  expect(theirs.ok, `cbor-x rejected what the reader accepted: ${Buffer.from(bytes).toString('hex')}`).toBe(true);
  if (theirs.ok) expect(ours.value).toEqual(theirs.value);
}

const printable = fc.string({ unit: fc.constantFrom(...' -./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz~'.split('')), minLength: 1, maxLength: 24 });

const manifestInput: fc.Arbitrary<BundleInput> = fc.record({
  sequence: fc.integer({ min: 0, max: 0xffffffff }),
  releaseVersion: printable,
  hardwareVersions: fc.array(printable, { minLength: 1, maxLength: 8 }),
  parts: fc.uniqueArray(fc.record({
    softwareType: printable,
    version: printable,
    data: fc.uint8Array({ minLength: 1, maxLength: 40 }),
  }), { minLength: 1, maxLength: 8, selector: (p) => p.softwareType }),
}).chain((input) => fc.record({
  requiresOf: fc.array(fc.array(fc.tuple(fc.nat({ max: input.parts.length - 1 }), printable), { maxLength: 2 }), { minLength: input.parts.length, maxLength: input.parts.length }),
}).map(({ requiresOf }) => ({
  ...input,
  // requirements only on earlier parts, so a dependency order exists
  parts: input.parts.map((p, i) => ({ ...p, requires: requiresOf[i].filter(([j]) => j < i).map(([j, v]) => ({ softwareType: input.parts[j].softwareType, minVersion: v })) })),
})));

/** Values of the device subset, within the manifest limits. */
const subsetValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  scalar: fc.oneof(
    fc.integer({ min: 0, max: 0xffffffff }),
    fc.integer({ min: -0x100000000, max: -1 }),
    fc.constantFrom(0, 23, 24, 255, 256, 65535, 65536, -24, -25, -256, -257),
    printable,
    fc.uint8Array({ maxLength: 64 }),
    fc.constantFrom(true, false, null),
  ),
  node: fc.oneof({ depthSize: 'small', maxDepth: 3 },
    tie('scalar'),
    fc.array(tie('node'), { maxLength: 4 }),
    fc.uniqueArray(fc.tuple(fc.integer({ min: -1000, max: 100000 }), tie('node')), { maxLength: 4, selector: (e) => e[0] })
      .map((entries) => new Map(entries.sort((a, b) => rank(a[0]) - rank(b[0]))))),
})).node;

function rank(key: number): number {
  return key >= 0 ? key : 0x100000000 + (-1 - key);
}

describe('strict CBOR reader vs cbor-x', () => {
  it('decodes random manifests exactly as cbor-x does, and parses them back to the input (fast-check)', () => {
    let accepted = 0;
    fc.assert(fc.property(manifestInput, (input) => {
      const bytes = encodeCbor(manifestValue(input));
      const ours = viaReader(bytes, MANIFEST_LIMITS);
      const theirs = viaCborX(bytes);
      if (!ours.ok) {
        // Only the item budget may stop a manifest the packer can express; the packer refuses those too.
        expect(ours.code).toBe('cbor-limit');
        return;
      }
      expect(theirs).toEqual(ours);
      accepted++;
      const manifest = parseManifest(readCbor(bytes, 0, bytes.length, MANIFEST_LIMITS));
      expect(manifest.sequence).toBe(input.sequence);
      expect(manifest.hardwareVersions).toEqual(input.hardwareVersions);
      expect(manifest.parts.map((p) => [p.softwareType, p.version, p.size])).toEqual(input.parts.map((p) => [p.softwareType, p.version, p.data.length]));
    }), { seed: SEED, numRuns: 300 });
    // Most generated manifests are within the limits, so the comparison above is not vacuous.
    expect(accepted).toBeGreaterThan(200);
  });

  it('decodes random subset values exactly as cbor-x does (fast-check)', () => {
    const limits: CborLimits = { ...MANIFEST_LIMITS, maxItems: 1000 };
    fc.assert(fc.property(subsetValue, (value) => {
      const bytes = encodeCbor(value);
      const ours = viaReader(bytes, limits);
      expect(ours.ok, `reader rejected cbor-x output ${Buffer.from(bytes).toString('hex')}: ${ours.ok ? '' : ours.code}`).toBe(true);
      expect(ours).toEqual(viaCborX(bytes));
    }), { seed: SEED, numRuns: 500 });
  });

  it('accepts only what cbor-x accepts, on random bytes (fast-check)', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 48 }), (bytes) => {
      agreeWhenAccepted(bytes, { ...MANIFEST_LIMITS, topLevelTags: [17, 18] });
    }), { seed: SEED, numRuns: 3000 });
  });

  it('accepts only what cbor-x accepts, on mutations of the golden header (fast-check)', () => {
    const header = golden.subarray(12, 12 + GOLDEN_H);
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), at: fc.nat({ max: GOLDEN_H - 1 }), value: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ kind: fc.constant('delete' as const), at: fc.nat({ max: GOLDEN_H - 1 }), value: fc.constant(0) }),
      fc.record({ kind: fc.constant('insert' as const), at: fc.nat({ max: GOLDEN_H }), value: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ kind: fc.constant('truncate' as const), at: fc.integer({ min: 1, max: GOLDEN_H - 1 }), value: fc.constant(0) }),
    );
    fc.assert(fc.property(fc.array(mutation, { minLength: 1, maxLength: 3 }), (mutations) => {
      let bytes = new Uint8Array(header);
      for (const m of mutations) {
        const at = Math.min(m.at, bytes.length - (m.kind === 'insert' ? 0 : 1));
        if (m.kind === 'set') bytes[at] = m.value;
        else if (m.kind === 'delete' && bytes.length > 1) bytes = new Uint8Array([...bytes.subarray(0, at), ...bytes.subarray(at + 1)]);
        else if (m.kind === 'insert') bytes = new Uint8Array([...bytes.subarray(0, at), m.value, ...bytes.subarray(at)]);
        else if (m.kind === 'truncate') bytes = new Uint8Array(bytes.subarray(0, Math.max(1, Math.min(m.at, bytes.length))));
      }
      agreeWhenAccepted(bytes, headerLimits(bytes.length));
      // The manifest inside, when it still decodes as a COSE array, goes through the manifest limits as well.
      const ours = viaReader(bytes, headerLimits(bytes.length));
      if (ours.ok) {
        const payload = ((ours.value as { value: unknown[] }).value ?? [])[2];
        if (payload instanceof Uint8Array && payload.length > 0) agreeWhenAccepted(payload, MANIFEST_LIMITS);
      }
    }), { seed: SEED, numRuns: 2000 });
  });

  it('decodes the golden header unchanged and enforces each limit', () => {
    const header = golden.subarray(12, 12 + GOLDEN_H);
    expect(viaReader(header, headerLimits(GOLDEN_H))).toEqual(viaCborX(header));
    const tight = (change: Partial<CborLimits>): string => {
      const r = viaReader(header, { ...headerLimits(GOLDEN_H), ...change });
      return r.ok ? 'accepted' : r.code;
    };
    expect(tight({ maxBytes: 151 })).toBe('cbor-limit');
    expect(tight({ maxElements: 3 })).toBe('cbor-limit');
    expect(tight({ maxItems: 5 })).toBe('cbor-limit');
    expect(tight({ maxDepth: 1 })).toBe('cbor-limit');
    expect(tight({ topLevelTags: [17] })).toBe('cbor-malformed');
  });
});

describe('golden bundle under single-byte mutation', () => {
  it('every changed byte of the signed bundle is rejected with an OtaError and nothing becomes bootable', async () => {
    const trust = { verifiers: [ed25519Verifier(fromHex(GOLDEN_PUBLIC_HEX) as Uint8Array)], allowUnsigned: false };
    // The unmodified bundle is accepted by this device, so every rejection below is caused by the mutation.
    const clean = [new MemoryTarget('main-fw', 64, '1.0.0'), new MemoryTarget('wifi-fw', 64, '0.9.0')];
    await unpackChunks(new BundleUnpacker({ device: { hardwareVersion: 'evt', targets: clean, installedSequence: 0 }, trust, hashes: nodeHashes }), golden, 50);
    for (let at = 0; at < golden.length; at++) {
      for (const flip of [0x01, 0x80, 0xff]) {
        const bytes = new Uint8Array(golden);
        bytes[at] ^= flip;
        const targets = [new MemoryTarget('main-fw', 64, '1.0.0'), new MemoryTarget('wifi-fw', 64, '0.9.0')];
        const unpacker = new BundleUnpacker({ device: { hardwareVersion: 'evt', targets, installedSequence: 0 }, trust, hashes: nodeHashes });
        let code = 'accepted';
        try {
          await unpackChunks(unpacker, bytes, 1 + (at % 50));
        } catch (error) {
          expect(isOtaError(error), `byte ${at} ^ ${flip}: ${String(error)}`).toBe(true);
          code = (error as { code: string }).code;
        }
        expect(code, `byte ${at} ^ ${flip} was accepted`).not.toBe('accepted');
        for (const target of targets) expect(target.pending).toBeNull();
        if (at < 12 + GOLDEN_H) for (const target of targets) expect(target.mutations, `byte ${at}: header mutation reached flash`).toBe(0);
      }
    }
  });
});
