import { backendOptions, printJson, withAdmin } from '../admin-client.js';
import { intOption, requireOption, stringOption, UsageError } from '../args.js';
import type { Command } from '../command.js';
import { EXIT_OK } from '../exit-codes.js';
import { parseFaultSpec } from '../../backend/faults.js';
import { isOtaError } from '../../util/errors.js';

// Numeric flags with the backend's ranges (src/backend/faults.ts), so the CLI names the same range it enforces.
const INT_FLAGS: [string, string, number, number][] = [
  ['after-bytes', 'afterBytes', 0, 2 ** 40], ['ms', 'ms', 0, 3_600_000], ['bytes-per-second', 'bytesPerSecond', 1, 2 ** 40],
  ['status', 'status', 200, 599], ['offset', 'offset', 0, 2 ** 40],
];
const TEXT_FLAGS: [string, string][] = [['retry-after', 'retryAfter'], ['reason', 'reason'], ['location', 'location'], ['etag', 'etag']];

/** The backend's fault message in the CLI's words: field names become flags. */
function flagWords(message: string): string {
  let text = message.replace(/^a "([a-z-]+)" fault needs/, '--kind $1 needs').replace(/^fault (kind|route|serial) /, '--$1 ');
  for (const [flag, key] of [...INT_FLAGS, ...TEXT_FLAGS, ['times', 'times']]) text = text.split(`"${key}"`).join(`--${flag}`);
  return text.replace(/^fault (field )?/, '');
}

/** One line describing a fault rule, for humans. */
export function describeFault(f: any): string {
  const what: { [kind: string]: string } = {
    drop: `drop the connection after ${f.afterBytes ?? 0} bytes`,
    stall: `stall ${f.ms} ms${f.afterBytes !== undefined ? ` after ${f.afterBytes} bytes` : ''}`,
    throttle: `throttle to ${f.bytesPerSecond} B/s`,
    status: `answer ${f.status}${f.retryAfter !== undefined ? ` (Retry-After ${f.retryAfter})` : ''}${f.reason ? ` (memfault-reason ${f.reason})` : ''}`,
    'ignore-range': 'ignore Range',
    corrupt: `corrupt the byte at offset ${f.offset}`,
    truncate: `truncate the body${f.afterBytes !== undefined ? ` after ${f.afterBytes} bytes` : ' at half'}`,
    etag: `report ETag ${f.etag ?? '(a new one)'}`,
  };
  const times = f.remaining === 'always' ? 'always' : `${f.remaining} more time${f.remaining === 1 ? '' : 's'}`;
  return `#${f.id} ${what[f.kind] ?? f.kind} on ${f.route}${f.serial ? ` for ${f.serial}` : ''}, ${times} (fired ${f.fired})`;
}

/** `ota faults add`: adds a fault rule to a running backend. */
export const faultsAddCommand: Command = {
  name: 'faults add',
  summary: 'Inject a fault: drop, stall, throttle, status, ignore-range, corrupt, truncate or etag',
  usage: '--kind K [--route R] [--serial SN] [--times N|always] [--after-bytes N] [--ms T] [--bytes-per-second B] [--status S] [--retry-after S] [--reason R] [--location URL] [--offset O] [--etag E]',
  options: {
    ...backendOptions,
    kind: { kind: 'string', description: 'drop | stall | throttle | status | ignore-range | corrupt | truncate | etag', valueName: 'K' },
    route: { kind: 'string', description: 'latest-url | latest | device-api | cdn | admin | any (default any)', valueName: 'R' },
    serial: { kind: 'string', description: 'only requests of this device (CDN links map back to their device)', valueName: 'SN' },
    times: { kind: 'string', description: 'how often it fires: a count or "always" (default 1)', valueName: 'N' },
    'after-bytes': { kind: 'string', description: 'body bytes before drop/truncate/stall', valueName: 'N' },
    ms: { kind: 'string', description: 'stall duration, milliseconds', valueName: 'T' },
    'bytes-per-second': { kind: 'string', description: 'throttle rate', valueName: 'B' },
    status: { kind: 'string', description: 'status to answer (e.g. 503, 429, 204)', valueName: 'S' },
    'retry-after': { kind: 'string', description: 'Retry-After value sent with the status', valueName: 'S' },
    reason: { kind: 'string', description: 'memfault-reason header sent with the status', valueName: 'R' },
    location: { kind: 'string', description: 'Location header sent with a 3xx status', valueName: 'URL' },
    offset: { kind: 'string', description: 'payload offset of the byte to corrupt', valueName: 'O' },
    etag: { kind: 'string', description: 'ETag to report instead of the real one', valueName: 'E' },
  },
  async run(args, io) {
    if (args.positionals.length > 0) throw new UsageError(`unexpected argument "${args.positionals[0]}"`);
    const spec: { [key: string]: unknown } = { kind: requireOption(args, 'kind'), route: stringOption(args, 'route') ?? 'any' };
    const serial = stringOption(args, 'serial');
    if (serial !== undefined) spec.serial = serial;
    const times = stringOption(args, 'times');
    if (times !== undefined) spec.times = times === 'always' ? 'always' : intOption(args, 'times', 1, 1_000_000);
    for (const [flag, key, min, max] of INT_FLAGS) {
      const value = intOption(args, flag, min, max);
      if (value !== undefined) spec[key] = value;
    }
    for (const [flag, key] of TEXT_FLAGS) {
      const value = stringOption(args, flag);
      if (value !== undefined) spec[key] = value;
    }
    // The backend's own check, run here first: every invalid fault is a usage error (exit 2) and nothing is sent.
    try {
      parseFaultSpec(spec);
    } catch (error) {
      if (!isOtaError(error)) throw error;
      throw new UsageError(flagWords(error.message));
    }
    return withAdmin(args, io, 'faults add', async (client) => {
      const rule = await client.addFault(spec);
      if (args.options.json) printJson(io, rule);
      else io.out(`Fault ${describeFault(rule)}\n`);
      return EXIT_OK;
    });
  },
};
