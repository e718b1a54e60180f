import { createPublicKey } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ed25519PrivateKeyFromSeed } from '../../src/tools/keys.js';
import { fromHex } from '../../src/util/bytes.js';
import { GOLDEN_HEX, GOLDEN_SEED } from '../bundle/golden.js';
import { runner, servedCli } from './served-cli.js';

// A damaged bundle FILE, as a release pipeline meets it (an interrupted copy, an artifact store appending bytes, a
// CRC-preserving edit): `ota bundle verify` must say what is wrong with the file, not the device's advice ("the rest
// is fetched", "downloaded again", "flash is faulty"); `ota bundle inspect` must say the length is wrong; and
// `ota upload-ota-payload` must not publish a bundle whose length disagrees with its own header.

let dir: string;
let ota: ReturnType<typeof runner>;
const golden = fromHex(GOLDEN_HEX) as Uint8Array;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ota-file-damage-'));
  ota = runner(dir);
  const publicPem = createPublicKey(ed25519PrivateKeyFromSeed(GOLDEN_SEED)).export({ format: 'pem', type: 'spki' }).toString();
  writeFileSync(join(dir, 'golden.pub.pem'), publicPem);
  writeFileSync(join(dir, 'golden.otab'), golden);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('ota bundle verify on a damaged file', () => {
  it('the intact golden file verifies', async () => {
    const result = await ota('bundle', 'verify', 'golden.otab', '--key', 'golden.pub.pem');
    expect(result.code, result.err).toBe(0);
  });

  it('a file cut inside a part is named truncated, with its length and the length the header promises', async () => {
    writeFileSync(join(dir, 'cut.otab'), golden.subarray(0, 270));
    const result = await ota('bundle', 'verify', 'cut.otab', '--key', 'golden.pub.pem');
    expect(result.code).toBe(1);
    expect(result.err).toContain('[bundle-truncated]');
    expect(result.err).toContain('270 bytes');
    expect(result.err).toContain('281');
    expect(result.err).not.toContain('fetched');
  });

  it('a flipped part byte is a corrupt file, not corruption in transit to be downloaded again', async () => {
    const bytes = new Uint8Array(golden);
    bytes[260] ^= 0x10;
    writeFileSync(join(dir, 'flip.otab'), bytes);
    const result = await ota('bundle', 'verify', 'flip.otab', '--key', 'golden.pub.pem');
    expect(result.code).toBe(1);
    expect(result.err).toContain('[part-crc-mismatch]');
    expect(result.err).toContain('main-fw');
    expect(result.err).not.toContain('downloaded again');
  });

  it('a CRC-preserving edit is reported against the signed SHA-256, not as faulty flash', async () => {
    const bytes = new Uint8Array(golden);
    bytes.set(fromHex('0a51525392bae6f3') as Uint8Array, golden.length - 8);
    writeFileSync(join(dir, 'forged.otab'), bytes);
    const result = await ota('bundle', 'verify', 'forged.otab', '--key', 'golden.pub.pem');
    expect(result.code).toBe(1);
    expect(result.err).toContain('[part-digest-mismatch]');
    expect(result.err).toContain('wifi-fw');
    expect(result.err).toContain('SHA-256');
    expect(result.err).not.toContain('flash');
  });

  it('bytes appended to the file are named, without device advice about staged parts', async () => {
    writeFileSync(join(dir, 'tail.otab'), Buffer.concat([golden, Buffer.from('\n')]));
    const result = await ota('bundle', 'verify', 'tail.otab', '--key', 'golden.pub.pem');
    expect(result.code).toBe(1);
    expect(result.err).toContain('[trailing-bytes]');
    expect(result.err).toContain('282');
    expect(result.err).not.toContain('staged');
  });
});

describe('ota bundle inspect on a file of the wrong length', () => {
  it('says the file is truncated or has extra bytes and points at verify', async () => {
    writeFileSync(join(dir, 'cut2.otab'), golden.subarray(0, 270));
    const cut = await ota('bundle', 'inspect', 'cut2.otab');
    expect(cut.code).toBe(0);
    expect(cut.out).toMatch(/file is 270 bytes: truncated/);
    writeFileSync(join(dir, 'tail2.otab'), Buffer.concat([golden, Buffer.from('xx')]));
    const tail = await ota('bundle', 'inspect', 'tail2.otab');
    expect(tail.out).toMatch(/file is 283 bytes: 2 bytes after the bundle/);
  });
});

describe('ota upload-ota-payload with a bundle of the wrong length', () => {
  const served = servedCli('ota-upload-length-');
  const flags = ['--hardware-version', 'evt', '--software-type', 'main-fw', '--software-version', '1.2.0'];

  it('refuses a truncated bundle, one with trailing bytes and one with a corrupt part (every device would refuse them), uploading nothing', async () => {
    writeFileSync(join(served.dir, 'cut-header.otab'), golden.subarray(0, 200));
    writeFileSync(join(served.dir, 'cut.otab'), golden.subarray(0, 270));
    writeFileSync(join(served.dir, 'tail.otab'), Buffer.concat([golden, Buffer.from('!')]));
    for (const name of ['cut-header.otab', 'cut.otab', 'tail.otab']) {
      const result = await served.ota('upload-ota-payload', ...flags, name);
      expect(result.code, result.err).toBe(2);
      expect(result.err).toContain('ota bundle verify');
    }
    const flipped = new Uint8Array(golden);
    flipped[262] ^= 0x01;
    writeFileSync(join(served.dir, 'flipped.otab'), flipped);
    const corrupt = await served.ota('upload-ota-payload', ...flags, 'flipped.otab');
    expect(corrupt.code, corrupt.err).toBe(2);
    expect(corrupt.err).toContain('part-crc-mismatch');
    expect(corrupt.err).toContain('ota bundle verify');
    expect(readdirSync(join(served.dataDir, 'payloads')).length).toBe(0);
    writeFileSync(join(served.dir, 'ok.otab'), golden);
    const ok = await served.ota('upload-ota-payload', ...flags, 'ok.otab');
    expect(ok.code, ok.err).toBe(0);
    expect(existsSync(join(served.dir, 'ok.otab'))).toBe(true);
    expect(readFileSync(join(served.dir, 'ok.otab')).length).toBe(281);
  });

  it('refuses to publish a private key or an HMAC key given as the payload FILE (a tab-completion slip), without printing it', async () => {
    expect((await served.ota('keys', 'generate', '-o', 'sign')).code).toBe(0);
    expect((await served.ota('keys', 'generate', '--type', 'hmac', '-o', 'dev.hmac')).code).toBe(0);
    const before = readdirSync(join(served.dataDir, 'payloads')).length;
    for (const name of ['sign.pem', 'dev.hmac']) {
      const result = await served.ota('upload-ota-payload', '--hardware-version', 'evt', '--software-type', 'main-fw', '--software-version', '9.0.0', name);
      expect(result.code, result.err).toBe(2);
      expect(result.err).toContain('secret key');
      expect(result.err).not.toContain(readFileSync(join(served.dir, name), 'utf8').split('\n')[name === 'sign.pem' ? 1 : 0]);
    }
    expect(readdirSync(join(served.dataDir, 'payloads')).length).toBe(before);
  });
});
