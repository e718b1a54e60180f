import type { FaultRule } from './faults.js';

// A fault rule is used up only by a request it acts on, so that a rule aimed at a download is not spent on the short
// device-API answer (or a HEAD, or a range without the byte) that happens to come first.

/** The answer a request is about to get, as far as fault rules care. */
export interface Answer {
  /** Payload offset of the first body byte (0 outside the CDN). */
  start: number;
  /** Offset of the last body byte, inclusive (start - 1 for no body). */
  end: number;
  /** HEAD, or an answer without a body (204): no byte is sent. */
  head: boolean;
  /** The request asked for a range the answer would honour (ignore-range changes that). */
  ranged: boolean;
  /** The answer carries validators (ETag): only the CDN's do. */
  validators: boolean;
}

/**
 * The ids of the rules among `pending` that change `answer`: of each kind, the first one that does. A corrupt byte
 * beyond where a drop or truncation cuts the body changes nothing, nor does a cut beyond its end, nor ignoring Range in
 * a request that asked for none, nor a new ETag on an answer without one.
 */
export function actingRules(pending: FaultRule[], answer: Answer): number[] {
  const length = answer.head ? 0 : Math.max(0, answer.end - answer.start + 1);
  const first = (kind: FaultRule['kind'], acts: (rule: FaultRule) => boolean): FaultRule | undefined => {
    for (const rule of pending) if (rule.kind === kind && acts(rule)) return rule;
    return undefined;
  };
  const drop = first('drop', (rule) => !rule.afterBytes || rule.afterBytes < length);
  const truncate = first('truncate', (rule) => (rule.afterBytes ?? Math.floor(length / 2)) < length);
  let cut = length;
  if (drop !== undefined) cut = Math.min(cut, drop.afterBytes ?? 0);
  if (truncate !== undefined) cut = Math.min(cut, truncate.afterBytes ?? Math.floor(length / 2));
  const acting = [
    drop, truncate,
    first('corrupt', (rule) => rule.offset !== undefined && rule.offset >= answer.start && rule.offset < answer.start + cut),
    first('stall', (rule) => rule.afterBytes === undefined || (length > 0 && rule.afterBytes <= cut)),
    first('throttle', () => cut > 0),
    first('etag', () => answer.validators),
    first('ignore-range', () => answer.ranged),
  ];
  const ids: number[] = [];
  for (const rule of acting) if (rule !== undefined) ids.push(rule.id);
  return ids;
}
