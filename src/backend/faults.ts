import { otaError } from '../util/errors.js';

/** The routes a fault can target. `device-api` covers both release routes; `any` covers everything but the mock's own control routes (`/api/v0/mock/faults`, `/api/v0/mock/info`), which no fault touches. */
export type FaultRoute = 'latest-url' | 'latest' | 'device-api' | 'cdn' | 'admin' | 'any';

/** What a fault does to a response. */
export type FaultKind =
  | 'drop'          // reset the connection after `afterBytes` body bytes (0: before the status line)
  | 'stall'         // wait `ms` before answering, or after `afterBytes` body bytes when given
  | 'throttle'      // send the body at `bytesPerSecond`
  | 'status'        // answer `status` instead (with `retryAfter`, `reason`, `location` when given)
  | 'ignore-range'  // answer 200 with the whole payload even when a Range was asked for
  | 'corrupt'       // flip every bit of the payload byte at `offset` (absolute, whatever range is served)
  | 'truncate'      // close cleanly after `afterBytes` body bytes (default: half the body); Content-Length unchanged
  | 'etag';         // report `etag` (default: a new one) as the payload's ETag, as if it changed on the server

/** A fault as requested (admin API, CLI or code). `times` defaults to 1; 'always' never runs out. */
export interface FaultSpec {
  kind: FaultKind;
  route: FaultRoute;
  serial?: string;
  times?: number | 'always';
  afterBytes?: number;
  ms?: number;
  bytesPerSecond?: number;
  status?: number;
  retryAfter?: string;
  reason?: string;
  location?: string;
  offset?: number;
  etag?: string;
}

/** A stored fault rule with its id and how often it fired. */
export interface FaultRule extends FaultSpec {
  id: number;
  fired: number;
  remaining: number | 'always';
}

const KINDS: FaultKind[] = ['drop', 'stall', 'throttle', 'status', 'ignore-range', 'corrupt', 'truncate', 'etag'];
/** The fields each kind reads: any other is a mistake worth reporting (a `ms` on a drop does nothing). */
const FIELDS: { [kind in FaultKind]: string[] } = {
  drop: ['afterBytes'], stall: ['ms', 'afterBytes'], throttle: ['bytesPerSecond'], status: ['status', 'retryAfter', 'reason', 'location'],
  'ignore-range': [], corrupt: ['offset'], truncate: ['afterBytes'], etag: ['etag'],
};
/** Kinds that act only on payload downloads: the device API and the admin API answer without ranges or validators. */
const CDN_ONLY: FaultKind[] = ['ignore-range', 'etag'];
const ROUTES: FaultRoute[] = ['latest-url', 'latest', 'device-api', 'cdn', 'admin', 'any'];

function nonNegativeInt(spec: { [key: string]: unknown }, name: string, max: number): number | undefined {
  const value = spec[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    throw otaError('fault-invalid', `fault field "${name}" must be an integer from 0 to ${max}, got ${JSON.stringify(value)}`, false);
  }
  return value;
}

/** Checks a fault spec from JSON and returns it typed; throws an OtaError naming the bad field. */
export function parseFaultSpec(input: unknown): FaultSpec {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) throw otaError('fault-invalid', 'a fault must be a JSON object', false);
  const raw = input as { [key: string]: unknown };
  const known = ['kind', 'route', 'serial', 'times', 'afterBytes', 'ms', 'bytesPerSecond', 'status', 'retryAfter', 'reason', 'location', 'offset', 'etag'];
  for (const key of Object.keys(raw)) if (!known.includes(key)) throw otaError('fault-invalid', `unknown fault field "${key}"; known: ${known.join(', ')}`, false);
  if (!KINDS.includes(raw.kind as FaultKind)) throw otaError('fault-invalid', `fault kind must be one of ${KINDS.join(', ')}, got ${JSON.stringify(raw.kind)}`, false);
  const route = raw.route === undefined ? 'any' : raw.route;
  if (!ROUTES.includes(route as FaultRoute)) throw otaError('fault-invalid', `fault route must be one of ${ROUTES.join(', ')}, got ${JSON.stringify(raw.route)}`, false);
  const spec: FaultSpec = { kind: raw.kind as FaultKind, route: route as FaultRoute };
  for (const key of Object.keys(raw)) {
    if (['kind', 'route', 'serial', 'times'].includes(key) || FIELDS[spec.kind].includes(key)) continue;
    const takes = FIELDS[spec.kind].length > 0 ? FIELDS[spec.kind].join(', ') : 'none';
    throw otaError('fault-invalid', `fault field "${key}" does nothing for a "${spec.kind}" fault (its fields: ${takes}); remove it`, false);
  }
  if (spec.route === 'admin' && spec.kind !== 'status') {
    throw otaError('fault-invalid', `only "status" faults act on the admin route, got "${spec.kind}"; use route "cdn" or "device-api" for it`, false);
  }
  if (CDN_ONLY.includes(spec.kind) && spec.route !== 'cdn' && spec.route !== 'any') {
    throw otaError('fault-invalid', `a "${spec.kind}" fault acts only on payload downloads; use route "cdn" (or "any"), not "${spec.route}"`, false);
  }
  if (raw.serial !== undefined) {
    if (typeof raw.serial !== 'string' || !/^[-a-zA-Z0-9_]{1,128}$/.test(raw.serial)) throw otaError('fault-invalid', 'fault serial must match ^[-a-zA-Z0-9_]+$', false);
    spec.serial = raw.serial;
  }
  if (raw.times !== undefined && raw.times !== 'always') {
    const times = raw.times;
    if (typeof times !== 'number' || !Number.isInteger(times) || times < 1 || times > 1_000_000) {
      throw otaError('fault-invalid', `fault "times" must be an integer from 1 to 1000000 or "always", got ${JSON.stringify(times)}`, false);
    }
    spec.times = times;
  } else if (raw.times === 'always') spec.times = 'always';
  const ints: [keyof FaultSpec, number][] = [['afterBytes', 2 ** 40], ['ms', 3_600_000], ['bytesPerSecond', 2 ** 40], ['offset', 2 ** 40]];
  for (const [name, max] of ints) {
    const value = nonNegativeInt(raw, name, max);
    if (value !== undefined) (spec as unknown as { [key: string]: unknown })[name] = value;
  }
  if (raw.status !== undefined) {
    const status = raw.status;
    if (typeof status !== 'number' || !Number.isInteger(status) || status < 200 || status > 599) {
      throw otaError('fault-invalid', `fault "status" must be an HTTP status from 200 to 599, got ${JSON.stringify(status)}`, false);
    }
    spec.status = status;
  }
  for (const name of ['retryAfter', 'reason', 'location', 'etag'] as const) {
    const value = raw[name];
    if (value === undefined) continue;
    if (typeof value === 'number' && name === 'retryAfter') {
      spec.retryAfter = String(value);
      continue;
    }
    if (typeof value !== 'string' || value.length > 256 || /[\r\n]/.test(value)) throw otaError('fault-invalid', `fault "${name}" must be a one-line string`, false);
    spec[name] = value;
  }
  if (spec.kind === 'status' && spec.status === undefined) throw otaError('fault-invalid', 'a "status" fault needs "status" (e.g. 503)', false);
  if (spec.kind === 'throttle' && !spec.bytesPerSecond) throw otaError('fault-invalid', 'a "throttle" fault needs "bytesPerSecond" > 0', false);
  if (spec.kind === 'stall' && spec.ms === undefined) throw otaError('fault-invalid', 'a "stall" fault needs "ms"', false);
  if (spec.kind === 'corrupt' && spec.offset === undefined) throw otaError('fault-invalid', 'a "corrupt" fault needs "offset"', false);
  if (spec.kind === 'drop' && spec.afterBytes === undefined) spec.afterBytes = 0;
  return spec;
}

function routeMatches(rule: FaultRoute, route: FaultRoute): boolean {
  return rule === 'any' || rule === route || (rule === 'device-api' && (route === 'latest' || route === 'latest-url'));
}

/** The fault rules in force; a request takes (and uses up) the matching rules that act on it. */
export class FaultSet {
  private rules: FaultRule[] = [];
  private nextId = 1;

  /** Adds a rule (validated) and returns it. */
  add(spec: FaultSpec): FaultRule {
    const checked = parseFaultSpec(spec);
    const rule: FaultRule = { ...checked, id: this.nextId++, fired: 0, remaining: checked.times ?? 1 };
    this.rules.push(rule);
    return { ...rule };
  }

  /** Removes one rule by id; false when there was none. */
  remove(id: number): boolean {
    const before = this.rules.length;
    this.rules = this.rules.filter((rule) => rule.id !== id);
    return this.rules.length !== before;
  }

  /** Removes every rule. */
  clear(): void {
    this.rules = [];
  }

  /** A copy of the rules in force (used-up rules are dropped). */
  list(): FaultRule[] {
    return this.rules.map((rule) => ({ ...rule }));
  }

  /** Copies of the rules matching a request, in the order they were added; nothing is used up. */
  matching(route: FaultRoute, serial: string | undefined): FaultRule[] {
    if (this.rules.length === 0) return NONE;
    const found: FaultRule[] = [];
    for (const rule of this.rules) if (matches(rule, route, serial)) found.push({ ...rule });
    return found;
  }

  /**
   * The rules matching a request that act on it (all, unless `acts` says otherwise), each counted as fired once, in
   * the order they were added. A rule that would not change this answer (a corrupt byte outside the range served) is
   * left for a later request.
   */
  take(route: FaultRoute, serial: string | undefined, acts?: (rule: FaultRule) => boolean): FaultRule[] {
    if (this.rules.length === 0) return NONE;
    const taken: FaultRule[] = [];
    for (const rule of this.rules) {
      if (!matches(rule, route, serial) || (acts !== undefined && !acts(rule))) continue;
      rule.fired++;
      if (rule.remaining !== 'always') rule.remaining--;
      taken.push({ ...rule });
    }
    if (taken.length > 0) this.rules = this.rules.filter((rule) => rule.remaining === 'always' || rule.remaining > 0);
    return taken;
  }
}

function matches(rule: FaultRule, route: FaultRoute, serial: string | undefined): boolean {
  return routeMatches(rule.route, route) && (rule.serial === undefined || rule.serial === serial);
}

const NONE: FaultRule[] = [];
