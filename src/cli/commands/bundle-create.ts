import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { UsageError, intOption, listOption, requireOption, stringOption } from '../args.js';
import type { Command } from '../command.js';
import { EXIT_OK } from '../exit-codes.js';
import type { Requirement } from '../../bundle/manifest.js';
import { checkRequirements, writeBundleFile } from '../../tools/bundle.js';
import { readProblem, sameFile, writeProblem } from '../../tools/file-checks.js';
import { isOtaError, otaError } from '../../util/errors.js';
import type { CliIo } from '../command.js';
import type { BundleFileInput, BundlePartFile, BundleSigner, PackProgress } from '../../tools/bundle.js';
import { ed25519Signer, hmacSigner, isPem, keyMaterialMessage, readKeyFile, looksLikeKeyMaterial, looseKeyWarning, parseHmacKey } from '../../tools/keys.js';
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
  // 'main-fw: wifi-fw >= 1.4.0' means the same as without spaces (a software type " wifi-fw " would match no part).
  const [part, softwareType, minVersion] = [match[1].trim(), match[2].trim(), match[3].trim()];
  if (part === '' || softwareType === '' || minVersion === '') throw new UsageError(`--requires takes PART:TYPE>=VERSION (e.g. main-fw:wifi-fw>=1.4.0), got "${spec}"`);
  return { part, requirement: { softwareType, minVersion } };
}

/**
 * Reads a key file and makes a signer of it; a key it cannot use is a usage error naming the flag and file. A key
 * file others can read gets a warning on stderr.
 */
function signerFrom(flag: string, path: string, io: CliIo, make: (text: string) => BundleSigner): BundleSigner {
  try {
    const text = readKeyFile(path);
    const signer = make(text);
    const warning = looseKeyWarning(flag, path, text);
    if (warning !== null) io.err(warning + '\n');
    return signer;
  } catch (error) {
    if (isOtaError(error) && error.code === 'key-invalid') throw new UsageError(`${flag} ${path}: ${error.message}`);
    throw error;
  }
}

/** Parts smaller than this in total pack too fast to need progress lines. */
const PROGRESS_FROM_BYTES = 16 * 1024 * 1024;

/** Progress lines on stderr every 10% of each pass (one line each, so CI logs show them too); nothing for small parts. */
function progressLines(io: CliIo, total: number): (progress: PackProgress) => void {
  if (total < PROGRESS_FROM_BYTES) return () => undefined;
  const printed = { hash: -1, write: -1 };
  const mib = (n: number): string => (n / (1024 * 1024)).toFixed(1);
  return (progress) => {
    const step = Math.floor((progress.done * 10) / Math.max(1, progress.total)) * 10;
    if (step <= printed[progress.phase]) return;
    printed[progress.phase] = step;
    io.err(`${progress.phase === 'hash' ? 'hashing parts' : 'writing bundle'}: ${step}% (${mib(progress.done)} of ${mib(progress.total)} MiB)\n`);
  };
}

/** The first value of `values` given twice, or null. */
function repeated(values: string[]): string | null {
  return values.find((value, i) => values.indexOf(value) !== i) ?? null;
}

/** `ota bundle create`: packs firmware images into a signed multi-part bundle. */
export const bundleCreateCommand: Command = {
  name: 'bundle create',
  summary: 'Pack firmware images into a signed multi-part OTA bundle',
  usage: '-o OUT --part TYPE=PATH@VERSION [--part ...] --hardware-version HW [--requires \'PART:TYPE>=VERSION\'] ' +
    '(--sign-key KEY.pem | --hmac-key KEY | --unsigned) [--sequence N] [--release-version V] [--force]',
  options: {
    output: { kind: 'string', short: 'o', valueName: 'OUT', description: 'Bundle file to write (new unless --force; never one of the inputs; appears only complete; not "-")' },
    force: { kind: 'boolean', description: 'Replace an existing output file (a symbolic link is replaced, not written through)' },
    part: { kind: 'multiple', valueName: 'TYPE=PATH@VERSION', description: 'An image file, in stream order (each software type once; progress on stderr from 16 MiB)' },
    requires: { kind: 'multiple', valueName: 'PART:TYPE>=VERSION', description: 'PART needs TYPE at VERSION or newer (quote it: the shell reads > as a redirection)' },
    'hardware-version': { kind: 'multiple', env: 'OTA_HARDWARE_VERSION', valueName: 'HW', description: 'A hardware version the bundle is for (1-8; no commas)' },
    'sign-key': { kind: 'string', valueName: 'KEY.pem', description: 'Ed25519 private key: COSE_Sign1 (alg -19)' },
    'hmac-key': { kind: 'string', valueName: 'KEY', description: 'HMAC key file (hex): COSE_Mac0 HMAC-SHA256 for devices without public-key checks' },
    unsigned: { kind: 'boolean', description: 'Write an unsigned bundle (development devices only)' },
    sequence: { kind: 'string', valueName: 'N', description: 'Anti-rollback sequence number (default: the current Unix time, so two bundles made within one second share it: pass N)' },
    'release-version': { kind: 'string', valueName: 'V', description: 'Release version (default: the first part\'s version)' },
  },
  async run(args, io) {
    if (args.positionals.length > 0) throw new UsageError(`unexpected argument "${args.positionals[0]}"`);
    const outputFlag = requireOption(args, 'output');
    if (outputFlag === '-') throw new UsageError('-o - (standard output) is not supported: a bundle is binary; name a file, e.g. -o release.otab');
    const output = resolve(io.cwd, outputFlag);
    const force = args.options.force === true;
    const specs = listOption(args, 'part').map(parsePartSpec);
    if (specs.length === 0) throw new UsageError('give at least one --part TYPE=PATH@VERSION');
    const hardwareVersions = listOption(args, 'hardware-version');
    if (hardwareVersions.length === 0) throw new UsageError('--hardware-version is required (or set OTA_HARDWARE_VERSION)');
    // Memfault's hardware versions have no commas: "evt,dvt" is a list given as one value, and no device reports it.
    const listed = hardwareVersions.find((hw) => hw.includes(','));
    if (listed !== undefined) {
      throw new UsageError(`--hardware-version "${listed}" is one hardware version with a comma; repeat --hardware-version for each (${listed.split(',').map((hw) => `--hardware-version ${hw.trim()}`).join(' ')})`);
    }
    const twiceHw = repeated(hardwareVersions);
    if (twiceHw !== null) throw new UsageError(`--hardware-version ${twiceHw} is given twice; name each hardware version once`);
    const twiceType = repeated(specs.map((spec) => spec.softwareType));
    if (twiceType !== null) {
      throw new UsageError(`--part ${twiceType} is given twice; a bundle carries one image per software type (${specs.filter((spec) => spec.softwareType === twiceType).map((spec) => spec.path).join(', ')})`);
    }
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
    const inputs: { flag: string; path: string; key?: string }[] = specs.map((spec) => ({ flag: `--part ${spec.softwareType}`, path: resolve(io.cwd, spec.path) }));
    if (signKey !== undefined) inputs.push({ flag: '--sign-key', path: resolve(io.cwd, signKey), key: signKey });
    if (hmacKey !== undefined) inputs.push({ flag: '--hmac-key', path: resolve(io.cwd, hmacKey), key: hmacKey });
    for (const input of inputs) {
      const problem = readProblem(input.path);
      // A secret pasted where its path belongs is not repeated into the (CI) log.
      if (problem !== null && input.key !== undefined && looksLikeKeyMaterial(input.key)) throw new UsageError(keyMaterialMessage(input.flag));
      if (problem !== null) throw new UsageError(`${input.flag}: ${problem}`);
      if (input.path === output || sameFile(input.path, output)) {
        throw new UsageError(`-o ${output} is the ${input.flag} input; writing the bundle there would destroy it: choose another output file`);
      }
    }
    const outputProblem = writeProblem(output, force);
    if (outputProblem !== null) throw new UsageError(`-o: ${outputProblem}`);
    const parts: BundlePartFile[] = [];
    let total = 0;
    for (const [i, spec] of specs.entries()) {
      const info = statSync(inputs[i].path);
      // A pipe or device has no size and may never end (/dev/zero); a bundle signs each part's exact bytes.
      if (!info.isFile()) throw new UsageError(`--part ${spec.softwareType}: ${inputs[i].path} is not a regular file (a pipe or device); write the image to a file first`);
      if (info.size === 0) throw new UsageError(`--part ${spec.softwareType}: ${inputs[i].path} is empty; a part holds at least one byte`);
      if (info.size > 0xffffffff) throw new UsageError(`--part ${spec.softwareType}: ${inputs[i].path} is ${info.size} bytes; a part holds at most 4294967295 bytes (4 GiB - 1)`);
      total += info.size;
      parts.push({
        softwareType: spec.softwareType, version: spec.version, path: inputs[i].path,
        requires: requires.filter((r) => r.part === spec.softwareType).map((r) => r.requirement),
      });
    }
    let signer: BundleSigner | null = null;
    if (signKey !== undefined) signer = signerFrom('--sign-key', resolve(io.cwd, signKey), io, (text) => ed25519Signer(text));
    if (hmacKey !== undefined) {
      signer = signerFrom('--hmac-key', resolve(io.cwd, hmacKey), io, (text) => {
        if (isPem(text)) throw otaError('key-invalid', 'This is a PEM key, not an HMAC key (hex digits): pass an Ed25519 private key with --sign-key.', false);
        return hmacSigner(parseHmacKey(text));
      });
    }
    const input: BundleFileInput = {
      sequence: intOption(args, 'sequence', 0, 0xffffffff) ?? Math.floor(Date.now() / 1000),
      releaseVersion: stringOption(args, 'release-version') ?? specs[0].version,
      hardwareVersions,
      parts,
    };
    let written: { length: number; sizes: number[] };
    try {
      checkRequirements(parts);
      written = await writeBundleFile(input, signer, output, { overwrite: force, onProgress: progressLines(io, total) });
    } catch (error) {
      // Everything the packer refuses came from the flags: a usage error, and nothing was written.
      if (isOtaError(error) && (error.code === 'bundle-input-invalid' || error.code === 'output-exists')) {
        throw new UsageError(error.code === 'output-exists' ? `-o: ${error.message}` : error.message);
      }
      if (isOtaError(error)) throw error;
      const code = (error as NodeJS.ErrnoException).code;
      throw otaError('bundle-write-failed', `cannot write ${output} (${code ?? (error as Error).message}); nothing was written: check the disk and the directory`, false, undefined, error);
    }
    io.out(`Wrote ${output} (${written.length} bytes), ${signer === null ? 'UNSIGNED' : signer.structure === 'MAC0' ? 'COSE_Mac0 HMAC-SHA256' : 'COSE_Sign1 Ed25519'}` +
      `${signer?.keyId ? ` kid ${toHex(signer.keyId)}` : ''}, sequence ${input.sequence}:\n` +
      parts.map((p, i) => `  ${p.softwareType} ${p.version} (${written.sizes[i]} bytes)\n`).join(''));
    return EXIT_OK;
  },
};
