import { describe, expect, it } from 'vitest';
import { GOLDEN_HEX, GOLDEN_INPUT, GOLDEN_PUBLIC_HEX, GOLDEN_SEED } from './golden.js';
import { inspectHeader, verifyHeader } from '../../src/bundle/header.js';
import { PREAMBLE_SIZE, readPreamble } from '../../src/bundle/framing.js';
import { ed25519Verifier, nodeHashes, rawEd25519PublicKey } from '../../src/node/crypto.js';
import { createBundle } from '../../src/tools/bundle.js';
import { ed25519PrivateKeyFromSeed, ed25519Signer } from '../../src/tools/keys.js';
import { fromHex, toHex } from '../../src/util/bytes.js';

const golden = fromHex(GOLDEN_HEX) as Uint8Array;

describe('golden vector', () => {
  it('the packer reproduces the reference bundle byte for byte', () => {
    const key = ed25519PrivateKeyFromSeed(GOLDEN_SEED);
    expect(toHex(rawEd25519PublicKey(key))).toBe(GOLDEN_PUBLIC_HEX);
    const bytes = createBundle(GOLDEN_INPUT, ed25519Signer(key));
    expect(bytes.length).toBe(281);
    expect(toHex(bytes)).toBe(GOLDEN_HEX);
  });

  it('the strict reader decodes it and the signature verifies', async () => {
    const pre = readPreamble(golden);
    expect(pre).toEqual({ kind: 1, headerLength: 237 });
    const header = golden.subarray(PREAMBLE_SIZE, PREAMBLE_SIZE + pre.headerLength);
    const inspected = inspectHeader(golden.subarray(0, PREAMBLE_SIZE), header);
    expect(inspected.cose.alg).toBe(-19);
    expect(inspected.manifest.sequence).toBe(1732350000);
    expect(inspected.manifest.parts.map((p) => [p.softwareType, p.version, p.size, p.crc32.toString(16), p.order]))
      .toEqual([['main-fw', '1.2.0', 16, 'b225246f', 2], ['wifi-fw', '0.9.1', 8, 'bca59860', 1]]);
    const verified = await verifyHeader(golden.subarray(0, PREAMBLE_SIZE), header,
      { verifiers: [ed25519Verifier(fromHex(GOLDEN_PUBLIC_HEX) as Uint8Array)], allowUnsigned: false }, nodeHashes);
    expect(verified.authenticated).toBe(true);
  });
});
