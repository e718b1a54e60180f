import type { Command } from './command.js';

/** The help text of one command. */
export function commandHelp(command: Command): string {
  const lines = [`ota ${command.name} ${command.usage}`.trimEnd(), '', command.summary, ''];
  const names = Object.keys(command.options).sort();
  if (names.length > 0) lines.push('Options:');
  for (const name of names) {
    const spec = command.options[name];
    const flag = `${spec.short ? `-${spec.short}, ` : ''}--${name}${spec.kind === 'boolean' ? '' : ` ${spec.valueName ?? 'VALUE'}`}`;
    lines.push(`  ${flag.padEnd(34)} ${spec.description}${spec.kind === 'multiple' ? ' (repeatable)' : ''}${spec.env ? ` [env ${spec.env}]` : ''}`);
  }
  return lines.join('\n') + '\n';
}

/** The overview printed by `ota` and `ota --help`. */
export function overviewHelp(commands: Command[]): string {
  const width = Math.max(...commands.map((c) => c.name.length)) + 2;
  const lines = ['ota: over-the-air update tooling (mock backend, release management, bundles, device simulator)', '', 'Usage: ota <command> [options]', '', 'Commands:'];
  for (const command of [...commands].sort((a, b) => a.name.localeCompare(b.name))) lines.push(`  ${command.name.padEnd(width)}${command.summary}`);
  lines.push('', 'Run "ota <command> --help" for the options of a command.');
  return lines.join('\n') + '\n';
}
