import { backendOptions, checkName, printJson, table, withAdmin } from '../admin-client.js';
import { stringOption, UsageError } from '../args.js';
import type { Command } from '../command.js';
import { EXIT_OK } from '../exit-codes.js';

/** `ota cohorts`: lists cohorts and their deployments; `--create NAME` adds one. */
export const cohortsCommand: Command = {
  name: 'cohorts',
  summary: 'List cohorts with their device count and deployment (or create one with --create)',
  usage: '[--create NAME] [--json]',
  options: { ...backendOptions, create: { kind: 'string', description: 'create a cohort with this name (lower-case slug)', valueName: 'NAME' } },
  async run(args, io) {
    if (args.positionals.length > 0) throw new UsageError(`unexpected argument "${args.positionals[0]}"`);
    const create = stringOption(args, 'create');
    if (create !== undefined) checkName('cohort', '--create', create);
    return withAdmin(args, io, 'cohorts', async (client) => {
      if (create !== undefined) {
        const cohort = await client.createCohort(create);
        if (args.options.json) printJson(io, cohort);
        else io.out(`Cohort ${cohort.slug} created\n`);
        return EXIT_OK;
      }
      const cohorts = await client.cohorts();
      if (args.options.json) printJson(io, cohorts);
      else io.out(table([['COHORT', 'DEVICES', 'RELEASE', 'ROLLOUT', 'STATUS'],
        ...cohorts.map((c) => [c.slug, String(c.device_count), c.deployment ? c.deployment.release.version : '-',
          c.deployment ? `${c.deployment.rollout_percent}%` : '-', c.deployment ? c.deployment.status : 'none'])]));
      return EXIT_OK;
    });
  },
};
