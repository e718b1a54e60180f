import { backendOptions, printJson, table, withAdmin } from '../admin-client.js';
import { UsageError } from '../args.js';
import type { Command } from '../command.js';
import { EXIT_OK } from '../exit-codes.js';

/** `ota releases`: lists releases and their payloads. */
export const releasesCommand: Command = {
  name: 'releases',
  summary: 'List releases with their payloads (hardware version, software type, size)',
  usage: '[--json]',
  options: { ...backendOptions },
  async run(args, io) {
    if (args.positionals.length > 0) throw new UsageError(`unexpected argument "${args.positionals[0]}"`);
    return withAdmin(args, io, 'releases', async (client) => {
      const releases = await client.releases();
      if (args.options.json) printJson(io, releases);
      else if (releases.length === 0) io.out('No releases yet: upload one with `ota upload-ota-payload`.\n');
      else io.out(table([['VERSION', 'HARDWARE', 'TYPE', 'BYTES', 'SHA-256', 'CREATED'],
        ...releases.flatMap((r) => (r.artifacts as any[]).map((a) => [r.version, a.hardware_version, a.software_type, String(a.file_size), a.sha256.slice(0, 16), r.created_date]))]));
      return EXIT_OK;
    });
  },
};
