import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { UsageError, listOption } from '../args.js';
import type { Command } from '../command.js';
import { EXIT_OK } from '../exit-codes.js';
import { verifyBundle } from '../../tools/bundle.js';
import { verifierFromKeyText } from '../../tools/keys.js';
import { readProblem } from '../../tools/file-checks.js';
import { isOtaError } from '../../util/errors.js';

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
      if (keyProblem !== null) throw new UsageError(`--key: ${keyProblem}`);
      try {
        verifiers.push(verifierFromKeyText(await readFile(keyPath, 'utf8')));
      } catch (error) {
        if (isOtaError(error) && error.code === 'key-invalid') throw new UsageError(`--key ${keyPath}: ${error.message}`);
        throw error;
      }
    }
    const report = await verifyBundle(createReadStream(path, { highWaterMark: 64 * 1024 }), verifiers);
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
