import { pathToFileURL } from 'node:url';
import { UsageError, parseArgs } from './args.js';
import type { CliIo, Command } from './command.js';
import { commands } from './commands/index.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_UNAVAILABLE, EXIT_USAGE } from './exit-codes.js';
import { isUnreachable } from './unreachable.js';
import { commandHelp, overviewHelp } from './help.js';
import { requestStopForClosedOutput } from './stop-request.js';
import { isOtaError } from '../util/errors.js';

/** A stream `processIo` writes to: process.stdout/stderr, or a stand-in in tests. */
export interface OutputStream {
  write(text: string): unknown;
  on(event: 'error', listener: (error: NodeJS.ErrnoException) => void): unknown;
  isTTY?: boolean;
}

/**
 * Writes to `stream` until its reader goes away: EPIPE (`ota … | head -3`) is the end of the output, not a crash.
 * Later text is dropped; `closed` runs once, at the first EPIPE.
 */
export function pipeOutput(stream: OutputStream, closed: () => void): (text: string) => void {
  let open = true;
  stream.on('error', (error) => {
    if (error.code !== 'EPIPE' && error.code !== 'ERR_STREAM_DESTROYED') throw error;
    if (!open) return;
    open = false;
    closed();
  });
  return (text) => { if (open) stream.write(text); };
}

/** The process's own stdio and environment (streams injectable for tests). */
export function processIo(stdout: OutputStream = process.stdout, stderr: OutputStream = process.stderr): CliIo {
  return {
    // Nobody reads any more: a running command (`device run`) stops as it would on SIGTERM; others finish quietly.
    out: pipeOutput(stdout, () => { requestStopForClosedOutput(); }),
    err: pipeOutput(stderr, () => undefined),
    env: process.env,
    cwd: process.cwd(),
    isTty: Boolean(stdout.isTTY),
  };
}

function findCommand(argv: string[]): { command: Command; rest: string[] } | null {
  let best: { command: Command; rest: string[] } | null = null;
  for (const command of commands) {
    const words = command.name.split(' ');
    if (words.every((word, i) => argv[i] === word) && (!best || words.length > best.command.name.split(' ').length)) {
      best = { command, rest: argv.slice(words.length) };
    }
  }
  return best;
}

/** How many of `tokens` are options of `command` with their values: all of them when they are a valid prefix. */
function optionTokens(command: Command, tokens: string[]): number {
  let i = 0;
  while (i < tokens.length) {
    const token = tokens[i];
    const long = /^--([^=]+)(=.*)?$/.exec(token);
    const name = long !== null ? long[1] : /^-[^-]$/.test(token)
      ? Object.keys(command.options).find((key) => command.options[key].short === token.slice(1)) : undefined;
    const spec = name !== undefined ? command.options[name] : undefined;
    if (spec === undefined) return i;
    i += spec.kind === 'boolean' || (long !== null && long[2] !== undefined) ? 1 : 2;
  }
  return i;
}

/**
 * The command with options written before its name, as memfault-cli takes its global ones (`ota --data DIR releases`):
 * the first command name whose options account for every token before it.
 */
function findCommandAfterOptions(argv: string[]): { command: Command; rest: string[] } | null {
  for (let at = 1; at < argv.length; at++) {
    const found = findCommand(argv.slice(at));
    if (found !== null && optionTokens(found.command, argv.slice(0, at)) === at) {
      return { command: found.command, rest: [...argv.slice(0, at), ...found.rest] };
    }
  }
  return null;
}

/** Runs `ota` with `argv` (without the program name) and returns the exit code. */
export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    io.out(overviewHelp(commands));
    return argv.length === 0 ? EXIT_USAGE : EXIT_OK;
  }
  const found = findCommand(argv) ?? (argv[0].startsWith('-') ? findCommandAfterOptions(argv) : null);
  if (!found) {
    const prefix = commands.filter((c) => c.name.startsWith(argv[0] + ' '));
    io.err(prefix.length > 0
      ? `ota ${argv[0]}: needs a subcommand: ${prefix.map((c) => c.name.split(' ').slice(1).join(' ')).join(', ')}\n`
      : `ota: unknown command "${argv[0]}"; run "ota --help" for the list.\n`);
    return EXIT_USAGE;
  }
  if (found.rest.includes('--help') || found.rest.includes('-h')) {
    io.out(commandHelp(found.command));
    return EXIT_OK;
  }
  try {
    const args = parseArgs(found.command, found.rest, io.env);
    return await found.command.run(args, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`ota ${found.command.name}: ${error.message}\nUsage: ota ${found.command.name} ${found.command.usage}\n`);
      return EXIT_USAGE;
    }
    if (isOtaError(error)) {
      io.err(`ota ${found.command.name}: ${error.message} [${error.code}]\n`);
      return isUnreachable(error) ? EXIT_UNAVAILABLE : EXIT_FAILURE;
    }
    io.err(`ota ${found.command.name}: ${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT_FAILURE;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
}
