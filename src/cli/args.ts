import type { Command, ParsedArgs } from './command.js';

/** A command-line mistake, reported with the usage line and exit code 2. */
export class UsageError {
  constructor(readonly message: string) {}
}

/** Parses argv (after the command name) against the command's declared options and environment fallbacks. */
export function parseArgs(command: Command, argv: string[], env: { [name: string]: string | undefined }): ParsedArgs {
  const options: ParsedArgs['options'] = {};
  const positionals: string[] = [];
  const byShort: { [short: string]: string } = {};
  for (const [name, spec] of Object.entries(command.options)) if (spec.short) byShort[spec.short] = name;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positionals.push(arg);
      continue;
    }
    let name: string;
    let inline: string | undefined;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
      inline = eq >= 0 ? arg.slice(eq + 1) : undefined;
    } else {
      const short = arg.slice(1);
      if (!byShort[short]) throw new UsageError(`unknown option ${arg} for "ota ${command.name}"`);
      name = byShort[short];
    }
    const spec = command.options[name];
    if (!spec) throw new UsageError(`unknown option --${name} for "ota ${command.name}"; see "ota ${command.name} --help"`);
    if (spec.kind === 'boolean') {
      if (inline !== undefined) throw new UsageError(`--${name} takes no value`);
      options[name] = true;
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined) throw new UsageError(`--${name} needs a value (${spec.valueName ?? 'VALUE'})`);
    if (spec.kind === 'multiple') options[name] = [...((options[name] as string[] | undefined) ?? []), value];
    else options[name] = value;
  }
  for (const [name, spec] of Object.entries(command.options)) {
    if (options[name] === undefined && spec.env && env[spec.env] !== undefined) {
      const value = env[spec.env] as string;
      options[name] = spec.kind === 'boolean' ? value !== '' && value !== '0' && value !== 'false' : spec.kind === 'multiple' ? [value] : value;
    }
  }
  return { positionals, options };
}

/** The string value of an option, or a UsageError naming it when it is required and missing. */
export function requireOption(args: ParsedArgs, name: string): string {
  const value = args.options[name];
  if (typeof value !== 'string' || value === '') throw new UsageError(`--${name} is required`);
  return value;
}

/** The string value of an option, or undefined. */
export function stringOption(args: ParsedArgs, name: string): string | undefined {
  const value = args.options[name];
  return typeof value === 'string' ? value : undefined;
}

/** The repeated values of a `multiple` option (empty when absent). */
export function listOption(args: ParsedArgs, name: string): string[] {
  const value = args.options[name];
  return Array.isArray(value) ? value : [];
}

/** The value of a numeric option, checked to be an integer within [min, max]. */
export function intOption(args: ParsedArgs, name: string, min: number, max: number): number | undefined {
  const raw = stringOption(args, name);
  if (raw === undefined) return undefined;
  // Decimal digits only: Number() would also take 0x10, 1e2 and "" (as 16, 100 and 0).
  const value = /^-?[0-9]+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(value) || value < min || value > max) throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  return value;
}
