import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { UsageError, intOption, listOption, requireOption, stringOption } from '../args.js';
import type { Command } from '../command.js';
import { EXIT_OK } from '../exit-codes.js';
import type { Requirement } from '../../bundle/manifest.js';
import { createBundle } from '../../tools/bundle.js';
import type { BundleInput, BundlePartInput, BundleSigner } from '../../tools/bundle.js';
import { ed25519Signer, hmacSigner, parseHmacKey } from '../../tools/keys.js';
import { toHex } from '../../util/bytes.js';

/** Parses `TYPE=PATH@VERSION`. */
export function parsePartSpec(spec: string): { softwareType: string; path: string; version: string } {
  const eq = spec.indexOf('=');
  const at = spec.lastIndexOf('@');
  if (eq <= 0 || at <= eq + 1 || at === spec.length - 1) {
    throw new UsageError(`--part takes TYPE=PATH@VERSION (e.g. main-fw=build/main.bin@2.0.0), got "${spec}"`);
  }
  return { softwareType: spec.slice(0, eq), path: spec.slice(eq + 1, at), version: spec.slice(at + 1) };
}

/** Parses `PART:TYPE>=VERSION` (PART requires TYPE at VERSION or newer). */
export function parseRequiresSpec(spec: string): { part: string; requirement: Requirement } {
  const match = /^([^:]+):([^>]+)>=(.+)$/.exec(spec);
  if (!match) throw new UsageError(`--requires takes PART:TYPE>=VERSION (e.g. main-fw:wifi-fw>=1.4.0), got "${spec}"`);
  return { part: match[1], requirement: { softwareType: match[2], minVersion: match[3] } };
}

/** `ota bundle create`: packs firmware images into a signed multi-part bundle. */
export const bundleCreateCommand: Command = {
  name: 'bundle create',
  summary: 'Pack firmware images into a signed multi-part OTA bundle',
  usage: '-o OUT --part TYPE=PATH@VERSION [--part ...] --hardware-version HW [--requires PART:TYPE>=VERSION] ' +
    '(--sign-key KEY.pem | --hmac-key KEY | --unsigned) [--sequence N] [--release-version V]',
  options: {
    output: { kind: 'string', short: 'o', valueName: 'OUT', description: 'Bundle file to write' },
    part: { kind: 'multiple', valueName: 'TYPE=PATH@VERSION', description: 'An image, in stream order' },
    requires: { kind: 'multiple', valueName: 'PART:TYPE>=VERSION', description: 'PART needs TYPE at VERSION or newer' },
    'hardware-version': { kind: 'multiple', env: 'OTA_HARDWARE_VERSION', valueName: 'HW', description: 'A hardware version the bundle is for (1-8)' },
    'sign-key': { kind: 'string', valueName: 'KEY.pem', description: 'Ed25519 private key: COSE_Sign1 (alg -19)' },
    'hmac-key': { kind: 'string', valueName: 'KEY', description: 'HMAC key file (hex): COSE_Mac0 HMAC-SHA256 for devices without public-key checks' },
    unsigned: { kind: 'boolean', description: 'Write an unsigned bundle (development devices only)' },
    sequence: { kind: 'string', valueName: 'N', description: 'Anti-rollback sequence number (default: the current Unix time)' },
    'release-version': { kind: 'string', valueName: 'V', description: 'Release version (default: the first part\'s version)' },
  },
  async run(args, io) {
    if (args.positionals.length > 0) throw new UsageError(`unexpected argument "${args.positionals[0]}"`);
    const output = resolve(io.cwd, requireOption(args, 'output'));
    const specs = listOption(args, 'part').map(parsePartSpec);
    if (specs.length === 0) throw new UsageError('give at least one --part TYPE=PATH@VERSION');
    const hardwareVersions = listOption(args, 'hardware-version');
    if (hardwareVersions.length === 0) throw new UsageError('--hardware-version is required (or set OTA_HARDWARE_VERSION)');
    const signKey = stringOption(args, 'sign-key');
    const hmacKey = stringOption(args, 'hmac-key');
    const unsigned = args.options.unsigned === true;
    if ([signKey !== undefined, hmacKey !== undefined, unsigned].filter(Boolean).length !== 1) {
      throw new UsageError('choose exactly one of --sign-key, --hmac-key or --unsigned');
    }
    const requires = listOption(args, 'requires').map(parseRequiresSpec);
    for (const r of requires) {
      if (!specs.some((s) => s.softwareType === r.part)) throw new UsageError(`--requires names part "${r.part}", which is not among the --part values`);
    }
    const parts: BundlePartInput[] = [];
    for (const spec of specs) {
      const data = new Uint8Array(await readFile(resolve(io.cwd, spec.path)));
      parts.push({
        softwareType: spec.softwareType, version: spec.version, data,
        requires: requires.filter((r) => r.part === spec.softwareType).map((r) => r.requirement),
      });
    }
    let signer: BundleSigner | null = null;
    if (signKey !== undefined) signer = ed25519Signer(await readFile(resolve(io.cwd, signKey), 'utf8'));
    if (hmacKey !== undefined) signer = hmacSigner(parseHmacKey(await readFile(resolve(io.cwd, hmacKey), 'utf8')));
    const input: BundleInput = {
      sequence: intOption(args, 'sequence', 0, 0xffffffff) ?? Math.floor(Date.now() / 1000),
      releaseVersion: stringOption(args, 'release-version') ?? specs[0].version,
      hardwareVersions,
      parts,
    };
    const bytes = createBundle(input, signer);
    await writeFile(output, bytes);
    io.out(`Wrote ${output} (${bytes.length} bytes), ${signer === null ? 'UNSIGNED' : signer.structure === 'MAC0' ? 'COSE_Mac0 HMAC-SHA256' : 'COSE_Sign1 Ed25519'}` +
      `${signer?.keyId ? ` kid ${toHex(signer.keyId)}` : ''}, sequence ${input.sequence}:\n` +
      parts.map((p) => `  ${p.softwareType} ${p.version} (${p.data.length} bytes)\n`).join(''));
    return EXIT_OK;
  },
};
