import type { ApiHttp, ApiResponse } from './http-port.js';
import { bytesToAscii } from '../util/bytes.js';
import { otaError } from '../util/errors.js';
import { parseLatestJson } from './latest-json.js';
import type { OtaError } from '../util/errors.js';

// Client of the Memfault-style device API: GET /api/v0/releases/latest/url (text/plain URL) and
// GET /api/v0/releases/latest (release JSON). It classifies every answer so the agent can act on it:
// 204 latest -> up to date; 204 rate-limited -> transient failure; 400/403 -> configuration error that stops
// polling and names the field; 429/503 -> retry after Retry-After; 3xx, or an empty 200 -> error.

/** Where the API lives and how the device authenticates. */
export interface ApiConfig {
  /** e.g. "https://device.example.com" (no trailing slash needed). */
  baseUrl: string;
  projectKey: string;
}

/** What the device reports about itself. */
export interface DeviceQuery {
  serial: string;
  hardwareVersion: string;
  softwareType: string;
  /** The running version; null omits the parameter (the server then offers its latest). */
  currentVersion: string | null;
}

/** An update is available. */
export interface OfferedRelease {
  url: string;
  /** Identity of the artifact that survives URL refreshes (token and expiry rotate). */
  id: string;
  version: string | null;
  /** Payload size from /latest, else -1. */
  size: number;
  /** Lower-case hex md5 from /latest, else null. */
  md5: string | null;
  /** When the signed URL expires (ms since the epoch), from its `expires` parameter; 0 when unknown. */
  expiresAt: number;
}

/** The outcome of a check: an offer, or nothing to do. */
export interface CheckResult {
  update: OfferedRelease | null;
  /** The server's memfault-reason on a 204. */
  reason: string | null;
}

const MAX_BODY = 16384;
const FIELDS = ['device_serial', 'hardware_version', 'software_type', 'current_version'];

function joinUrl(base: string, path: string): string {
  return base.charAt(base.length - 1) === '/' ? base.substring(0, base.length - 1) + path : base + path;
}

/** Percent-encodes as the firmware SDK does: everything but alnum and -_.~ (encodeURIComponent keeps !'()*). */
function encodeValue(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, function (c: string): string {
    return '%' + c.charCodeAt(0).toString(16).toUpperCase();
  });
}

function trim(text: string): string {
  return text.trim();
}

/** The path of a URL without scheme, host or query: a stable identity for a signed CDN link. */
export function urlIdentity(url: string): string {
  const scheme = url.indexOf('://');
  const slash = url.indexOf('/', scheme < 0 ? 0 : scheme + 3);
  const path = slash < 0 ? '/' : url.substring(slash);
  const query = path.indexOf('?');
  return query < 0 ? path : path.substring(0, query);
}

/** The `expires=<unix seconds>` parameter of a signed URL, in ms; 0 when absent. */
export function urlExpiry(url: string): number {
  const match = /[?&]expires=(\d+)/.exec(url);
  return match === null ? 0 : parseInt(match[1], 10) * 1000;
}

function errorMessageOf(response: ApiResponse): string {
  const text = bytesToAscii(response.body, 0, response.body.length);
  try {
    const parsed = JSON.parse(text) as { error?: { message?: unknown } };
    if (parsed !== null && typeof parsed === 'object' && parsed.error !== undefined) {
      const message = parsed.error.message;
      if (typeof message === 'string') return message;
      if (message !== undefined) return JSON.stringify(message);
    }
  } catch {
    // not JSON: fall through to the raw text
  }
  return trim(text).substring(0, 200);
}

function fieldOf(message: string): string | null {
  for (let i = 0; i < FIELDS.length; i++) if (message.indexOf(FIELDS[i]) >= 0) return FIELDS[i];
  return null;
}

/** Classifies a non-2xx, or unusable, answer into an OtaError with `details.status` and friends. */
export function classifyFailure(response: ApiResponse, now: number): OtaError {
  const status = response.status;
  const retryAfter = response.headers['retry-after'];
  if (status >= 300 && status < 400) {
    return otaError('api-redirect', 'The device API answered ' + status + ' (redirect to ' + (response.headers.location || 'nowhere') +
      '); the device API is never redirected, so check the configured base URL.', false, { status: status });
  }
  if (status === 400) {
    const message = errorMessageOf(response);
    const field = fieldOf(message);
    return otaError('api-bad-request', 'The device API rejected the query (400): ' + message +
      (field !== null ? '; fix the device\'s ' + field + '.' : '; check serial, hardware version and software type.'),
    false, { status: status, field: field, stopPolling: true });
  }
  if (status === 401 || status === 403) {
    return otaError('api-forbidden', 'The device API refused the project key (' + status +
      '); configure the project key of this project (field projectKey).', false, { status: status, field: 'projectKey', stopPolling: true });
  }
  if (status === 429 || status === 503 || status === 529 || status === 502 || status === 504 || status >= 500) {
    return otaError('api-unavailable', 'The device API is busy or unavailable (' + status + ')' +
      (retryAfter !== undefined ? '; it asked to retry after ' + retryAfter + '.' : '; retrying with backoff.'),
    true, { status: status, retryAfter: retryAfter !== undefined ? retryAfter : null, now: now });
  }
  return otaError('api-unexpected-status', 'The device API answered ' + status + ': ' + errorMessageOf(response) + '.', false,
    { status: status });
}

function offerFromUrl(url: string, version: string | null, size: number, md5: string | null): OfferedRelease {
  const scheme = url.substring(0, 7) === 'http://' ? 7 : url.substring(0, 8) === 'https://' ? 8 : 0;
  const rest = url.substring(scheme);
  if (scheme === 0 || rest.indexOf('/') < 1 || /\s/.test(rest)) {
    throw otaError('api-bad-url', 'The device API returned "' + url.substring(0, 80) + '" where a payload URL (http[s]://host/path) was expected.',
      false, { status: 200 });
  }
  return { url: url, id: md5 !== null ? 'md5:' + md5 : urlIdentity(url), version: version, size: size, md5: md5, expiresAt: urlExpiry(url) };
}

function offerFromJson(text: string): OfferedRelease {
  const artifact = parseLatestJson(text);
  return offerFromUrl(trim(artifact.url), artifact.version, artifact.size, artifact.md5);
}

/** Checks for an update once. Resolves with the result; rejects with a classified OtaError. */
export function checkForUpdate(http: ApiHttp, config: ApiConfig, device: DeviceQuery, useLatestJson: boolean, timeoutMs: number,
  now: number): Promise<CheckResult> {
  let query = '?device_serial=' + encodeValue(device.serial) +
    '&hardware_version=' + encodeValue(device.hardwareVersion) +
    '&software_type=' + encodeValue(device.softwareType);
  if (device.currentVersion !== null && device.currentVersion !== '') query += '&current_version=' + encodeValue(device.currentVersion);
  const path = useLatestJson ? '/api/v0/releases/latest' : '/api/v0/releases/latest/url';
  const headers: { [name: string]: string } = { 'Memfault-Project-Key': config.projectKey, 'Accept': useLatestJson ? 'application/json' : 'text/plain' };
  return http.get(joinUrl(config.baseUrl, path + query), headers, MAX_BODY, timeoutMs).then(function (response) {
    if (response.status === 204) {
      const reason = response.headers['memfault-reason'] !== undefined ? response.headers['memfault-reason'] : null;
      if (reason !== null && reason.toLowerCase() === 'rate-limited') {
        throw otaError('api-rate-limited', 'The device API rate-limited this device (204 rate-limited); backing off before the next check.',
          true, { status: 204, reason: reason });
      }
      return { update: null, reason: reason };
    }
    if (response.status !== 200) throw classifyFailure(response, now);
    const text = trim(bytesToAscii(response.body, 0, response.body.length));
    if (text === '') {
      throw otaError('api-empty-answer', 'The device API answered 200 with an empty body; expected ' +
        (useLatestJson ? 'release JSON' : 'a payload URL') + '.', true, { status: 200 });
    }
    if (!useLatestJson) return { update: offerFromUrl(text, null, -1, null), reason: null };
    return { update: offerFromJson(text), reason: null };
  });
}
