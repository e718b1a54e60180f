import { createReadStream, statSync } from 'node:fs';
import { verifyBundle } from '../../tools/bundle.js';
import { isOtaError } from '../../util/errors.js';
import { looksLikeSecretKeyFile } from '../../tools/keys.js';
import { open } from 'node:fs/promises';
import { describeBundle } from './bundle-inspect.js';
import { readProblem } from '../../tools/file-checks.js';
import { basename, isAbsolute, join } from 'node:path';
import { backendOptions, printJson, withAdmin } from '../admin-client.js';
import { listOption, requireOption, stringOption, UsageError } from '../args.js';
import type { CliIo, Command } from '../command.js';
import { EXIT_OK } from '../exit-codes.js';

/**
 * When FILE is an OTA bundle (starts with "OTAB"; a raw image has no header to check), its signed manifest must agree
 * with the flags: the release version is --software-version and --hardware-version is among its hardware versions,
 * or every device would be offered a release that is not what the server says (usage error). A --software-type that
 * names none of its parts only gets a note: a device whose main software type is another may still take the parts.
 */
async function checkBundleAgainstFlags(file: string, hardwareVersion: string, softwareType: string, softwareVersion: string, io: CliIo): Promise<void> {
  const start = Buffer.alloc(4);
  const handle = await open(file, 'r');
  try {
    await handle.read(start, 0, 4, 0);
  } finally {
    await handle.close();
  }
  if (start.toString('latin1') !== 'OTAB') return;
  let info: Record<string, unknown>;
  try {
    info = await describeBundle(file);
  } catch (error) {
    throw new UsageError(`payload FILE ${file} starts like an OTA bundle but its header cannot be read (${(error as Error).message}); check it with \`ota bundle verify\``);
  }
  // A bundle whose length is not the one its header gives is refused by every device (truncated: retried for ever as
  // bundle-truncated; extra bytes: trailing-bytes): do not publish it.
  if (info.fileLength !== info.bundleLength) {
    const fileLength = info.fileLength as number;
    const bundleLength = info.bundleLength as number;
    throw new UsageError(`payload FILE ${file} is ${fileLength} bytes but its header describes a bundle of ${bundleLength} bytes ` +
      `(${fileLength < bundleLength ? 'truncated' : `${fileLength - bundleLength} bytes after its last part`}); every device would refuse it: ` +
      'make it again with `ota bundle create` and check it with `ota bundle verify`');
  }
  // Every part's framing, CRC-32 and SHA-256 as a device checks them (the signature needs the device's key: verify).
  try {
    await verifyBundle(createReadStream(file, { highWaterMark: 1024 * 1024 }), []);
  } catch (error) {
    throw new UsageError(`payload FILE ${file} is a damaged OTA bundle that every device would refuse (${(error as Error).message}` +
      `${isOtaError(error) ? ` [${error.code}]` : ''}); make it again with \`ota bundle create\` and check it with \`ota bundle verify\``);
  }
  const release = info.releaseVersion as string;
  const hardware = info.hardwareVersions as string[];
  const types = (info.parts as { softwareType: string }[]).map((p) => p.softwareType);
  const problems: string[] = [];
  if (release !== softwareVersion) problems.push(`--software-version ${softwareVersion} but the bundle is release ${release}`);
  if (!hardware.includes(hardwareVersion)) problems.push(`--hardware-version ${hardwareVersion} but the bundle is for ${hardware.join(', ')}`);
  if (problems.length > 0) {
    throw new UsageError(`payload FILE ${file} is an OTA bundle whose signed manifest disagrees with the flags: ${problems.join('; ')}; ` +
      'the backend would offer it under a release and hardware version it does not install (a device of another hardware version refuses it); pass the bundle\'s values, or rebuild it with `ota bundle create`');
  }
  if (!types.includes(softwareType)) {
    io.err(`note: the bundle carries ${types.join(', ')}; --software-type ${softwareType} is none of them (fine only if devices of that software type take these parts)\n`);
  }
}

/** A private key or HMAC key given as the payload (a tab-completion slip) would be served to every device: refused. */
async function refuseSecretKey(file: string): Promise<void> {
  const handle = await open(file, 'r');
  try {
    const head = new Uint8Array(4096);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    if (looksLikeSecretKeyFile(head.subarray(0, bytesRead), (await handle.stat()).size)) {
      throw new UsageError(`payload FILE ${file} is a secret key (a private key PEM or an HMAC key), not firmware; uploading it would ` +
        'publish it to every device: name the firmware image or bundle');
    }
  } finally {
    await handle.close();
  }
}

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
    const problem = readProblem(file);
    if (problem !== null) throw new UsageError(`payload FILE: ${problem}`);
    if (statSync(file).size === 0) throw new UsageError(`payload FILE: ${file} is empty (0 bytes); a payload holds at least one byte: check the build output`);
    await refuseSecretKey(file);
    await checkBundleAgainstFlags(file, hardwareVersion, softwareType, softwareVersion, io);
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
