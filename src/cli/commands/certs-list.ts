import type { Command } from '../command.js';
import { EXIT_OK } from '../exit-codes.js';
import { stringOption } from '../args.js';
import { describeCert, loadBundle } from '../../tools/certs.js';

/** `ota certs list`: the bundled root certificates with fingerprint, expiry and key type. */
export const certsListCommand: Command = {
  name: 'certs list',
  summary: 'List the bundled root certificates (subject, SHA-256, expiry, key type)',
  usage: '[--all] [--json] [--dir DIR]',
  options: {
    all: { kind: 'boolean', description: 'Include the legacy DigiCert Global Root CA (not trusted by the device)' },
    json: { kind: 'boolean', description: 'Print JSON instead of a table' },
    dir: { kind: 'string', description: 'Certificate directory with manifest.json (default: the bundled certs/)', valueName: 'DIR', env: 'OTA_CERTS_DIR' },
  },
  async run(args, io) {
    const certs = loadBundle(args.options.all ? 'all' : 'device', stringOption(args, 'dir'));
    const rows = certs.map((cert) => ({ ...describeCert(cert.der, cert.entry.name), role: cert.entry.role }));
    if (args.options.json) {
      io.out(JSON.stringify(rows, null, 2) + '\n');
      return EXIT_OK;
    }
    for (const row of rows) {
      io.out(`${row.commonName}${row.role === 'legacy' ? ' (legacy, not in the device bundle)' : ''}\n`);
      io.out(`  subject  ${row.subject}\n  sha256   ${row.sha256}\n  expires  ${row.notAfter} (${row.daysLeft} days)\n  key      ${row.keyType}${row.isCa ? ', CA' : ''}\n`);
      if (row.daysLeft < 730) io.out(`  WARNING  expires in less than two years: plan the replacement root now\n`);
    }
    return EXIT_OK;
  },
};
