import { existsSync } from 'node:fs';
import { chmod, rm, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { UsageError, requireOption, stringOption } from '../args.js';
import type { Command } from '../command.js';
import { EXIT_OK } from '../exit-codes.js';
import { ed25519KeyId, rawEd25519PublicKey } from '../../node/crypto.js';
import { formatHmacKey, generateEd25519, generateHmacKey, hmacKeyId } from '../../tools/keys.js';
import { createPrivateKey } from 'node:crypto';
import { toHex } from '../../util/bytes.js';
import { writeProblem } from '../../tools/file-checks.js';

/**
 * Writes key files: every target is checked first (a refusal writes none of them); each is created new ("wx"), an
 * existing one (only with `force`) is removed first, so an overwritten private key never keeps the old file's looser
 * mode; the mode is set again after writing (umask). A failure part-way removes the files this call wrote.
 */
async function writeKeyFiles(files: { path: string; text: string; mode: number }[], force: boolean): Promise<void> {
  for (const file of files) {
    const problem = writeProblem(file.path, force);
    if (problem !== null) throw new UsageError(`-o: ${problem}`);
  }
  const created: string[] = [];
  try {
    for (const file of files) {
      // Replace rather than rewrite in place: the new secret is never readable under the old file's mode.
      if (force && existsSync(file.path)) await rm(file.path, { force: true });
      await writeFile(file.path, file.text, { flag: 'wx', mode: file.mode });
      created.push(file.path);
      await chmod(file.path, file.mode);
    }
  } catch (error) {
    for (const path of created) await rm(path, { force: true });
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new UsageError(`-o: ${(error as NodeJS.ErrnoException).path} exists; pass --force to overwrite it`);
    throw new UsageError(`-o: cannot write the key files (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); check the path and its directory`);
  }
}

/** `ota keys generate`: makes an Ed25519 signing pair or an HMAC key for bundles. */
export const keysGenerateCommand: Command = {
  name: 'keys generate',
  summary: 'Make a bundle signing key: an Ed25519 PEM pair, or an HMAC-SHA256 key',
  usage: '-o NAME [--type ed25519|hmac] [--force]',
  options: {
    output: { kind: 'string', short: 'o', valueName: 'NAME', description: 'ed25519: writes NAME.pem and NAME.pub.pem (-o NAME.pem does the same); hmac: writes NAME' },
    type: { kind: 'string', valueName: 'ed25519|hmac', description: 'Key type (default ed25519)' },
    force: { kind: 'boolean', description: 'Overwrite existing files' },
  },
  async run(args, io) {
    if (args.positionals.length > 0) throw new UsageError(`unexpected argument "${args.positionals[0]}"`);
    const given = requireOption(args, 'output');
    const type = stringOption(args, 'type') ?? 'ed25519';
    const force = args.options.force === true;
    if (given === '-') throw new UsageError('-o - (standard output) is not supported: a secret key printed there ends up in logs; name a file, e.g. -o signing');
    if (/[/\\]$/.test(given)) {
      throw new UsageError(`-o ${given} names a directory; give a file name inside it, e.g. -o ${given}signing (writes ${given}signing.pem and ${given}signing.pub.pem for ed25519)`);
    }
    if (type === 'ed25519') {
      // -o signing.pem means the private key file, not signing.pem.pem; a private key named *.pub.pem invites leaking it.
      if (given.endsWith('.pub.pem')) {
        throw new UsageError(`-o ${given}: NAME.pub.pem is the public key's file; give NAME (or NAME.pem) and both NAME.pem and NAME.pub.pem are written`);
      }
      const name = resolve(io.cwd, given.endsWith('.pem') ? given.slice(0, -'.pem'.length) : given);
      const pair = generateEd25519();
      await writeKeyFiles([
        { path: `${name}.pem`, text: pair.privatePem, mode: 0o600 },
        { path: `${name}.pub.pem`, text: pair.publicPem, mode: 0o644 },
      ], force);
      const kid = toHex(ed25519KeyId(rawEd25519PublicKey(createPrivateKey(pair.privatePem))));
      io.out(`Wrote ${name}.pem (private: sign with "ota bundle create --sign-key") and ${name}.pub.pem (public: give it to devices); kid ${kid}\n`);
      return EXIT_OK;
    }
    if (type === 'hmac') {
      const name = resolve(io.cwd, given);
      const key = generateHmacKey();
      await writeKeyFiles([{ path: name, text: formatHmacKey(key), mode: 0o600 }], force);
      io.out(`Wrote ${name} (HMAC-SHA256 key, 32 bytes; keep it secret, one per device); kid ${toHex(hmacKeyId(key))}\n`);
      return EXIT_OK;
    }
    throw new UsageError(`--type must be ed25519 or hmac, got "${type}"`);
  },
};
