import { backendOptions, checkName, printJson, withAdmin } from '../admin-client.js';
import { requireOption, UsageError } from '../args.js';
import type { Command } from '../command.js';
import { EXIT_FAILURE, EXIT_OK } from '../exit-codes.js';

/** `ota device move SERIAL --cohort C`: moves a device to another cohort. */
export const deviceMoveCommand: Command = {
  name: 'device move',
  summary: 'Move a device to another cohort',
  usage: 'SERIAL --cohort C',
  options: { ...backendOptions, cohort: { kind: 'string', description: 'target cohort slug', valueName: 'C' } },
  async run(args, io) {
    if (args.positionals.length !== 1) throw new UsageError('give exactly one device SERIAL');
    const serial = checkName('serial', 'SERIAL', args.positionals[0]);
    const cohort = checkName('cohort', '--cohort', requireOption(args, 'cohort'));
    return withAdmin(args, io, 'device move', async (client) => {
      try {
        const device = await client.moveDevice(serial, cohort);
        if (args.options.json) printJson(io, device);
        else io.out(`Device ${serial} moved to cohort ${cohort}\n`);
        return EXIT_OK;
      } catch (error) {
        const code = (error as { code?: string }).code;
        if (code === 'device-not-found') {
          io.err(`ota device move: no device ${serial} — a device appears on its first update check; see \`ota devices\`\n`);
          return EXIT_FAILURE;
        }
        if (code === 'cohort-not-found') {
          io.err(`ota device move: no cohort ${cohort} — create it with \`ota cohorts --create ${cohort}\`\n`);
          return EXIT_FAILURE;
        }
        throw error;
      }
    });
  },
};
