import { createReadStream, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { UsageError, listOption } from '../args.js';
import type { Command } from '../command.js';
import { EXIT_OK } from '../exit-codes.js';
import { verifyBundle } from '../../tools/bundle.js';
import { keyMaterialMessage, looksLikeKeyMaterial, looseKeyWarning, readKeyFile, verifierFromKeyText } from '../../tools/keys.js';
import { readProblem } from '../../tools/file-checks.js';
import { isOtaError, otaError } from '../../util/errors.js';
import { describeBundle } from './bundle-inspect.js';

/**
 * The device's wording of a damaged stream ("the rest is fetched", "downloaded again", "read back from flash"),
 * restated for a file; the code stays, so scripts can branch on it.
 */
async function asFileError(error: unknown, path: string): Promise<unknown> {
  if (!isOtaError(error)) return error;
  const details = error.details ?? {};
  const part = `part ${String(details.partIndex)} ("${String(details.softwareType)}")`;
  const size = statSync(path).size;
  const expected = await describeBundle(path).then((info) => info.bundleLength as number, () => null);
  const promised = expected === null ? '' : `, but its header describes a bundle of ${expected} bytes`;
  let message: string;
  if (error.code === 'bundle-truncated') {
    message = `${path} is ${size} bytes${promised}: the file is truncated (an interrupted copy or download?); make or fetch it again`;
  } else if (error.code === 'trailing-bytes') {
    message = `${path} is ${size} bytes${promised}: ${expected === null ? 'bytes follow' : `${size - expected} byte(s) follow`} the last part ` +
      '(appended by a copy or an artifact store?); a device refuses the whole bundle';
  } else if (error.code === 'part-crc-mismatch') {
    message = `${path}: ${part} does not match the CRC-32 in its manifest: the file is corrupt; make or fetch it again`;
  } else if (error.code === 'part-digest-mismatch') {
    message = `${path}: ${part} matches its CRC-32 but not the SHA-256 in the signed manifest: its bytes were altered ` +
      '(a CRC-32 is no protection against deliberate edits); do not ship this file';
  } else {
    return error;
  }
  return otaError(error.code, message, false, error.details, error);
}

/** `ota bundle verify`: runs a bundle through the device's unpacker and checks everything a device would. */
export const bundleVerifyCommand: Command = {
  name: 'bundle verify',
  summary: 'Check a bundle as a device would: signature/MAC, manifest, framing, every part\'s CRC-32 and SHA-256',
  usage: 'FILE [--key KEY ...] [--json]',
  options: {
    key: { kind: 'multiple', valueName: 'KEY', description: 'Ed25519 public (or private) PEM, or an HMAC key file' },
    json: { kind: 'boolean', description: 'Print JSON' },
  },
  async run(args, io) {
    if (args.positionals.length !== 1) throw new UsageError('give exactly one bundle FILE');
    const path = resolve(io.cwd, args.positionals[0]);
    const problem = readProblem(path);
    if (problem !== null) throw new UsageError(`bundle FILE: ${problem}`);
    const verifiers = [];
    for (const key of listOption(args, 'key')) {
      const keyPath = resolve(io.cwd, key);
      const keyProblem = readProblem(keyPath);
      if (keyProblem !== null && looksLikeKeyMaterial(key)) throw new UsageError(keyMaterialMessage('--key'));
      if (keyProblem !== null) throw new UsageError(`--key: ${keyProblem}`);
      try {
        const text = readKeyFile(keyPath);
        verifiers.push(verifierFromKeyText(text));
        const warning = looseKeyWarning('--key', keyPath, text);
        if (warning !== null) io.err(warning + '\n');
      } catch (error) {
        if (isOtaError(error) && error.code === 'key-invalid') throw new UsageError(`--key ${keyPath}: ${error.message}`);
        throw error;
      }
    }
    let report;
    try {
      report = await verifyBundle(createReadStream(path, { highWaterMark: 64 * 1024 }), verifiers);
    } catch (error) {
      throw await asFileError(error, path);
    }
    if (args.options.json) {
      io.out(JSON.stringify({ ...report, manifest: { ...report.manifest, parts: report.manifest.parts.map((p) => ({ ...p, sha256: Buffer.from(p.sha256).toString('hex') })) } }, null, 2) + '\n');
      return EXIT_OK;
    }
    io.out(`${path}: OK, ${report.length} bytes, ${report.manifest.parts.length} part(s) verified ` +
      `(${report.manifest.parts.map((p) => `${p.softwareType} ${p.version}`).join(', ')}); ` +
      (report.authenticated ? `${report.kind === 2 ? 'MAC' : 'signature'} verified${report.keyId ? ` (kid ${report.keyId})` : ''}` :
        'signature NOT checked (no --key given)') + '\n');
    return EXIT_OK;
  },
};
