import { statSync, writeFileSync, type Stats } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Command } from '../command.js';
import { EXIT_OK } from '../exit-codes.js';
import { UsageError, stringOption } from '../args.js';
import { cHeader, derToPem, loadBundle } from '../../tools/certs.js';
import { writeProblem } from '../../tools/file-checks.js';
import { makeDirectories } from '../../tools/make-directories.js';

function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

/** `ota certs export`: the bundle as PEM, DER files or a C header of DER arrays for firmware. */
export const certsExportCommand: Command = {
  name: 'certs export',
  summary: 'Export the bundled root certificates as PEM, DER or a C header',
  usage: '--format pem|der|c-header [-o FILE|DIR] [--all] [--name NAME]',
  options: {
    format: { kind: 'string', description: 'pem (concatenated), der (one file per certificate, -o is a directory unless --name), or c-header', valueName: 'FORMAT' },
    output: { kind: 'string', short: 'o', description: 'Output file (directory for der); stdout when absent (pem, c-header)', valueName: 'PATH' },
    all: { kind: 'boolean', description: 'Include the legacy DigiCert Global Root CA' },
    name: { kind: 'string', description: 'Only this certificate, e.g. DigiCert_Global_Root_G2', valueName: 'NAME' },
    dir: { kind: 'string', description: 'Certificate directory with manifest.json (default: the bundled certs/)', valueName: 'DIR', env: 'OTA_CERTS_DIR' },
  },
  async run(args, io) {
    const format = stringOption(args, 'format');
    if (format !== 'pem' && format !== 'der' && format !== 'c-header') throw new UsageError('--format must be pem, der or c-header');
    const name = stringOption(args, 'name');
    let certs = loadBundle(args.options.all || name ? 'all' : 'device', stringOption(args, 'dir'));
    if (name) {
      certs = certs.filter((cert) => cert.entry.name === name);
      if (certs.length === 0) throw new UsageError(`no certificate named "${name}"; see "ota certs list --all"`);
    }
    const output = stringOption(args, 'output');
    const path = output ? resolve(io.cwd, output) : undefined;
    if (format === 'der') {
      if (!path) throw new UsageError('--format der writes binary files: give -o FILE (with --name) or -o DIR');
      if (certs.length === 1 && name) {
        const problem = writeProblem(path, true);
        if (problem !== null) throw new UsageError(`-o: ${problem}`);
        writeFileSync(path, certs[0].der);
        io.err(`wrote ${path}\n`);
      } else {
        const existing = statOrNull(path);
        if (existing !== null && !existing.isDirectory()) throw new UsageError(`-o: ${path} is a file; --format der writes one file per certificate into a directory: name a directory, or pick one certificate with --name`);
        if (existing === null && /\.(der|cer|crt|pem)$/i.test(path)) {
          throw new UsageError(`-o: ${path} looks like a file name, but --format der writes ${certs.length} certificates as files in a directory: ` +
            'name a directory, or pick one certificate with --name NAME (see "ota certs list")');
        }
        const parent = statOrNull(dirname(path));
        if (parent === null || !parent.isDirectory()) throw new UsageError(`-o: the directory ${dirname(path)} does not exist; create it first or write elsewhere`);
        try {
          makeDirectories(path);
        } catch (error) {
          throw new UsageError(`-o: cannot create the directory ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'}); write elsewhere`);
        }
        for (const cert of certs) writeFileSync(join(path, cert.entry.der), cert.der);
        io.err(`wrote ${certs.length} DER files to ${path}\n`);
      }
      return EXIT_OK;
    }
    const text = format === 'pem' ? certs.map((cert) => `# ${cert.entry.commonName} (SHA-256 ${cert.entry.sha256})\n${derToPem(cert.der)}`).join('') : cHeader(certs);
    if (path) {
      const problem = writeProblem(path, true);
      if (problem !== null) throw new UsageError(`-o: ${problem}`);
      writeFileSync(path, text);
      io.err(`wrote ${path}\n`);
    } else {
      io.out(text);
    }
    return EXIT_OK;
  },
};
