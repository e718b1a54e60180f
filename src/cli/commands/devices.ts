import { backendOptions, printJson, table, withAdmin } from '../admin-client.js';
import { UsageError } from '../args.js';
import type { Command } from '../command.js';
import { EXIT_OK } from '../exit-codes.js';

/** `ota devices`: lists the devices the backend knows. */
export const devicesCommand: Command = {
  name: 'devices',
  summary: 'List devices with their cohort, hardware version and last reported version',
  usage: '[--json]',
  options: { ...backendOptions },
  async run(args, io) {
    if (args.positionals.length > 0) throw new UsageError(`unexpected argument "${args.positionals[0]}"`);
    return withAdmin(args, io, 'devices', async (client) => {
      const devices = await client.devices();
      if (args.options.json) printJson(io, devices);
      else if (devices.length === 0) io.out('No devices yet: a device appears on its first update check.\n');
      else io.out(table([['SERIAL', 'HARDWARE', 'COHORT', 'VERSION', 'LAST SEEN'],
        ...devices.map((d) => [d.device_serial, d.hardware_version, d.cohort.slug, d.software_version ?? '-', d.last_seen ?? '-'])]));
      return EXIT_OK;
    });
  },
};
