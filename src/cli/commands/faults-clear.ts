import { backendOptions, printJson, withAdmin } from '../admin-client.js';
import { intOption, UsageError } from '../args.js';
import type { Command } from '../command.js';
import { EXIT_OK } from '../exit-codes.js';

/** `ota faults clear [--id N]`: removes one fault rule or all of them. */
export const faultsClearCommand: Command = {
  name: 'faults clear',
  summary: 'Remove every fault rule (or one with --id)',
  usage: '[--id N]',
  options: { ...backendOptions, id: { kind: 'string', description: 'remove only this rule', valueName: 'N' } },
  async run(args, io) {
    if (args.positionals.length > 0) throw new UsageError(`unexpected argument "${args.positionals[0]}"`);
    const id = intOption(args, 'id', 1, 1_000_000_000);
    return withAdmin(args, io, 'faults clear', async (client) => {
      const result = await client.clearFaults(id);
      if (args.options.json) printJson(io, result);
      else io.out(`Removed ${result.removed} fault rule${result.removed === 1 ? '' : 's'}\n`);
      return EXIT_OK;
    });
  },
};
