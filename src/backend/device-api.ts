import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BackendContext } from './context.js';
import { actingRules } from './acting-rules.js';
import { answerStatusFault, faultOf, sendWithFaults } from './fault-response.js';
import type { FaultRoute, FaultRule } from './faults.js';
import { sendError } from './http-util.js';
import type { Artifact, Release } from './model.js';
import { selectRelease } from './release-selection.js';

const SERIAL = /^[-a-zA-Z0-9_]{1,128}$/;
const SOFTWARE_TYPE = /^[-a-zA-Z0-9_.+:]{1,128}$/;
// The current docs widen hardware and software versions by \()[]/ and space.
const VERSION_LIKE = /^[-a-zA-Z0-9_.+:\\()[\]/ ]{1,128}$/;
const DAY_MS = 24 * 3600 * 1000;

function first(params: URLSearchParams, name: string): string | undefined {
  const value = params.get(name);
  return value === null ? undefined : value;
}

/** The CDN link of an artifact for `serial`, signed to expire after the configured lifetime. */
export function payloadUrl(ctx: BackendContext, artifact: Artifact, serial: string): string {
  const path = `/${encodeURIComponent(ctx.store.state.project)}/${artifact.id}/${artifact.sha256}`;
  const expires = Math.ceil(ctx.now() / 1000) + ctx.settings.urlLifetimeSeconds;
  return `${ctx.cdnBaseUrl}${path}?${ctx.signer.sign(path, expires, serial)}`;
}

/** The `/latest` JSON of a release with one artifact, in the field set of Memfault's documented example. */
export function releaseJson(release: Release, artifact: Artifact, url: string): unknown {
  return {
    id: release.id, version: release.version, display_name: release.version, notes: release.notes, revision: release.revision,
    min_version: '', is_delta: false, is_forced: null, must_pass_through: release.mustPassThrough, extra_info: {},
    created_date: release.createdDate, reason: 'latest',
    artifacts: [{
      id: artifact.id, url, filename: artifact.filename, file_size: artifact.fileSize, md5: artifact.md5, sha1: artifact.sha1,
      sha256: artifact.sha256, type: 'firmware', hardware_version: artifact.hardwareVersion, build_id: null,
      extra_info: artifact.extraInfo, created_date: artifact.createdDate,
    }],
  };
}

function noContent(res: ServerResponse, reason: string | null, mockReason: string, faults: FaultRule[]): void {
  const headers: { [name: string]: string } = { 'x-mock-reason': mockReason };
  if (reason) headers['memfault-reason'] = reason;
  if (faults.length > 0) {
    void sendWithFaults(res, 204, headers, null, faults, 0, true);
    return;
  }
  // The hot path of a fleet polling: no promises, no fault machinery.
  res.writeHead(204, headers);
  res.end();
}

let isoAt = -1;
let isoText = '';

/** `now` as an ISO date, formatted once per millisecond however many requests arrive in it. */
function isoOf(now: number): string {
  if (now !== isoAt) {
    isoAt = now;
    isoText = new Date(now).toISOString();
  }
  return isoText;
}

/** Counts a request of `serial` against its daily quota; true when it is over. */
function overQuota(ctx: BackendContext, serial: string): boolean {
  const day = Math.floor(ctx.now() / DAY_MS);
  let entry = ctx.requestCounts.get(serial);
  if (!entry || entry.day !== day) {
    entry = { day, count: 0 };
    ctx.requestCounts.set(serial, entry);
  }
  entry.count++;
  return entry.count > ctx.settings.dailyRequestLimit;
}

/**
 * `GET /api/v0/releases/latest` (`json` true) and `/latest/url`: authenticate by `Memfault-Project-Key`,
 * validate the query, register the device on first sight, pick its release and answer as Memfault does.
 */
export function handleLatest(ctx: BackendContext, req: IncomingMessage, res: ServerResponse, query: string, json: boolean): void {
  const route: FaultRoute = json ? 'latest' : 'latest-url';
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    sendError(res, 405, `${req.method} is not allowed here; use GET`, { Allow: 'GET, HEAD' });
    return;
  }
  const params = new URLSearchParams(query);
  const serialParam = first(params, 'device_serial');
  // Rules are used up only by an answer they act on (acting-rules.ts): peek now, take once the answer is known.
  const pending = ctx.faults.matching(route, serialParam);
  const statusFault = faultOf(pending, 'status');
  if (statusFault !== undefined) {
    answerStatusFault(res, ctx.faults.take(route, serialParam, (rule) => rule.id === statusFault.id));
    return;
  }
  const take = (bodyBytes: number, head: boolean): FaultRule[] => {
    if (pending.length === 0) return pending;
    const acting = actingRules(pending, { start: 0, end: bodyBytes - 1, head, ranged: false, validators: false });
    return ctx.faults.take(route, serialParam, (rule) => acting.indexOf(rule.id) >= 0);
  };
  const key = req.headers['memfault-project-key'];
  if (typeof key !== 'string' || key === '') {
    sendError(res, 403, 'Missing Memfault-Project-Key header');
    return;
  }
  if (key !== ctx.store.state.projectKey) {
    sendError(res, 403, 'Invalid Memfault-Project-Key');
    return;
  }
  const hardwareVersion = first(params, 'hardware_version');
  const softwareType = first(params, 'software_type');
  const currentVersion = first(params, 'current_version');
  const problems: string[] = [];
  if (serialParam === undefined) problems.push('device_serial is required');
  else if (!SERIAL.test(serialParam)) problems.push('device_serial must be 1-128 characters of [-a-zA-Z0-9_]');
  if (hardwareVersion === undefined) problems.push('hardware_version is required');
  else if (!VERSION_LIKE.test(hardwareVersion)) problems.push('hardware_version must be 1-128 characters of [-a-zA-Z0-9_.+:\\()[]/ ]');
  if (softwareType === undefined) problems.push('software_type is required');
  else if (!SOFTWARE_TYPE.test(softwareType)) problems.push('software_type must be 1-128 characters of [-a-zA-Z0-9_.+:]');
  if (currentVersion !== undefined && !VERSION_LIKE.test(currentVersion)) problems.push('current_version must be 1-128 characters of [-a-zA-Z0-9_.+:\\()[]/ ]');
  if (problems.length === 0 && !ctx.known.hardwareVersions.has(hardwareVersion as string)) problems.push(`Unknown hardware_version "${hardwareVersion}"`);
  if (problems.length === 0 && !ctx.known.softwareTypes.has(softwareType as string)) problems.push(`Unknown software_type "${softwareType}"`);
  if (problems.length > 0) {
    sendError(res, 400, problems.join('; '));
    return;
  }
  const serial = serialParam as string;
  if (overQuota(ctx, serial)) {
    noContent(res, 'rate-limited', 'rate-limited', take(0, true));
    return;
  }
  const state = ctx.store.state;
  let device = state.devices[serial];
  const nowIso = isoOf(ctx.now());
  if (!device) {
    device = { serial, hardwareVersion: hardwareVersion as string, cohort: 'default', createdDate: nowIso };
    state.devices[serial] = device;
  }
  device.lastSeen = nowIso;
  device.lastSoftwareType = softwareType;
  if (currentVersion !== undefined) device.lastVersion = currentVersion;
  ctx.store.touch();
  const selection = selectRelease(state, serial, device.cohort, device.hardwareVersion, softwareType as string, currentVersion);
  if (selection.kind === 'latest') {
    noContent(res, 'latest', selection.why, take(0, true));
    return;
  }
  if (selection.kind === 'none') {
    noContent(res, null, selection.why, take(0, true));
    return;
  }
  const url = payloadUrl(ctx, selection.artifact, serial);
  const text = json ? JSON.stringify(releaseJson(selection.release, selection.artifact, url)) : url;
  const length = Buffer.byteLength(text);
  const headers = {
    'Content-Type': json ? 'application/json' : 'text/plain; charset=utf-8',
    'Content-Length': String(length),
  };
  const head = req.method === 'HEAD';
  void sendWithFaults(res, 200, headers, { text }, take(length, head), 0, head);
}
