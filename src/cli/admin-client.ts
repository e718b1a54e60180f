import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isAbsolute, join } from 'node:path';
import { otaError } from '../util/errors.js';
import type { CliIo, OptionSpec, ParsedArgs } from './command.js';
import { stringOption, UsageError } from './args.js';
import { EXIT_FAILURE, EXIT_UNAVAILABLE } from './exit-codes.js';
import { SERIAL, SLUG, VERSION_LIKE } from '../backend/release-admin.js';

/** Where `ota serve` records how to reach it, inside its data directory. */
export const SERVER_FILE = 'server.json';
/** The data directory `ota serve` and the admin commands use when none is given. */
export const DEFAULT_DATA_DIR = '.ota-backend';

/** What `ota serve` writes to `<data>/server.json` (mode 0600) so later commands need no flags. */
export interface ServerRecord {
  baseUrl: string;
  cdnBaseUrl: string;
  caPath?: string;
  org: string;
  project: string;
  projectKey: string;
  orgToken: string;
}

/** The global options of memfault-cli that the admin commands share (same environment variables), plus ours. */
export const backendOptions: { [name: string]: OptionSpec } = {
  'org-token': { kind: 'string', description: 'organization token of the admin API', env: 'MEMFAULT_ORG_TOKEN', valueName: 'TOKEN' },
  org: { kind: 'string', description: 'organization slug', env: 'MEMFAULT_ORG', valueName: 'SLUG' },
  project: { kind: 'string', description: 'project slug', env: 'MEMFAULT_PROJECT', valueName: 'SLUG' },
  url: { kind: 'string', description: 'base URL of the backend (what `ota serve` printed)', env: 'MEMFAULT_URL', valueName: 'URL' },
  'project-key': { kind: 'string', description: 'project key (device API)', env: 'MEMFAULT_PROJECT_KEY', valueName: 'KEY' },
  ca: { kind: 'string', description: 'PEM file of the roots to trust for an https backend', env: 'OTA_CA', valueName: 'FILE' },
  data: { kind: 'string', description: `data directory of a local \`ota serve\` to take defaults from (default ${DEFAULT_DATA_DIR})`, env: 'OTA_DATA', valueName: 'DIR' },
  json: { kind: 'boolean', description: 'print JSON for scripts instead of text' },
};

/** How to reach and authenticate to the admin API. */
export interface AdminConnection {
  url: string;
  orgToken: string;
  org: string;
  project: string;
  /** Roots to trust (PEM) for https; undefined means the system roots. */
  caPem?: string;
}

/** The data directory an admin or serve command uses. */
export function dataDirOf(args: ParsedArgs, io: CliIo): string {
  const dir = stringOption(args, 'data') ?? DEFAULT_DATA_DIR;
  return isAbsolute(dir) ? dir : join(io.cwd, dir);
}

/** The `<data>/server.json` of a local `ota serve` (the data directory from --data or OTA_DATA), or null when none. */
export function serverRecordOf(args: ParsedArgs, io: CliIo): ServerRecord | null {
  return readRecord(dataDirOf(args, io));
}

function readRecord(dir: string): ServerRecord | null {
  const path = join(dir, SERVER_FILE);
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as ServerRecord;
  } catch {
    return null;
  }
}

/**
 * `--url` as the admin calls use it: scheme and host lower-cased (URLs compare them case-insensitively), no
 * trailing slash; a UsageError for anything but an http(s) URL. Credentials in the URL are refused, never echoed.
 */
export function normalBaseUrl(given: string): string {
  let parsed: URL | null = null;
  try {
    parsed = /^https?:\/\/[^/]+/i.test(given.trim()) ? new URL(given.trim()) : null;
  } catch {
    parsed = null;
  }
  if (parsed === null) {
    // Echoed without anything that looks like user:password@.
    throw new UsageError(`--url must be an http(s) URL such as http://127.0.0.1:8080, got "${given.slice(0, 200).replace(/\/\/[^/?#]*@/, '//…@')}"`);
  }
  if (parsed.username !== '' || parsed.password !== '') {
    throw new UsageError('--url must not carry a user name or password; pass the organization token with --org-token (or MEMFAULT_ORG_TOKEN)');
  }
  if (parsed.search !== '' || parsed.hash !== '') throw new UsageError(`--url is a base URL without a query or fragment, e.g. ${parsed.origin}`);
  return (parsed.origin + parsed.pathname).replace(/\/+$/, '');
}

/** True when two base URLs name the same backend (compared after normalBaseUrl). */
function sameBackend(a: string, b: string): boolean {
  try {
    return normalBaseUrl(a) === normalBaseUrl(b);
  } catch {
    return false;
  }
}

/** Resolves the connection from flags, environment and `<data>/server.json`, or a UsageError naming what is missing. */
export function connectionOf(args: ParsedArgs, io: CliIo): AdminConnection {
  const record = readRecord(dataDirOf(args, io));
  const given = stringOption(args, 'url') ?? record?.baseUrl;
  if (!given) throw new UsageError('no backend: pass --url (or MEMFAULT_URL), or start one here with `ota serve`');
  const url = normalBaseUrl(given);
  // The server.json credentials belong to the URL `ota serve` printed, however it is spelled (trailing slash, case).
  const local = record !== null && typeof record.baseUrl === 'string' && sameBackend(record.baseUrl, url);
  const orgToken = stringOption(args, 'org-token') ?? (local ? record.orgToken : undefined);
  if (!orgToken && !local && record !== null && typeof record.baseUrl === 'string') {
    // The stored token is never sent to another server; a wrong scheme or port in --url is the usual cause.
    throw new UsageError(`no organization token for ${url}: the data directory's server.json holds the token of ${normalBaseUrl(record.baseUrl)} ` +
      'only, and it is never sent to another URL; drop --url (or MEMFAULT_URL) to use that backend, or pass --org-token (or MEMFAULT_ORG_TOKEN)');
  }
  if (!orgToken) {
    throw new UsageError('no organization token: pass --org-token (or MEMFAULT_ORG_TOKEN), or --data (or OTA_DATA) naming the data ' +
      'directory of the `ota serve` that keeps it in server.json');
  }
  const org = stringOption(args, 'org') ?? record?.org;
  const project = stringOption(args, 'project') ?? record?.project;
  if (!org || !project) throw new UsageError('pass --org and --project (or MEMFAULT_ORG and MEMFAULT_PROJECT), or --data of a local `ota serve`');
  const caPath = stringOption(args, 'ca') ?? (local ? record.caPath : undefined);
  let caPem: string | undefined;
  if (caPath && url.startsWith('https:')) {
    const resolved = isAbsolute(caPath) ? caPath : join(io.cwd, caPath);
    if (!existsSync(resolved)) throw new UsageError(`CA file ${resolved} does not exist; pass the CA path \`ota serve\` printed (--ca or OTA_CA)`);
    caPem = readFileSync(resolved, 'utf8');
  }
  return { url, orgToken, org, project, caPem };
}

interface Reply {
  status: number;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

/** A client of the mock backend's admin API; every failure is an OtaError with `details.status` when the server answered. */
export class AdminClient {
  /** A client for one backend connection. */
  constructor(readonly connection: AdminConnection) {}

  private send(method: string, url: string, body: Buffer | { path: string; size: number } | null, auth: boolean, contentType = 'application/json'): Promise<Reply> {
    const target = new URL(url);
    const headers: { [name: string]: string } = { Accept: 'application/json' };
    if (auth) headers.Authorization = 'Basic ' + Buffer.from(':' + this.connection.orgToken).toString('base64');
    if (body) {
      headers['Content-Type'] = contentType;
      headers['Content-Length'] = String(Buffer.isBuffer(body) ? body.length : body.size);
    }
    const options = { method, headers, ca: target.protocol === 'https:' ? this.connection.caPem : undefined };
    return new Promise((resolve, reject) => {
      const req = (target.protocol === 'https:' ? httpsRequest : httpRequest)(target, options, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      req.setTimeout(30_000, () => req.destroy(otaError('backend-timeout', `no answer from ${target.origin} within 30 s`, true) as unknown as Error));
      req.on('error', (error: Error & { code?: string }) => {
        if ((error as { retryable?: unknown }).retryable !== undefined) { reject(error); return; }
        const tlsProblem = /CERT|SELF_SIGNED|UNABLE_TO|ERR_TLS/.test(error.code ?? '');
        reject(otaError(tlsProblem ? 'backend-tls' : 'backend-unreachable', tlsProblem
          ? `TLS to ${target.origin} failed (${error.code}): pass the CA file \`ota serve\` printed with --ca (or OTA_CA)`
          : `cannot reach the backend at ${target.origin} (${error.code ?? error.message}); start it with \`ota serve\` or pass --url`, !tlsProblem, { url: target.origin }, error));
      });
      if (body && !Buffer.isBuffer(body)) createReadStream(body.path).on('error', (e) => req.destroy(e)).pipe(req);
      else req.end(body ?? undefined);
    });
  }

  private projectUrl(rest: string): string {
    return `${this.connection.url}/api/v0/organizations/${encodeURIComponent(this.connection.org)}/projects/${encodeURIComponent(this.connection.project)}${rest}`;
  }

  private async call(method: string, url: string, body?: unknown): Promise<any> {
    const reply = await this.send(method, url, body === undefined ? null : Buffer.from(JSON.stringify(body)), true);
    return this.decode(reply, method, url);
  }

  private decode(reply: Reply, method: string, url: string): any {
    let parsed: any = null;
    try {
      parsed = reply.body.length > 0 ? JSON.parse(reply.body.toString('utf8')) : null;
    } catch {
      parsed = null;
    }
    if (reply.status >= 200 && reply.status < 300) return parsed ? parsed.data : null;
    const message = parsed?.error?.message ?? `HTTP ${reply.status}`;
    const code = typeof reply.headers['x-error-code'] === 'string' ? reply.headers['x-error-code'] : `http-${reply.status}`;
    const retryAfter = typeof reply.headers['retry-after'] === 'string' ? reply.headers['retry-after'].slice(0, 100) : undefined;
    throw otaError(code, typeof message === 'string' ? message : JSON.stringify(message), reply.status >= 500 || reply.status === 429,
      { status: reply.status, method, path: new URL(url).pathname, retryAfter });
  }

  /** Uploads an OTA payload the way memfault-cli does: open an upload, PUT the file, create the release payload. */
  async uploadOtaPayload(file: string, meta: { hardwareVersion: string; softwareType: string; softwareVersion: string; notes?: string; revision?: string; extraInfo?: { [key: string]: string }; filename: string; mustPassThrough?: boolean }): Promise<any> {
    const slot = await this.call('POST', this.projectUrl('/upload'), {});
    const put = await this.send('PUT', slot.upload_url, { path: file, size: statSync(file).size }, false, 'application/octet-stream');
    const received = this.decode(put, 'PUT', slot.upload_url);
    return this.call('POST', this.projectUrl('/releases/ota_payload'), {
      file: { token: slot.token, md5: received.md5, name: meta.filename },
      software_version: { version: meta.softwareVersion, software_type: meta.softwareType, revision: meta.revision ?? '' },
      hardware_version: meta.hardwareVersion, notes: meta.notes ?? '', must_pass_through: Boolean(meta.mustPassThrough), extra_info: meta.extraInfo ?? {},
    });
  }

  /** POST deployments (normal, or staged_rollout below 100 percent). */
  deploy(releaseVersion: string, cohort: string, rolloutPercent: number, allowDowngrade: boolean): Promise<any> {
    return this.call('POST', this.projectUrl('/deployments'), {
      type: rolloutPercent < 100 ? 'staged_rollout' : 'normal', release: releaseVersion, cohort, rollout_percent: rolloutPercent, allow_downgrade: allowDowngrade,
    });
  }

  /** GET deployments filtered by cohort and release. */
  deployments(cohort?: string, release?: string): Promise<any[]> {
    const query = new URLSearchParams();
    if (cohort !== undefined) query.set('cohort', cohort);
    if (release !== undefined) query.set('release', release);
    return this.call('GET', this.projectUrl(`/deployments?${query}`));
  }

  /** DELETE deployments/{id}: deactivates it. */
  deactivate(id: number): Promise<any> {
    return this.call('DELETE', this.projectUrl(`/deployments/${id}`));
  }

  /** Every device. */
  devices(): Promise<any[]> { return this.call('GET', this.projectUrl('/devices')); }
  /** Every cohort with device count and active deployment. */
  cohorts(): Promise<any[]> { return this.call('GET', this.projectUrl('/cohorts')); }
  /** Creates a cohort. */
  createCohort(name: string): Promise<any> { return this.call('POST', this.projectUrl('/cohorts'), { name, slug: name }); }
  /** Every release with its artifacts. */
  releases(): Promise<any[]> { return this.call('GET', this.projectUrl('/releases')); }
  /** Moves a device to a cohort. */
  moveDevice(serial: string, cohort: string): Promise<any> {
    return this.call('PATCH', this.projectUrl(`/devices/${encodeURIComponent(serial)}`), { cohort });
  }
  /** The fault rules in force. */
  faults(): Promise<any[]> { return this.call('GET', `${this.connection.url}/api/v0/mock/faults`); }
  /** Adds a fault rule. */
  addFault(spec: { [key: string]: unknown }): Promise<any> { return this.call('POST', `${this.connection.url}/api/v0/mock/faults`, spec); }
  /** Removes one fault rule, or all when `id` is undefined. */
  clearFaults(id?: number): Promise<any> {
    return this.call('DELETE', `${this.connection.url}/api/v0/mock/faults${id === undefined ? '' : `/${id}`}`);
  }
}

/**
 * Checks a name against the backend's rule before anything is sent: a cohort slug, a release version or a device
 * serial that breaks it can never exist, so "no cohort X, create it" would send the user round in circles (exit 2).
 */
export function checkName(kind: 'cohort' | 'release-version' | 'serial', flag: string, value: string): string {
  const rules = {
    cohort: [SLUG, 'a cohort slug is 1-64 lower-case letters, digits, "-" and "_", starting with a letter or digit'],
    'release-version': [VERSION_LIKE, 'a release version is 1-128 characters of letters, digits, space and -_.+:\\()[]/'],
    serial: [SERIAL, 'a device serial is 1-128 letters, digits, "-" and "_"'],
  } as const;
  const [rule, text] = rules[kind];
  if (!rule.test(value)) throw new UsageError(`${flag}: ${text}, got ${JSON.stringify(value.slice(0, 200))}`);
  return value;
}

/** Statuses that mean "not now" rather than "no": rate limited, overloaded, or a gateway with no backend behind it. */
const UNAVAILABLE_STATUSES = [429, 502, 503, 504, 529];

/** Runs an admin command: resolves the connection, maps failures to exit codes and messages that name the fix. */
export async function withAdmin(args: ParsedArgs, io: CliIo, name: string, action: (client: AdminClient) => Promise<number>): Promise<number> {
  const client = new AdminClient(connectionOf(args, io));
  try {
    return await action(client);
  } catch (error) {
    const e = error as { code?: string; message?: string; details?: { status?: number; retryAfter?: string } };
    if (typeof e.code !== 'string' || typeof e.message !== 'string') throw error;
    const status = e.details?.status;
    let message = e.message;
    if (status === 401 || status === 403) {
      message = `${e.message} — pass the org token of this backend (--org-token or MEMFAULT_ORG_TOKEN), or --data naming the data directory whose server.json holds it`;
    }
    // Memfault's status table: wait and retry on these; a script tells them from a refusal by exit code 3.
    const unavailable = status !== undefined && UNAVAILABLE_STATUSES.indexOf(status) >= 0;
    if (unavailable) message += ` — the backend is unavailable or limiting requests (HTTP ${status}); retry ${e.details?.retryAfter !== undefined ? `after ${e.details.retryAfter} (Retry-After)` : 'later'}`;
    io.err(`ota ${name}: ${message} [${e.code}]\n`);
    return e.code === 'backend-unreachable' || e.code === 'backend-timeout' || unavailable ? EXIT_UNAVAILABLE : EXIT_FAILURE;
  }
}

/** Lays rows out in aligned columns (the first row is the header). */
export function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => { widths[i] = Math.max(widths[i] ?? 0, cell.length); });
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]))).join('  ')).join('\n') + '\n';
}

/** Prints `value` as one JSON document. */
export function printJson(io: CliIo, value: unknown): void {
  io.out(JSON.stringify(value, null, 2) + '\n');
}
