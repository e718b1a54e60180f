import type { Random } from '../util/clock.js';

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
  };
}

/** Bytes the durable offset must move before the next progress checkpoint of a payload of `size` bytes. */
export function checkpointSpacing(policy: Policy, size: number): number {
  const share = policy.maxCheckpoints > 0 ? Math.ceil(size / policy.maxCheckpoints) : 0;
  return policy.checkpointBytes > 0 && share > policy.checkpointBytes ? share : policy.checkpointBytes;
}

/** `defaultPolicy()` with the given fields replaced. */
export function makePolicy(overrides: { [K in keyof Policy]?: Policy[K] } | undefined): Policy {
  const policy = defaultPolicy() as unknown as { [key: string]: unknown };
  if (overrides !== undefined) {
    const keys = Object.keys(overrides);
    for (let i = 0; i < keys.length; i++) {
      const value = (overrides as { [key: string]: unknown })[keys[i]];
      if (value !== undefined) policy[keys[i]] = value;
    }
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
  return Math.max(0, Math.floor(policy.intervalMs - spread + random() * 2 * spread));
}

/**
 * Delay before retry number `failures` (1 for the first): "full jitter" exponential backoff, at least the
 * server's Retry-After when it gave one, never above the cap unless the server asked for longer.
 */
export function backoffDelay(policy: Policy, failures: number, retryAfterMs: number, random: Random): number {
  const exponent = failures > 1 ? failures - 1 : 0;
  let ceiling = policy.backoffBaseMs * Math.pow(2, exponent > 30 ? 30 : exponent);
  if (ceiling > policy.backoffMaxMs) ceiling = policy.backoffMaxMs;
  const jittered = Math.floor(ceiling / 2 + random() * ceiling / 2);
  return retryAfterMs > jittered ? retryAfterMs : jittered;
}

/**
 * Parses a Retry-After value (delta seconds, or an HTTP-date) into milliseconds from `now`; -1 when absent or
 * not understood.
 */
export function parseRetryAfter(value: string | null, now: number): number {
  if (value === null) return -1;
  const trimmed = value.replace(/^\s+|\s+$/g, '');
  if (/^\d+$/.test(trimmed)) return parseInt(trimmed, 10) * 1000;
  const date = Date.parse(trimmed);
  if (isNaN(date)) return -1;
  return date > now ? date - now : 0;
}
