import { afterAll, beforeAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/command.js';
import { parseArgs } from '../../src/cli/args.js';
import { serveBackend, serveCommand } from '../../src/cli/commands/serve.js';
import type { Backend } from '../../src/backend/index.js';

/** One in-process run of the `ota` command line: its exit code and what it printed. */
export interface Run { code: number; out: string; err: string }

/** Runs `ota` in-process in `cwd`, with the environment `env()` gives at each call. */
export function runner(cwd: string, env: () => { [name: string]: string | undefined } = () => ({})): (...argv: string[]) => Promise<Run> {
  return async (...argv) => {
    let out = '';
    let err = '';
    const io: CliIo = { out: (t) => { out += t; }, err: (t) => { err += t; }, env: env(), cwd, isTty: false };
    const code = await main(argv, io);
    return { code, out, err };
  };
}

/** A served backend and a runner pointed at it; `backend` is set once beforeAll ran. */
export interface ServedCli { dir: string; dataDir: string; ota: (...argv: string[]) => Promise<Run>; backend: Backend }

/**
 * An `ota serve --http` (plus `flags`) on a fresh data directory for the enclosing describe block (started before its
 * tests, stopped and removed after them), with a runner whose OTA_DATA points at it.
 */
export function servedCli(prefix: string, flags: string[] = []): ServedCli {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const dataDir = join(dir, 'data');
  const served: ServedCli = { dir, dataDir, ota: runner(dir, () => ({ OTA_DATA: dataDir })), backend: null as unknown as Backend };
  const quiet: CliIo = { out: () => {}, err: () => {}, env: {}, cwd: dir, isTty: false };
  beforeAll(async () => {
    served.backend = await serveBackend(parseArgs(serveCommand, ['--port', '0', '--http', '--data', dataDir, ...flags], {}), quiet);
  });
  afterAll(async () => {
    await served.backend?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return served;
}
