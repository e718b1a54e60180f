import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/command.js';
import { readCbor, MANIFEST_LIMITS } from '../../src/bundle/cbor-reader.js';
import { decodeHeader } from '../../src/bundle/cose.js';
import { readPreamble } from '../../src/bundle/framing.js';
import { patternBytes } from './helpers.js';

let dir: string;

function capture(): CliIo & { stdout: string; stderr: string } {
  const io = {
    stdout: '', stderr: '', env: {}, cwd: '', isTty: false,
    out(text: string) { io.stdout += text; },
    err(text: string) { io.stderr += text; },
  };
  io.cwd = dir;
  return io;
}

async function ota(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = capture();
  const code = await main(argv, io);
  return { code, out: io.stdout, err: io.stderr };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ota-bundle-cli-'));
  await writeFile(join(dir, 'main.bin'), patternBytes(3000, 11));
  await writeFile(join(dir, 'wifi.bin'), patternBytes(1200, 12));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('ota keys generate / bundle create / inspect / verify', () => {
  it('generates an Ed25519 pair (private key owner-only) and refuses to overwrite it', async () => {
    const result = await ota('keys', 'generate', '-o', 'signing');
    expect(result.code).toBe(0);
    expect(result.out).toMatch(/kid [0-9a-f]{16}/);
    expect((await readFile(join(dir, 'signing.pem'), 'utf8'))).toContain('BEGIN PRIVATE KEY');
    expect((await readFile(join(dir, 'signing.pub.pem'), 'utf8'))).toContain('BEGIN PUBLIC KEY');
    expect((await stat(join(dir, 'signing.pem'))).mode & 0o077).toBe(0);
    const again = await ota('keys', 'generate', '-o', 'signing');
    expect(again.code).toBe(2);
    expect(again.err).toContain('--force');
  });

  it('creates a signed two-part bundle that the strict reader and the device unpacker accept', async () => {
    const result = await ota('bundle', 'create', '-o', 'release.otab', '--part', 'main-fw=main.bin@2.0.0', '--part', 'wifi-fw=wifi.bin@1.4.0',
      '--requires', 'main-fw:wifi-fw>=1.4.0', '--hardware-version', 'evt', '--sign-key', 'signing.pem', '--sequence', '1700000000');
    expect(result.code, result.err).toBe(0);
    const bytes = new Uint8Array(await readFile(join(dir, 'release.otab')));
    const pre = readPreamble(bytes);
    const cose = decodeHeader(bytes, 12, 12 + pre.headerLength, pre.kind);
    expect(cose.alg).toBe(-19);
    readCbor(cose.payload, 0, cose.payload.length, MANIFEST_LIMITS);
    const verify = await ota('bundle', 'verify', 'release.otab', '--key', 'signing.pub.pem');
    expect(verify.code, verify.err).toBe(0);
    expect(verify.out).toContain('signature verified');
  });

  it('inspects a bundle as text and as JSON, with each part\'s offset', async () => {
    const text = await ota('bundle', 'inspect', 'release.otab');
    expect(text.code).toBe(0);
    expect(text.out).toContain('part wifi-fw 1.4.0: 1200 bytes');
    expect(text.out).toContain('requires wifi-fw>=1.4.0');
    const json = await ota('bundle', 'inspect', 'release.otab', '--json');
    const info = JSON.parse(json.out);
    expect(info.sequence).toBe(1700000000);
    expect(info.parts.map((p: { softwareType: string; order: number }) => [p.softwareType, p.order])).toEqual([['main-fw', 2], ['wifi-fw', 1]]);
    const bytes = new Uint8Array(await readFile(join(dir, 'release.otab')));
    const wifi = info.parts[1];
    expect(bytes.subarray(wifi.offset, wifi.offset + wifi.size)).toEqual(new Uint8Array(await readFile(join(dir, 'wifi.bin'))));
    expect(info.bundleLength).toBe(bytes.length);
  });

  it('verify fails on a tampered part and on a key the bundle was not signed with', async () => {
    const bytes = new Uint8Array(await readFile(join(dir, 'release.otab')));
    bytes[bytes.length - 5] ^= 1;
    await writeFile(join(dir, 'tampered.otab'), bytes);
    const tampered = await ota('bundle', 'verify', 'tampered.otab', '--key', 'signing.pub.pem');
    expect(tampered.code).toBe(1);
    expect(tampered.err).toContain('[part-crc-mismatch]');
    await ota('keys', 'generate', '-o', 'other');
    const wrong = await ota('bundle', 'verify', 'release.otab', '--key', 'other.pub.pem');
    expect(wrong.code).toBe(1);
    expect(wrong.err).toContain('[key-unknown]');
  });

  it('HMAC: generates a key, MACs a bundle, verifies it, and never prints the key', async () => {
    const gen = await ota('keys', 'generate', '--type', 'hmac', '-o', 'device.hmac');
    expect(gen.code).toBe(0);
    const key = (await readFile(join(dir, 'device.hmac'), 'utf8')).trim();
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    const create = await ota('bundle', 'create', '-o', 'mac.otab', '--part', 'wifi-fw=wifi.bin@1.4.0', '--hardware-version', 'evt', '--hmac-key', 'device.hmac');
    expect(create.code, create.err).toBe(0);
    const verify = await ota('bundle', 'verify', 'mac.otab', '--key', 'device.hmac');
    expect(verify.code, verify.err).toBe(0);
    expect(verify.out).toContain('MAC verified');
    for (const output of [gen.out, create.out, verify.out]) expect(output).not.toContain(key);
  });

  it('usage errors: no key choice, a malformed --part, a --requires naming an absent part', async () => {
    expect((await ota('bundle', 'create', '-o', 'x', '--part', 'main-fw=main.bin@1', '--hardware-version', 'evt')).code).toBe(2);
    expect((await ota('bundle', 'create', '-o', 'x', '--part', 'main-fw=main.bin', '--hardware-version', 'evt', '--unsigned')).code).toBe(2);
    const absent = await ota('bundle', 'create', '-o', 'x', '--part', 'main-fw=main.bin@1', '--hardware-version', 'evt', '--unsigned', '--requires', 'ble:wifi-fw>=1');
    expect(absent.code).toBe(2);
    expect(absent.err).toContain('"ble"');
  });

  it('an unsigned bundle verifies structurally and says the signature was not checked', async () => {
    expect((await ota('bundle', 'create', '-o', 'dev.otab', '--part', 'main-fw=main.bin@1.0.1', '--hardware-version', 'evt', '--unsigned')).code).toBe(0);
    const verify = await ota('bundle', 'verify', 'dev.otab');
    expect(verify.code, verify.err).toBe(0);
    expect(verify.out).toContain('NOT checked');
    const keyed = await ota('bundle', 'verify', 'dev.otab', '--key', 'signing.pub.pem');
    expect(keyed.code).toBe(1);
    expect(keyed.err).toContain('[bundle-unsigned]');
  });
});
