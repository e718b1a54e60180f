import type { ParsedArgs } from './command.js';
import { stringOption, UsageError } from './args.js';

// Byte sizes on the command line: "262144", "256K", "1M" (binary units: K = 1024, M = 1024 * 1024).

/** The byte size `--name` gives, a multiple of `unit` from `min` to `max`; undefined when absent; UsageError otherwise. */
export function sizeOption(args: ParsedArgs, name: string, unit: number, min: number, max: number): number | undefined {
  const raw = stringOption(args, name);
  if (raw === undefined) return undefined;
  const match = /^(\d+)([KkMm]?)(?:i?B)?$/.exec(raw.trim());
  const value = match === null ? NaN : Number(match[1]) * (match[2] === '' ? 1 : /k/i.test(match[2]) ? 1024 : 1024 * 1024);
  if (!Number.isSafeInteger(value) || value < min || value > max || value % unit !== 0) {
    throw new UsageError(`--${name} must be a size from ${formatSize(min)} to ${formatSize(max)} in multiples of ${formatSize(unit)} ` +
      `(e.g. 512K or 2M), got "${raw}"`);
  }
  return value;
}

/** A byte size as the flags take it: "256K", "2M", or bytes. */
export function formatSize(bytes: number): string {
  if (bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)}M`;
  if (bytes % 1024 === 0) return `${bytes / 1024}K`;
  return String(bytes);
}
