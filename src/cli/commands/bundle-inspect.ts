import { open } from 'node:fs/promises';
import { resolve } from 'node:path';
import { UsageError } from '../args.js';
import type { Command } from '../command.js';
import { EXIT_OK } from '../exit-codes.js';
import { PREAMBLE_SIZE, bundleLength, partDataOffset, readPreamble } from '../../bundle/framing.js';
import { inspectHeader } from '../../bundle/header.js';
import { nodeHashes } from '../../node/crypto.js';
import { toHex } from '../../util/bytes.js';
import { otaError } from '../../util/errors.js';
import { readProblem } from '../../tools/file-checks.js';

const KINDS = ['bare (unsigned)', 'COSE_Sign1', 'COSE_Mac0'];

/** Reads `length` bytes at `position` of an open file, or fails naming the file. */
async function readExactly(handle: Awaited<ReturnType<typeof open>>, position: number, length: number, path: string): Promise<Uint8Array> {
  const buffer = new Uint8Array(length);
  const { bytesRead } = await handle.read(buffer, 0, length, position);
  if (bytesRead !== length) throw otaError('bundle-truncated', `${path} ends at byte ${position + bytesRead}, inside the bundle header.`, false);
  return buffer;
}

/** Describes a bundle's header and layout without checking its signature (see "ota bundle verify"). */
export async function describeBundle(path: string): Promise<Record<string, unknown>> {
  const handle = await open(path, 'r');
  try {
    const size = (await handle.stat()).size;
    const preamble = await readExactly(handle, 0, PREAMBLE_SIZE, path);
    const pre = readPreamble(preamble);
    const header = await readExactly(handle, PREAMBLE_SIZE, pre.headerLength, path);
    const { cose, manifest } = inspectHeader(preamble, header);
    const hash = nodeHashes.sha256();
    hash.update(preamble);
    hash.update(header);
    const sizes = manifest.parts.map((p) => p.size);
    return {
      file: path,
      fileLength: size,
      bundleLength: bundleLength(pre.headerLength, sizes),
      kind: KINDS[pre.kind],
      alg: cose.alg,
      keyId: cose.keyId === null ? null : toHex(cose.keyId),
      headerLength: pre.headerLength,
      headerDigest: toHex(hash.digest()),
      formatVersion: manifest.formatVersion,
      sequence: manifest.sequence,
      releaseVersion: manifest.releaseVersion,
      hardwareVersions: manifest.hardwareVersions,
      parts: manifest.parts.map((p, i) => ({
        softwareType: p.softwareType, version: p.version, size: p.size, offset: partDataOffset(pre.headerLength, sizes, i),
        sha256: toHex(p.sha256), crc32: p.crc32.toString(16).padStart(8, '0'), order: p.order,
        requires: p.requires.map((r) => `${r.softwareType}>=${r.minVersion}`),
      })),
    };
  } finally {
    await handle.close();
  }
}

/** What a file whose length differs from its header's says about itself. */
function lengthNote(fileLength: number, bundleLength: number): string {
  if (fileLength === bundleLength) return '';
  return fileLength < bundleLength
    ? ` (but the file is ${fileLength} bytes: truncated; every device refuses it, see "ota bundle verify")`
    : ` (but the file is ${fileLength} bytes: ${fileLength - bundleLength} bytes after the bundle; every device refuses it, see "ota bundle verify")`;
}

/** `ota bundle inspect`: shows a bundle's manifest and layout. */
export const bundleInspectCommand: Command = {
  name: 'bundle inspect',
  summary: 'Show a bundle\'s manifest and byte layout (no signature check)',
  usage: 'FILE [--json]',
  options: { json: { kind: 'boolean', description: 'Print JSON' } },
  async run(args, io) {
    if (args.positionals.length !== 1) throw new UsageError('give exactly one bundle FILE');
    const file = resolve(io.cwd, args.positionals[0]);
    const problem = readProblem(file);
    if (problem !== null) throw new UsageError(`bundle FILE: ${problem}`);
    const info = await describeBundle(file);
    if (args.options.json) {
      io.out(JSON.stringify(info, null, 2) + '\n');
      return EXIT_OK;
    }
    const parts = info.parts as Record<string, unknown>[];
    io.out(`${info.file}: ${info.kind}${info.alg !== null ? ` alg ${info.alg}` : ''}${info.keyId ? ` kid ${info.keyId}` : ''}, ` +
      `${info.bundleLength} bytes${lengthNote(info.fileLength as number, info.bundleLength as number)}\n` +
      `  release ${info.releaseVersion}, sequence ${info.sequence}, hardware ${(info.hardwareVersions as string[]).join(', ')}\n` +
      `  header ${info.headerLength} bytes, digest ${info.headerDigest}\n` +
      parts.map((p) => `  part ${p.softwareType} ${p.version}: ${p.size} bytes at ${p.offset}, order ${p.order}, crc32 ${p.crc32}, ` +
        `sha256 ${p.sha256}${(p.requires as string[]).length > 0 ? `, requires ${(p.requires as string[]).join(', ')}` : ''}\n`).join(''));
    return EXIT_OK;
  },
};
