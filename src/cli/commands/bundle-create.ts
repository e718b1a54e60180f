import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { UsageError, intOption, listOption, requireOption, stringOption } from '../args.js';
import type { Command } from '../command.js';
import { EXIT_OK } from '../exit-codes.js';
import type { Requirement } from '../../bundle/manifest.js';
import { checkRequirements, createBundle } from '../../tools/bundle.js';
import { readProblem, sameFile, writeProblem } from '../../tools/file-checks.js';
import { isOtaError, otaError } from '../../util/errors.js';
import type { BundleInput, BundlePartInput, BundleSigner } from '../../tools/bundle.js';
import { ed25519Signer, hmacSigner, isPem, parseHmacKey } from '../../tools/keys.js';
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

/** Reads a key file and makes a signer of it; a key it cannot use is a usage error naming the flag and file. */
function signerFrom(flag: string, path: string, make: (text: string) => BundleSigner): BundleSigner {
  try {
    return make(readFileSync(path, 'utf8'));
  } catch (error) {
    if (isOtaError(error) && error.code === 'key-invalid') throw new UsageError(`${flag} ${path}: ${error.message}`);
    throw error;
  }
}

/** `ota bundle create`: packs firmware images into a signed multi-part bundle. */
export const bundleCreateCommand: Command = {
  name: 'bundle create',
  summary: 'Pack firmware images into a signed multi-part OTA bundle',
  usage: '-o OUT --part TYPE=PATH@VERSION [--part ...] --hardware-version HW [--requires \'PART:TYPE>=VERSION\'] ' +
    '(--sign-key KEY.pem | --hmac-key KEY | --unsigned) [--sequence N] [--release-version V] [--force]',
  options: {
    output: { kind: 'string', short: 'o', valueName: 'OUT', description: 'Bundle file to write (new unless --force; never one of the inputs)' },
    force: { kind: 'boolean', description: 'Overwrite an existing output file' },
    part: { kind: 'multiple', valueName: 'TYPE=PATH@VERSION', description: 'An image, in stream order' },
    requires: { kind: 'multiple', valueName: 'PART:TYPE>=VERSION', description: 'PART needs TYPE at VERSION or newer (quote it: the shell reads > as a redirection)' },
    'hardware-version': { kind: 'multiple', env: 'OTA_HARDWARE_VERSION', valueName: 'HW', description: 'A hardware version the bundle is for (1-8)' },
    'sign-key': { kind: 'string', valueName: 'KEY.pem', description: 'Ed25519 private key: COSE_Sign1 (alg -19)' },
    'hmac-key': { kind: 'string', valueName: 'KEY', description: 'HMAC key file (hex): COSE_Mac0 HMAC-SHA256 for devices without public-key checks' },
    unsigned: { kind: 'boolean', description: 'Write an unsigned bundle (development devices only)' },
    sequence: { kind: 'string', valueName: 'N', description: 'Anti-rollback sequence number (default: the current Unix time, so two bundles made within one second share it: pass N)' },
    'release-version': { kind: 'string', valueName: 'V', description: 'Release version (default: the first part\'s version)' },
  },
  async run(args, io) {
    if (args.positionals.length > 0) throw new UsageError(`unexpected argument "${args.positionals[0]}"`);
    const output = resolve(io.cwd, requireOption(args, 'output'));
    const force = args.options.force === true;
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
    // Every input must be readable, and the output must be none of them (not even through a link) and new unless --force.
    const inputs: { flag: string; path: string }[] = specs.map((spec) => ({ flag: `--part ${spec.softwareType}`, path: resolve(io.cwd, spec.path) }));
    if (signKey !== undefined) inputs.push({ flag: '--sign-key', path: resolve(io.cwd, signKey) });
    if (hmacKey !== undefined) inputs.push({ flag: '--hmac-key', path: resolve(io.cwd, hmacKey) });
    for (const input of inputs) {
      const problem = readProblem(input.path);
      if (problem !== null) throw new UsageError(`${input.flag}: ${problem}`);
      if (input.path === output || sameFile(input.path, output)) {
        throw new UsageError(`-o ${output} is the ${input.flag} input; writing the bundle there would destroy it: choose another output file`);
      }
    }
    const outputProblem = writeProblem(output, force);
    if (outputProblem !== null) throw new UsageError(`-o: ${outputProblem}`);
    const parts: BundlePartInput[] = [];
    for (const [i, spec] of specs.entries()) {
      const data = new Uint8Array(await readFile(inputs[i].path));
      if (data.length === 0) throw new UsageError(`--part ${spec.softwareType}: ${inputs[i].path} is empty; a part holds at least one byte`);
      parts.push({
        softwareType: spec.softwareType, version: spec.version, data,
        requires: requires.filter((r) => r.part === spec.softwareType).map((r) => r.requirement),
      });
    }
    let signer: BundleSigner | null = null;
    if (signKey !== undefined) signer = signerFrom('--sign-key', resolve(io.cwd, signKey), (text) => ed25519Signer(text));
    if (hmacKey !== undefined) {
      signer = signerFrom('--hmac-key', resolve(io.cwd, hmacKey), (text) => {
        if (isPem(text)) throw otaError('key-invalid', 'This is a PEM key, not an HMAC key (hex digits): pass an Ed25519 private key with --sign-key.', false);
        return hmacSigner(parseHmacKey(text));
      });
    }
    const input: BundleInput = {
      sequence: intOption(args, 'sequence', 0, 0xffffffff) ?? Math.floor(Date.now() / 1000),
      releaseVersion: stringOption(args, 'release-version') ?? specs[0].version,
      hardwareVersions,
      parts,
    };
    let bytes: Uint8Array;
    try {
      checkRequirements(parts);
      bytes = createBundle(input, signer);
    } catch (error) {
      // Everything the packer refuses came from the flags: a usage error, and nothing was written.
      if (isOtaError(error) && error.code === 'bundle-input-invalid') throw new UsageError(error.message);
      throw error;
    }
    try {
      await writeFile(output, bytes, { flag: force ? 'w' : 'wx' });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') throw new UsageError(`-o: ${output} exists; pass --force to overwrite it`);
      throw new UsageError(`-o: cannot write ${output} (${code ?? (error as Error).message}); check the path and its directory`);
    }
    io.out(`Wrote ${output} (${bytes.length} bytes), ${signer === null ? 'UNSIGNED' : signer.structure === 'MAC0' ? 'COSE_Mac0 HMAC-SHA256' : 'COSE_Sign1 Ed25519'}` +
      `${signer?.keyId ? ` kid ${toHex(signer.keyId)}` : ''}, sequence ${input.sequence}:\n` +
      parts.map((p) => `  ${p.softwareType} ${p.version} (${p.data.length} bytes)\n`).join(''));
    return EXIT_OK;
  },
};
