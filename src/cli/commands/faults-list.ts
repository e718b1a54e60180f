import { backendOptions, printJson, withAdmin } from '../admin-client.js';
import { UsageError } from '../args.js';
import type { Command } from '../command.js';
import { EXIT_OK } from '../exit-codes.js';
import { describeFault } from './faults-add.js';

/** `ota faults list`: shows the fault rules in force. */
export const faultsListCommand: Command = {
  name: 'faults list',
  summary: 'List the fault rules in force',
  usage: '[--json]',
  options: { ...backendOptions },
  async run(args, io) {
    if (args.positionals.length > 0) throw new UsageError(`unexpected argument "${args.positionals[0]}"`);
    return withAdmin(args, io, 'faults list', async (client) => {
      const rules = await client.faults();
      if (args.options.json) printJson(io, rules);
      else io.out(rules.length === 0 ? 'No fault rules.\n' : rules.map((r) => describeFault(r) + '\n').join(''));
      return EXIT_OK;
    });
  },
};
