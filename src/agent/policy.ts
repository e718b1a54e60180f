import type { Random } from '../util/clock.js';
import { otaError } from '../util/errors.js';

// When to poll and how to back off. Defaults follow the Memfault SDK's cadence (first check 60 s after boot
// plus a random delay, then hourly), far below the service's ~100 checks per device per day.

/** Poll and retry settings; every field optional in `createAgent`. */
export interface Policy {
  /** Delay before the first check after boot. */
  firstCheckMs: number;
  /** Extra random delay up to this, added to the first check (spreads a fleet that boots together). */
  firstCheckJitterMs: number;
  /** Delay between checks while up to date. */
  intervalMs: number;
  /** Random fraction (0..1) added to or removed from the interval. */
  intervalJitter: number;
  /** First retry delay after a transient failure. */
  backoffBaseMs: number;
  /** Largest retry delay. */
  backoffMaxMs: number;
  /** Download attempts (cycles) for one release before the agent gives up on it. */
  maxAttemptsPerRelease: number;
  /** Immediate resumes within one cycle after a transfer that made progress and then failed (a dropped link). */
  retriesPerCycle: number;
  /** Time a trial image has to confirm before the agent reverts it. */
  healthDeadlineMs: number;
  /** Timeout of each network exchange. */
  requestTimeoutMs: number;
  /** Minimum interval between download-progress events. */
  progressIntervalMs: number;
  /** Use /releases/latest (JSON with file_size and md5) instead of /releases/latest/url. */
  useLatestJson: boolean;
  /** Granularity (bytes) of the running-checksum snapshots a resume continues from. */
  snapshotBytes: number;
  /**
   * Download progress is journaled once the durable offset moved at least this far past the last checkpoint (and at
   * the end); 0 journals every durable step, i.e. every flash sector. A power cut re-downloads at most this much plus a
   * sector. Each checkpoint is a journal record: on parts with small sectors, per-sector checkpoints would wear the
   * journal area faster than the images (a 1 MiB image in 4 KiB sectors is 256 records).
   */
  checkpointBytes: number;
  /**
   * At most about this many progress checkpoints per payload (default 64; 0 = no cap): on a large payload the spacing
   * grows to size / maxCheckpoints, so a power cut re-downloads at most that share of it and one update costs the
   * journal a bounded number of records whatever the image size (a 64 MiB image at 64 KiB would be 1 024).
   */
  maxCheckpoints: number;
  /**
   * Longest wait a server's Retry-After may impose (default 24 h; backoffMaxMs when that is larger): a value of
   * centuries, or an HTTP-date in 2100, would otherwise park the device for good.
   */
  maxRetryAfterMs: number;
}

/** The default policy. */
export function defaultPolicy(): Policy {
  return {
    firstCheckMs: 60000,
    firstCheckJitterMs: 60000,
    intervalMs: 3600000,
    intervalJitter: 0.1,
    backoffBaseMs: 30000,
    backoffMaxMs: 3600000,
    maxAttemptsPerRelease: 10,
    retriesPerCycle: 5,
    healthDeadlineMs: 300000,
    requestTimeoutMs: 30000,
    progressIntervalMs: 250,
    useLatestJson: false,
    snapshotBytes: 4096,
    checkpointBytes: 65536,
    maxCheckpoints: 64,
    maxRetryAfterMs: 86400000,
  };
}

/** Bytes the durable offset must move before the next progress checkpoint of a payload of `size` bytes. */
export function checkpointSpacing(policy: Policy, size: number): number {
  const share = policy.maxCheckpoints > 0 ? Math.ceil(size / policy.maxCheckpoints) : 0;
  return policy.checkpointBytes > 0 && share > policy.checkpointBytes ? share : policy.checkpointBytes;
}

/**
 * `defaultPolicy()` with the given fields replaced; throws `policy-invalid` (naming the field, the value and the
 * allowed range) for an unknown field or a value out of range: an interval of 0 or NaN would poll in a tight loop.
 * Numbers are whole, from 1 (0 where it means none, every or at once: the first check, jitters, retries, progress
 * events, checkpoints; 1 000 for intervalMs) to 1e9 ms (~11.6 days: every delay built from them, at most two summed,
 * stays below a 32-bit timer's 2^31 ms); intervalJitter is a fraction from 0 to 1.
 */
export function makePolicy(overrides: { [K in keyof Policy]?: Policy[K] } | undefined): Policy {
  const policy = defaultPolicy() as unknown as { [key: string]: unknown };
  // null, like undefined, asks for the defaults.
  const keys = overrides ? Object.keys(overrides) : [];
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    const value = (overrides as { [key: string]: unknown })[key];
    if (value === undefined) continue;
    const kind = typeof policy[key];
    const least = key === 'intervalMs' ? 1000 : /Jitter|heckpoint|^(first|retr|prog|use)/.test(key) ? 0 : 1;
    const most = key === 'intervalJitter' ? 1 : 1e9;
    const v = value as number;
    // An unknown field (kind undefined) or a value of another type fails the first test, NaN the range (and a boolean
    // passes it: false and true are 0 and 1), Infinity the upper bound; counts, bytes and milliseconds are whole.
    if (typeof value !== kind || !(v >= least && v <= most) || (most > 1 && v % 1 !== 0)) {
      // The words (only words: the Espruino build keeps the code alone) show a string as one, since a policy read from
      // a JSON file with quoted numbers otherwise reads "healthDeadlineMs is 5000; expected a whole number", and list
      // the fields when the name is unknown.
      throw otaError('policy-invalid', 'Policy field ' + key + ' is ' + (typeof value === 'string' ? '"' + value + '" (a string)' : String(value)) + '; ' +
        (kind === 'undefined' ? 'there is no such field; the fields are ' + Object.keys(policy).join(', ') + '.'
        : 'expected ' + (kind === 'boolean' ? 'true or false' : (most === 1 ? 'a number' : 'a whole number') + ' from ' + least + ' to ' + most) +
        '. Fix the policy passed to createAgent.'), false, { field: key, found: value });
    }
    policy[key] = value;
  }
  return policy as unknown as Policy;
}

/** Delay before the first check after boot. */
export function firstCheckDelay(policy: Policy, random: Random): number {
  return policy.firstCheckMs + Math.floor(random() * policy.firstCheckJitterMs);
}

/** Delay until the next regular check. */
export function intervalDelay(policy: Policy, random: Random): number {
  const spread = policy.intervalMs * policy.intervalJitter;
  // makePolicy keeps intervalJitter within 0..1, so this is never negative.
  return Math.floor(policy.intervalMs - spread + random() * 2 * spread);
}

/**
 * Delay before retry number `failures` (1 for the first): exponential backoff with "equal jitter" (from half the
 * ceiling to the ceiling), at least the server's Retry-After when it gave one (held to maxRetryAfterMs, or backoffMaxMs
 * when larger), never above the cap unless the server asked for longer.
 */
export function backoffDelay(policy: Policy, failures: number, retryAfterMs: number, random: Random): number {
  // A Retry-After of centuries (or a date in 2100) is held to the cap, as a delay and so as the journaled notBefore.
  const asked = Math.min(retryAfterMs, Math.max(policy.maxRetryAfterMs, policy.backoffMaxMs));
  const exponent = failures > 1 ? failures - 1 : 0;
  let ceiling = policy.backoffBaseMs * Math.pow(2, exponent > 30 ? 30 : exponent);
  if (ceiling > policy.backoffMaxMs) ceiling = policy.backoffMaxMs;
  const jittered = Math.floor(ceiling / 2 + random() * ceiling / 2);
  return asked > jittered ? asked : jittered;
}

/**
 * Parses a Retry-After value (delta seconds, or an HTTP-date) into milliseconds from `now`; -1 when absent or
 * not understood.
 */
export function parseRetryAfter(value: string | null, now: number): number {
  if (value === null) return -1;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return parseInt(trimmed, 10) * 1000;
  const date = Date.parse(trimmed);
  if (isNaN(date)) return -1;
  return date > now ? date - now : 0;
}
