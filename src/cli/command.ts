/** Where a command writes and what it can read from its environment; injected so tests run commands in-process. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  env: { [name: string]: string | undefined };
  cwd: string;
  /** True when stdout is a terminal (progress bars redraw in place only then). */
  isTty: boolean;
}

/** The kinds of option a command declares. `multiple` may repeat and collects every value. */
export type OptionKind = 'string' | 'boolean' | 'multiple';

/** One declared option. `env` names the environment variable that supplies it when absent. */
export interface OptionSpec {
  kind: OptionKind;
  description: string;
  env?: string;
  short?: string;
  valueName?: string;
}

/** Parsed command line of one command. */
export interface ParsedArgs {
  positionals: string[];
  options: { [name: string]: string | boolean | string[] | undefined };
}

/** One `ota` command, e.g. name "bundle create". */
export interface Command {
  name: string;
  summary: string;
  /** Usage line after `ota <name>`, e.g. "[--json] FILE". */
  usage: string;
  options: { [name: string]: OptionSpec };
  run(args: ParsedArgs, io: CliIo): Promise<number>;
}
