import { existsSync, statSync } from 'node:fs';
import { basename, isAbsolute, join } from 'node:path';
import { backendOptions, printJson, withAdmin } from '../admin-client.js';
import { listOption, requireOption, stringOption, UsageError } from '../args.js';
import type { Command } from '../command.js';
import { EXIT_OK } from '../exit-codes.js';

/** `ota upload-ota-payload`: uploads a payload as (part of) a release, as memfault-cli's command of the same name. */
export const uploadOtaPayloadCommand: Command = {
  name: 'upload-ota-payload',
  summary: 'Upload an OTA payload for a hardware version and software type as release SOFTWARE_VERSION',
  usage: '--hardware-version HV --software-type ST --software-version V [--notes TEXT] [--extra-metadata k=v]... FILE',
  options: {
    ...backendOptions,
    'hardware-version': { kind: 'string', description: 'hardware version the payload is for', valueName: 'HV' },
    'software-type': { kind: 'string', description: 'software type (e.g. main, wifi)', valueName: 'ST' },
    'software-version': { kind: 'string', description: 'version of the release', valueName: 'V' },
    notes: { kind: 'string', description: 'release notes', valueName: 'TEXT' },
    revision: { kind: 'string', description: 'source revision of the build', valueName: 'REV' },
    'extra-metadata': { kind: 'multiple', description: 'artifact metadata as key=value', valueName: 'K=V' },
    'must-pass-through': { kind: 'boolean', description: 'mark the release must-pass-through (stored and reported; not enforced by the mock)' },
    'delta-from': { kind: 'string', description: 'delta releases are not modelled by the mock (refused)', valueName: 'V' },
    'delta-to': { kind: 'string', description: 'delta releases are not modelled by the mock (refused)', valueName: 'V' },
  },
  async run(args, io) {
    if (args.options['delta-from'] !== undefined || args.options['delta-to'] !== undefined) {
      throw new UsageError('delta releases (--delta-from/--delta-to) are not modelled by the mock backend; upload a full payload with --software-version');
    }
    const hardwareVersion = requireOption(args, 'hardware-version');
    const softwareType = requireOption(args, 'software-type');
    const softwareVersion = requireOption(args, 'software-version');
    if (args.positionals.length !== 1) throw new UsageError('give exactly one payload FILE');
    const file = isAbsolute(args.positionals[0]) ? args.positionals[0] : join(io.cwd, args.positionals[0]);
    if (!existsSync(file) || !statSync(file).isFile()) throw new UsageError(`payload file ${file} does not exist`);
    const extraInfo: { [key: string]: string } = {};
    for (const pair of listOption(args, 'extra-metadata')) {
      const eq = pair.indexOf('=');
      if (eq <= 0) throw new UsageError(`--extra-metadata takes key=value, got "${pair}"`);
      extraInfo[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
    return withAdmin(args, io, 'upload-ota-payload', async (client) => {
      let release;
      try {
        release = await client.uploadOtaPayload(file, {
          hardwareVersion, softwareType, softwareVersion, notes: stringOption(args, 'notes'), revision: stringOption(args, 'revision'),
          extraInfo, filename: basename(file), mustPassThrough: Boolean(args.options['must-pass-through']),
        });
      } catch (error) {
        if ((error as { code?: string }).code !== 'artifact-exists-identical') throw error;
        // Like memfault-cli, an identical re-upload is not an error (CI reruns).
        if (args.options.json) printJson(io, { uploaded: false, alreadyUploaded: true, softwareVersion });
        else io.out(`INFO: ${basename(file)}: already uploaded as release ${softwareVersion} (${softwareType}, hardware ${hardwareVersion})\n`);
        return EXIT_OK;
      }
      const artifact = (release.artifacts as any[]).find((a) => a.hardware_version === hardwareVersion && a.software_type === softwareType);
      if (args.options.json) printJson(io, { uploaded: true, release, artifact });
      else io.out(`INFO: ${basename(file)}: uploaded! Release ${release.version} (${softwareType}, hardware ${hardwareVersion}), ${artifact.file_size} bytes, sha256 ${artifact.sha256}\n`);
      return EXIT_OK;
    });
  },
};
