import { backendOptions, checkName, withAdmin } from '../admin-client.js';
import { requireOption, stringOption } from '../args.js';
import type { Command } from '../command.js';
import { deactivateCohort } from './deploy-release.js';

/** `ota abort-rollout --cohort C`: alias of `ota deploy-release --cohort C --deactivate`. */
export const abortRolloutCommand: Command = {
  name: 'abort-rollout',
  summary: 'Abort the cohort\'s rollout (same as deploy-release --deactivate)',
  usage: '--cohort C [--release-version V]',
  options: {
    ...backendOptions,
    cohort: { kind: 'string', description: 'cohort slug', valueName: 'C' },
    'release-version': { kind: 'string', description: 'only if this release is the one deployed', valueName: 'V' },
  },
  async run(args, io) {
    const cohort = checkName('cohort', '--cohort', requireOption(args, 'cohort'));
    const version = stringOption(args, 'release-version');
    if (version !== undefined) checkName('release-version', '--release-version', version);
    return withAdmin(args, io, 'abort-rollout', (client) => deactivateCohort(client, io, cohort, version, Boolean(args.options.json), 'abort-rollout'));
  },
};
