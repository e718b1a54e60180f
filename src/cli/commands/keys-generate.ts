import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { UsageError, requireOption, stringOption } from '../args.js';
import type { Command } from '../command.js';
import { EXIT_OK } from '../exit-codes.js';
import { ed25519KeyId, rawEd25519PublicKey } from '../../node/crypto.js';
import { formatHmacKey, generateEd25519, generateHmacKey, hmacKeyId } from '../../tools/keys.js';
import { createPrivateKey } from 'node:crypto';
import { toHex } from '../../util/bytes.js';

/** Writes a secret file that must not already exist (flag "wx"), readable by the owner only. */
async function writeNew(path: string, text: string, mode: number, force: boolean): Promise<void> {
  try {
    await writeFile(path, text, { flag: force ? 'w' : 'wx', mode });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new UsageError(`${path} exists; pass --force to overwrite it`);
    throw error;
  }
}

/** `ota keys generate`: makes an Ed25519 signing pair or an HMAC key for bundles. */
export const keysGenerateCommand: Command = {
  name: 'keys generate',
  summary: 'Make a bundle signing key: an Ed25519 PEM pair, or an HMAC-SHA256 key',
  usage: '-o NAME [--type ed25519|hmac] [--force]',
  options: {
    output: { kind: 'string', short: 'o', valueName: 'NAME', description: 'ed25519: writes NAME.pem and NAME.pub.pem; hmac: writes NAME' },
    type: { kind: 'string', valueName: 'ed25519|hmac', description: 'Key type (default ed25519)' },
    force: { kind: 'boolean', description: 'Overwrite existing files' },
  },
  async run(args, io) {
    if (args.positionals.length > 0) throw new UsageError(`unexpected argument "${args.positionals[0]}"`);
    const name = resolve(io.cwd, requireOption(args, 'output'));
    const type = stringOption(args, 'type') ?? 'ed25519';
    const force = args.options.force === true;
    if (type === 'ed25519') {
      const pair = generateEd25519();
      await writeNew(`${name}.pem`, pair.privatePem, 0o600, force);
      await writeNew(`${name}.pub.pem`, pair.publicPem, 0o644, force);
      const kid = toHex(ed25519KeyId(rawEd25519PublicKey(createPrivateKey(pair.privatePem))));
      io.out(`Wrote ${name}.pem (private: sign with "ota bundle create --sign-key") and ${name}.pub.pem (public: give it to devices); kid ${kid}\n`);
      return EXIT_OK;
    }
    if (type === 'hmac') {
      const key = generateHmacKey();
      await writeNew(name, formatHmacKey(key), 0o600, force);
      io.out(`Wrote ${name} (HMAC-SHA256 key, 32 bytes; keep it secret, one per device); kid ${toHex(hmacKeyId(key))}\n`);
      return EXIT_OK;
    }
    throw new UsageError(`--type must be ed25519 or hmac, got "${type}"`);
  },
};
