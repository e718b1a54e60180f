import { backendOptions, checkName, printJson, withAdmin, type AdminClient } from '../admin-client.js';
import { intOption, requireOption, stringOption, UsageError } from '../args.js';
import type { CliIo, Command } from '../command.js';
import { EXIT_FAILURE, EXIT_OK } from '../exit-codes.js';

/** Deactivates the active deployment of a cohort (memfault-cli's lookup: exactly one in_progress/done, then DELETE). */
export async function deactivateCohort(client: AdminClient, io: CliIo, cohort: string, release: string | undefined, json: boolean, name: string): Promise<number> {
  const found = (await client.deployments(cohort, release)).filter((d) => d.status === 'in_progress' || d.status === 'done');
  // Only the newest deployment of a cohort is live; older "done" ones are history.
  const live = found.length > 0 ? [found[found.length - 1]] : [];
  const cohorts = await client.cohorts();
  const target = cohorts.find((c) => c.slug === cohort);
  if (!target) {
    io.err(`ota ${name}: no cohort "${cohort}" — list them with \`ota cohorts\`\n`);
    return EXIT_FAILURE;
  }
  if (live.length === 0 || !target.deployment || target.deployment.id !== live[0].id) {
    io.err(`ota ${name}: cohort ${cohort} has no active deployment${release ? ` of release ${release}` : ''} to deactivate — see \`ota cohorts\`\n`);
    return EXIT_FAILURE;
  }
  const pulled = await client.deactivate(live[0].id);
  if (json) printJson(io, pulled);
  else io.out(`Deployment of release ${pulled.release.version} to cohort ${cohort} deactivated: devices in it are offered nothing\n`);
  return EXIT_OK;
}

/** `ota deploy-release`: deploys a release to a cohort (staged below 100 percent), or deactivates with --deactivate. */
export const deployReleaseCommand: Command = {
  name: 'deploy-release',
  summary: 'Deploy a release to a cohort (staged rollout below 100%), or deactivate the cohort\'s deployment',
  usage: '--release-version V --cohort C [--rollout-percent P] [--allow-downgrade] | --cohort C --deactivate',
  options: {
    ...backendOptions,
    'release-version': { kind: 'string', description: 'version of the release to deploy', valueName: 'V' },
    cohort: { kind: 'string', description: 'cohort slug', valueName: 'C' },
    'rollout-percent': { kind: 'string', description: 'percentage of the cohort to offer it to (1-100, default 100)', valueName: 'P' },
    'allow-downgrade': { kind: 'boolean', description: 'offer it to devices running a newer version too' },
    deactivate: { kind: 'boolean', description: 'deactivate (abort) the cohort\'s active deployment instead' },
  },
  async run(args, io) {
    const cohort = checkName('cohort', '--cohort', requireOption(args, 'cohort'));
    const version = stringOption(args, 'release-version');
    if (version !== undefined) checkName('release-version', '--release-version', version);
    const json = Boolean(args.options.json);
    if (args.options.deactivate) {
      if (args.options['rollout-percent'] !== undefined || args.options['allow-downgrade']) throw new UsageError('--deactivate takes only --cohort (and optionally --release-version)');
      return withAdmin(args, io, 'deploy-release', (client) => deactivateCohort(client, io, cohort, version, json, 'deploy-release'));
    }
    if (!version) throw new UsageError('--release-version is required (or --deactivate)');
    const percent = intOption(args, 'rollout-percent', 1, 100) ?? 100;
    return withAdmin(args, io, 'deploy-release', async (client) => {
      try {
        const deployment = await client.deploy(version, cohort, percent, Boolean(args.options['allow-downgrade']));
        if (json) printJson(io, deployment);
        else io.out(`Release ${version} successfully deployed to Cohort ${cohort}${percent < 100 ? ` (staged rollout to ${percent}%)` : ''}\n`);
        return EXIT_OK;
      } catch (error) {
        const code = (error as { code?: string }).code;
        if (code === 'release-not-found') {
          io.err(`ota deploy-release: no release ${version} — upload it first with \`ota upload-ota-payload --hardware-version HV --software-type ST --software-version ${version} FILE\`\n`);
          return EXIT_FAILURE;
        }
        if (code === 'cohort-not-found') {
          io.err(`ota deploy-release: no cohort ${cohort} — create it with \`ota cohorts --create ${cohort}\`\n`);
          return EXIT_FAILURE;
        }
        throw error;
      }
    });
  },
};
