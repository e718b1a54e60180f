import type { IncomingMessage, ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import { isOtaError } from '../util/errors.js';
import { adminError, statusOf } from './admin-errors.js';
import type { BackendContext } from './context.js';
import { answerStatusFault } from './fault-response.js';
import { parseFaultSpec } from './faults.js';
import { readJsonBody, sendError, sendJson } from './http-util.js';
import type { ReleaseAdmin } from './release-admin.js';
import { cohortWire, deploymentWire, deviceWire, faultWire, releaseWire } from './wire.js';

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The org token a request carries: Basic auth (any user name, token as password), Bearer, or Memfault-Org-Token. */
export function tokenOf(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (typeof header === 'string') {
    if (/^basic /i.test(header)) {
      const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      return colon >= 0 ? decoded.slice(colon + 1) : decoded;
    }
    if (/^bearer /i.test(header)) return header.slice(7).trim();
  }
  const custom = req.headers['memfault-org-token'];
  return typeof custom === 'string' ? custom : undefined;
}

function body(value: unknown): { [key: string]: unknown } {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw adminError(400, 'body-not-object', 'request body must be a JSON object');
  return value as { [key: string]: unknown };
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw adminError(400, 'bad-path', `malformed percent-encoding in path segment ${JSON.stringify(segment.slice(0, 80))}`);
  }
}

function field(object: unknown, name: string): unknown {
  return object !== null && typeof object === 'object' ? (object as { [key: string]: unknown })[name] : undefined;
}

/** A JSON boolean field: absent or null is false; anything but true/false (e.g. the string "false") is a 400. */
function optionalBoolean(object: unknown, name: string): boolean {
  const value = field(object, name);
  if (value === undefined || value === null) return false;
  if (typeof value !== 'boolean') throw adminError(400, 'invalid-field', `${name} must be true or false (a JSON boolean), got ${JSON.stringify(value).slice(0, 80)}`);
  return value;
}

/**
 * The admin JSON API, authenticated by the org token: Memfault's project routes under
 * `/api/v0/organizations/<org>/projects/<project>/` (upload, releases/ota_payload, releases, deployments,
 * devices, cohorts) plus the mock's own `/api/v0/mock/` routes (uploads, faults, info).
 */
export async function handleAdmin(ctx: BackendContext, admin: ReleaseAdmin, req: IncomingMessage, res: ServerResponse, path: string, query: string): Promise<void> {
  try {
    // The mock's control routes (faults, info) are exempt from `admin`/`any` faults: a fault must never lock out the
    // API that removes it. Upload slots (/api/v0/mock/uploads/…) are part of the upload workflow and stay faultable.
    const control = path === '/api/v0/mock/info' || path === '/api/v0/mock/faults' || path.startsWith('/api/v0/mock/faults/');
    // Only a status fault acts on an admin answer (parseFaultSpec refuses other kinds on this route).
    if (!control && answerStatusFault(res, ctx.faults.take('admin', undefined, (rule) => rule.kind === 'status'))) return;
    const method = req.method ?? 'GET';
    const upload = /^\/api\/v0\/mock\/uploads\/([0-9a-f]{32})$/.exec(path);
    if (upload) {
      // Like a presigned storage URL, the unguessable token is the credential.
      if (method !== 'PUT') throw adminError(405, 'method-not-allowed', 'upload slots take PUT');
      const declared = Number(req.headers['content-length'] ?? '0');
      if (declared > ctx.settings.maxUploadBytes) throw adminError(413, 'payload-too-large', `upload of ${declared} bytes exceeds the limit of ${ctx.settings.maxUploadBytes} bytes`);
      const result = await admin.receiveUpload(upload[1], req);
      sendJson(res, { data: result });
      return;
    }
    const token = tokenOf(req);
    if (token === undefined) {
      sendError(res, 401, 'Authentication required: pass the organization token (--org-token / MEMFAULT_ORG_TOKEN)', { 'WWW-Authenticate': 'Basic realm="ota-mock"', 'x-error-code': 'auth-required' });
      req.resume();
      return;
    }
    if (!sameSecret(token, ctx.store.state.orgToken)) {
      sendError(res, 403, 'The organization token is not valid for this backend', { 'x-error-code': 'auth-invalid' });
      req.resume();
      return;
    }
    const params = new URLSearchParams(query);
    if (path === '/api/v0/mock/info' && method === 'GET') {
      sendJson(res, { data: { org: ctx.store.state.org, project: ctx.store.state.project, base_url: ctx.baseUrl, cdn_base_url: ctx.cdnBaseUrl } });
      return;
    }
    if (path === '/api/v0/mock/faults') {
      if (method === 'GET') { sendJson(res, { data: ctx.faults.list().map(faultWire) }); return; }
      if (method === 'POST') {
        const spec = await readJsonBody(req, ctx.settings.maxJsonBytes);
        let rule;
        try {
          rule = ctx.faults.add(parseFaultSpec(spec));
        } catch (error) {
          throw isOtaError(error) ? adminError(400, error.code, error.message) : error;
        }
        sendJson(res, { data: faultWire(rule) }, 201);
        return;
      }
      if (method === 'DELETE') { const count = ctx.faults.list().length; ctx.faults.clear(); sendJson(res, { data: { removed: count } }); return; }
      throw adminError(405, 'method-not-allowed', `${method} is not allowed on ${path}`);
    }
    const fault = /^\/api\/v0\/mock\/faults\/([0-9]{1,9})$/.exec(path);
    if (fault && method === 'DELETE') {
      if (!ctx.faults.remove(Number(fault[1]))) throw adminError(404, 'fault-not-found', `no fault rule ${fault[1]}`);
      sendJson(res, { data: { removed: 1 } });
      return;
    }
    const project = /^\/api\/v0\/organizations\/([^/]+)\/projects\/([^/]+)(\/.*)?$/.exec(path);
    if (!project) throw adminError(404, 'not-found', `no admin route ${method} ${path}`);
    const state = ctx.store.state;
    if (decode(project[1]) !== state.org || decode(project[2]) !== state.project) {
      throw adminError(404, 'project-not-found', `no project ${project[1]}/${project[2]}; this backend serves organization "${state.org}", project "${state.project}" (--org, --project)`);
    }
    const rest = project[3] ?? '/';
    const route = `${method} ${rest}`;
    if (route === 'POST /upload') {
      req.resume();
      const slot = admin.openUpload();
      sendJson(res, { data: { upload_url: slot.uploadUrl, token: slot.token } });
      return;
    }
    if (route === 'POST /releases/ota_payload') {
      const input = body(await readJsonBody(req, ctx.settings.maxJsonBytes));
      const file = field(input, 'file');
      const software = field(input, 'software_version');
      const tokenValue = field(file, 'token');
      const extra = field(input, 'extra_info');
      try {
        const release = admin.createPayload(typeof tokenValue === 'string' ? tokenValue : '', {
          hardwareVersion: field(input, 'hardware_version') as string,
          softwareType: field(software, 'software_type') as string,
          softwareVersion: field(software, 'version') as string,
          revision: (field(software, 'revision') as string | undefined) ?? undefined,
          notes: (field(input, 'notes') as string | undefined) ?? undefined,
          mustPassThrough: optionalBoolean(input, 'must_pass_through'),
          extraInfo: (extra ?? undefined) as { [key: string]: string } | undefined,
          filename: (field(file, 'name') as string | undefined) ?? undefined,
          md5: (field(file, 'md5') as string | undefined) ?? undefined,
        });
        sendJson(res, { data: releaseWire(release) });
      } catch (error) {
        if (typeof tokenValue === 'string') admin.discardUpload(tokenValue);
        throw error;
      }
      return;
    }
    if (route === 'GET /releases') {
      sendJson(res, { data: admin.releases().map(releaseWire), paging: { item_count: Object.keys(state.releases).length } });
      return;
    }
    const releaseMatch = /^\/releases\/([^/]+)$/.exec(rest);
    if (releaseMatch && method === 'GET') {
      const release = state.releases[decode(releaseMatch[1])];
      if (!release) throw adminError(404, 'release-not-found', `no release ${decode(releaseMatch[1])}`);
      sendJson(res, { data: releaseWire(release) });
      return;
    }
    if (route === 'GET /deployments') {
      const cohort = params.get('cohort') ?? undefined;
      const release = params.get('release') ?? undefined;
      sendJson(res, { data: admin.deployments(cohort, release).map(deploymentWire) });
      return;
    }
    if (route === 'POST /deployments') {
      const input = body(await readJsonBody(req, ctx.settings.maxJsonBytes));
      const releaseField = field(input, 'release');
      const cohortField = field(input, 'cohort');
      const percent = field(input, 'rollout_percent');
      const type = field(input, 'type');
      if (type !== undefined && type !== null && type !== 'normal' && type !== 'staged_rollout') {
        throw adminError(400, 'invalid-field', `type must be "normal" or "staged_rollout" (or left out: it follows from rollout_percent), got ${JSON.stringify(type).slice(0, 80)}`);
      }
      const deployment = admin.deploy({
        releaseVersion: (typeof releaseField === 'object' ? field(releaseField, 'version') : releaseField) as string,
        cohort: (typeof cohortField === 'object' ? field(cohortField, 'slug') : cohortField) as string,
        rolloutPercent: percent === undefined || percent === null ? undefined : percent as number,
        allowDowngrade: optionalBoolean(input, 'allow_downgrade'),
        type: type === null ? undefined : type as 'normal' | 'staged_rollout' | undefined,
      });
      sendJson(res, { data: deploymentWire(deployment) }, 201);
      return;
    }
    const deploymentMatch = /^\/deployments\/([0-9]{1,12})$/.exec(rest);
    if (deploymentMatch && method === 'DELETE') {
      sendJson(res, { data: deploymentWire(admin.deactivate(Number(deploymentMatch[1]))) });
      return;
    }
    const abortMatch = /^\/cohorts\/([^/]+)\/deployment$/.exec(rest);
    if (abortMatch && method === 'DELETE') {
      sendJson(res, { data: deploymentWire(admin.abortRollout(decode(abortMatch[1]))) });
      return;
    }
    if (route === 'GET /devices') { sendJson(res, { data: admin.devices().map(deviceWire) }); return; }
    if (route === 'POST /devices') {
      const input = body(await readJsonBody(req, ctx.settings.maxJsonBytes));
      const cohortField = field(input, 'cohort');
      const device = admin.createDevice(field(input, 'device_serial') as string, field(input, 'hardware_version') as string,
        cohortField === undefined ? undefined : (typeof cohortField === 'object' ? field(cohortField, 'slug') : cohortField) as string);
      sendJson(res, { data: deviceWire(device) });
      return;
    }
    const deviceMatch = /^\/devices\/([^/]+)$/.exec(rest);
    if (deviceMatch && method === 'PATCH') {
      const input = body(await readJsonBody(req, ctx.settings.maxJsonBytes));
      const cohortField = field(input, 'cohort');
      const device = admin.moveDevice(decode(deviceMatch[1]), (typeof cohortField === 'object' ? field(cohortField, 'slug') : cohortField) as string);
      sendJson(res, { data: deviceWire(device) });
      return;
    }
    if (route === 'GET /cohorts') { sendJson(res, { data: admin.cohorts().map(cohortWire) }); return; }
    if (route === 'POST /cohorts') {
      const input = body(await readJsonBody(req, ctx.settings.maxJsonBytes));
      const cohort = admin.createCohort(field(input, 'name') as string, field(input, 'slug') as string | undefined);
      sendJson(res, { data: cohort });
      return;
    }
    throw adminError(404, 'not-found', `no admin route ${method} ${rest} under the project`);
  } catch (error) {
    const status = statusOf(error);
    const message = isOtaError(error) ? error.message : 'internal error';
    if (status === 500) ctx.log(`admin error: ${error instanceof Error ? error.stack : JSON.stringify(error)}`);
    if (!res.headersSent) {
      const headers: { [name: string]: string } = isOtaError(error) ? { 'x-error-code': error.code } : {};
      // A refused body is not read to its end: say so and close, so the client stops sending it.
      if (!req.complete) headers.Connection = 'close';
      sendError(res, status, message, headers);
      req.resume();
    } else res.destroy();
  }
}
