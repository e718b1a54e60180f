import { createReadStream } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { adminError } from './admin-errors.js';
import type { BackendContext } from './context.js';
import type { Artifact, Cohort, Deployment, Device, Release } from './model.js';
import { activeDeployment } from './model.js';
import type { StagedUpload } from './payload-store.js';

/** What a device serial may be (Memfault's rule): the admin API refuses anything else. */
export const SERIAL = /^[-a-zA-Z0-9_]{1,128}$/;
const SOFTWARE_TYPE = /^[-a-zA-Z0-9_.+:]{1,128}$/;
/** What a release version or hardware version may be (Memfault's current rule). */
export const VERSION_LIKE = /^[-a-zA-Z0-9_.+:\\()[\]/ ]{1,128}$/;
/** What a cohort slug may be. */
export const SLUG = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const MAX_PENDING_UPLOADS = 64;

/** Metadata of an OTA payload upload, named after memfault-cli's flags. */
export interface PayloadMetadata {
  hardwareVersion: string;
  softwareType: string;
  softwareVersion: string;
  notes?: string;
  revision?: string;
  mustPassThrough?: boolean;
  extraInfo?: { [key: string]: string };
  /** Shown as the artifact's file name; defaults to `<software-type>-<version>.bin`. */
  filename?: string;
  /** When given, the upload must have this MD5 (hex or base64). */
  md5?: string;
}

/** A deployment request, named after memfault-cli's flags. */
export interface DeployRequest {
  releaseVersion: string;
  cohort: string;
  /** 1..100; below 100 makes a staged rollout. Default 100. */
  rolloutPercent?: number;
  /** Offer the release to devices that run a newer version. */
  allowDowngrade?: boolean;
  /** Follows from the percentage (staged_rollout below 100); when given it must agree with it. */
  type?: 'normal' | 'staged_rollout';
}

function checkText(value: unknown, pattern: RegExp, field: string, rule: string): string {
  if (typeof value !== 'string' || !pattern.test(value)) throw adminError(400, 'invalid-field', `${field} must be ${rule}, got ${JSON.stringify(value === undefined ? null : value).slice(0, 140)}`);
  return value;
}

function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

/** Checks an upload's display file name: one plain path segment, so nothing can be made to point elsewhere. */
export function checkFilename(name: unknown): string {
  if (typeof name !== 'string' || name.length === 0 || name.length > 255 || name === '.' || name === '..' ||
    /[/\\]/.test(name) || hasControl(name) || name.includes('..')) {
    throw adminError(400, 'invalid-filename', `file name must be one path segment without "..", slashes or control characters, got ${JSON.stringify(String(name)).slice(0, 140)}`);
  }
  return name;
}

function md5Matches(given: string, hex: string): boolean {
  if (given.toLowerCase() === hex) return true;
  return Buffer.from(given, 'base64').toString('hex') === hex;
}

/** Release management over the backend state: what the admin API, the CLI and tests call. */
export class ReleaseAdmin {
  private readonly pending = new Map<string, StagedUpload | null>();

  /** Works on the shared backend context (state, payload store, settings). */
  constructor(private readonly ctx: BackendContext) {}

  private nowIso(): string {
    return new Date(this.ctx.now()).toISOString();
  }

  /** Opens an upload slot (the first step of Memfault's upload): a token and the URL to PUT the bytes to. */
  openUpload(): { token: string; uploadUrl: string } {
    this.ctx.store.assertOpen();
    if (this.pending.size >= MAX_PENDING_UPLOADS) {
      const oldest = this.pending.keys().next().value as string;
      const staged = this.pending.get(oldest);
      if (staged) this.ctx.payloads.discard(staged);
      this.pending.delete(oldest);
    }
    const token = randomBytes(16).toString('hex');
    this.pending.set(token, null);
    return { token, uploadUrl: `${this.ctx.baseUrl}/api/v0/mock/uploads/${token}` };
  }

  /** Receives the bytes of an opened upload (streamed to disk, size-limited). */
  async receiveUpload(token: string, body: Readable): Promise<{ size: number; md5: string }> {
    this.ctx.store.assertOpen();
    if (!this.pending.has(token)) throw adminError(404, 'upload-unknown', 'no open upload with this token; start with POST .../upload');
    const staged = await this.ctx.payloads.stage(body, this.ctx.settings.maxUploadBytes).catch((error: unknown) => {
      const code = (error as { code?: string }).code;
      throw code === 'payload-too-large' ? adminError(413, 'payload-too-large', (error as Error).message) : error;
    });
    const previous = this.pending.get(token);
    if (previous) this.ctx.payloads.discard(previous);
    if (!this.pending.has(token)) {
      this.ctx.payloads.discard(staged);
      throw adminError(404, 'upload-unknown', 'the upload slot expired while receiving');
    }
    this.pending.set(token, staged);
    return { size: staged.size, md5: staged.md5 };
  }

  /** Turns a received upload into a release artifact (creating the release if new). 409 when the artifact exists. */
  createPayload(token: string, meta: PayloadMetadata): Release {
    const staged = this.pending.get(token);
    if (!staged) throw adminError(400, 'upload-unknown', 'file.token does not name a completed upload; PUT the file to the upload_url first');
    if (staged.size === 0) {
      throw adminError(400, 'payload-empty', 'the uploaded file is empty (0 bytes); a payload holds at least one byte: check the build output you uploaded');
    }
    const version = checkText(meta.softwareVersion, VERSION_LIKE, 'software_version.version', '1-128 characters of [-a-zA-Z0-9_.+:\\()[]/ ]');
    const softwareType = checkText(meta.softwareType, SOFTWARE_TYPE, 'software_version.software_type', '1-128 characters of [-a-zA-Z0-9_.+:]');
    const hardwareVersion = checkText(meta.hardwareVersion, VERSION_LIKE, 'hardware_version', '1-128 characters of [-a-zA-Z0-9_.+:\\()[]/ ]');
    const filename = checkFilename(meta.filename ?? `${softwareType}-${version}.bin`);
    const notes = meta.notes ?? '';
    if (typeof notes !== 'string' || notes.length > 10_000) throw adminError(400, 'invalid-field', 'notes must be a string of at most 10000 characters');
    const extraInfo = meta.extraInfo ?? {};
    if (typeof extraInfo !== 'object' || extraInfo === null || Array.isArray(extraInfo) || Object.entries(extraInfo).some(([k, v]) => typeof v !== 'string' || k.length === 0 || k.length > 128 || v.length > 1024)) {
      throw adminError(400, 'invalid-field', 'extra_info must map keys (1-128 characters) to strings (at most 1024 characters)');
    }
    if (meta.md5 !== undefined && !md5Matches(String(meta.md5), staged.md5)) {
      throw adminError(400, 'md5-mismatch', `file.md5 ${meta.md5} does not match the uploaded bytes (md5 ${staged.md5}); upload again`);
    }
    const existing = this.ctx.store.state.releases[version];
    const clash = existing ? existing.artifacts.find((a) => a.hardwareVersion === hardwareVersion && a.softwareType === softwareType) : undefined;
    if (clash) {
      // memfault-cli treats 409 as "already uploaded"; the code says whether the bytes are the same.
      const same = clash.sha256 === staged.sha256;
      throw adminError(409, same ? 'artifact-exists-identical' : 'artifact-exists',
        `release ${version} already has a ${softwareType} payload for hardware version ${hardwareVersion}${same ? ' with the same bytes' : ' with different bytes'}`);
    }
    const stored = this.ctx.payloads.commit(staged);
    this.pending.delete(token);
    const release = this.ctx.store.transact((state) => {
      const now = this.nowIso();
      let target = state.releases[version];
      if (!target) {
        target = { id: state.nextId++, version, notes, revision: meta.revision ?? '', mustPassThrough: Boolean(meta.mustPassThrough), createdDate: now, artifacts: [] };
        state.releases[version] = target;
      }
      const artifact: Artifact = {
        id: state.nextId++, hardwareVersion, softwareType, filename, fileSize: stored.size, md5: stored.md5, sha1: stored.sha1,
        sha256: stored.sha256, extraInfo: { ...extraInfo }, createdDate: now,
      };
      target.artifacts.push(artifact);
      return structuredClone(target);
    });
    this.ctx.reindex();
    return release;
  }

  /** Uploads a payload from a file path or bytes in one call (programmatic shortcut of the three HTTP steps). */
  async uploadPayload(file: string | Uint8Array, meta: PayloadMetadata): Promise<Release> {
    const slot = this.openUpload();
    const source = typeof file === 'string' ? createReadStream(file) : Readable.from([Buffer.from(file)]);
    await this.receiveUpload(slot.token, source);
    try {
      return this.createPayload(slot.token, meta);
    } catch (error) {
      this.discardUpload(slot.token);
      throw error;
    }
  }

  /** Drops an upload slot and its bytes. */
  discardUpload(token: string): void {
    const staged = this.pending.get(token);
    if (staged) this.ctx.payloads.discard(staged);
    this.pending.delete(token);
  }

  /** Deploys a release to a cohort (a staged rollout below 100 percent); it supersedes the cohort's previous deployment. */
  deploy(request: DeployRequest): Deployment {
    const version = request.releaseVersion;
    if (typeof version !== 'string' || version === '') throw adminError(400, 'invalid-field', 'release (the release version) is required');
    if (typeof request.cohort !== 'string' || request.cohort === '') throw adminError(400, 'invalid-field', 'cohort (a cohort slug) is required');
    if (!this.ctx.store.state.releases[version]) {
      throw adminError(404, 'release-not-found', `no release ${JSON.stringify(version)} in this project`, { release: version });
    }
    if (typeof request.cohort !== 'string' || !this.ctx.store.state.cohorts[request.cohort]) {
      throw adminError(404, 'cohort-not-found', `no cohort ${JSON.stringify(request.cohort)} in this project`, { cohort: request.cohort });
    }
    const percent = request.rolloutPercent ?? 100;
    if (typeof percent !== 'number' || !Number.isInteger(percent) || percent < 1 || percent > 100) {
      throw adminError(400, 'invalid-field', `rollout_percent must be an integer from 1 to 100, got ${JSON.stringify(percent)}`);
    }
    const type = percent < 100 ? 'staged_rollout' : 'normal';
    if (request.type !== undefined && request.type !== type) {
      throw adminError(400, 'invalid-field', `type ${JSON.stringify(request.type)} contradicts rollout_percent ${percent}: a deployment below 100 percent is ` +
        '"staged_rollout", at 100 percent "normal"; leave type out (it follows from rollout_percent) or make them agree');
    }
    if (request.allowDowngrade !== undefined && typeof request.allowDowngrade !== 'boolean') {
      throw adminError(400, 'invalid-field', `allow_downgrade must be true or false, got ${JSON.stringify(request.allowDowngrade)}`);
    }
    return this.ctx.store.transact((state) => {
      const now = this.nowIso();
      for (const old of state.deployments) if (old.cohort === request.cohort && old.status === 'in_progress') { old.status = 'done'; old.updatedDate = now; }
      const deployment: Deployment = {
        id: state.nextId++, type, releaseVersion: version, cohort: request.cohort,
        rolloutPercent: percent, allowDowngrade: request.allowDowngrade === true, status: 'in_progress', createdDate: now, updatedDate: now,
      };
      state.deployments.push(deployment);
      return { ...deployment };
    });
  }

  /** Deactivates (aborts) a deployment by id: it is marked pulled and its cohort is offered nothing. */
  deactivate(id: number): Deployment {
    const found = this.ctx.store.state.deployments.find((d) => d.id === id);
    if (!found) throw adminError(404, 'deployment-not-found', `no deployment with id ${id}`);
    if (found.status === 'pulled') throw adminError(409, 'deployment-pulled', `deployment ${id} was already deactivated`);
    return this.ctx.store.transact((state) => {
      const deployment = state.deployments.find((d) => d.id === id) as Deployment;
      deployment.status = 'pulled';
      deployment.updatedDate = this.nowIso();
      return { ...deployment };
    });
  }

  /** Aborts the active deployment of a cohort (`ota abort-rollout`). */
  abortRollout(cohort: string): Deployment {
    if (!this.ctx.store.state.cohorts[cohort]) throw adminError(404, 'cohort-not-found', `no cohort ${JSON.stringify(cohort)} in this project`, { cohort });
    const active = activeDeployment(this.ctx.store.state, cohort);
    if (!active) throw adminError(404, 'deployment-not-found', `cohort ${cohort} has no active deployment to deactivate`, { cohort });
    return this.deactivate(active.id);
  }

  /** Creates a cohort. 409 when the slug exists. */
  createCohort(name: string, slug?: string): Cohort {
    const finalSlug = checkText(slug ?? name, SLUG, 'slug', 'lower-case letters, digits, "-" and "_" (1-64, starting with a letter or digit)');
    if (typeof name !== 'string' || name.length === 0 || name.length > 128) throw adminError(400, 'invalid-field', 'name must be 1-128 characters');
    if (this.ctx.store.state.cohorts[finalSlug]) throw adminError(409, 'cohort-exists', `cohort ${finalSlug} already exists`);
    return this.ctx.store.transact((state) => {
      const cohort: Cohort = { name, slug: finalSlug, createdDate: this.nowIso() };
      state.cohorts[finalSlug] = cohort;
      return { ...cohort };
    });
  }

  /** Registers a device ahead of its first request (Memfault's POST devices). 409 when it exists. */
  createDevice(serial: string, hardwareVersion: string, cohort = 'default'): Device {
    checkText(serial, SERIAL, 'device_serial', '1-128 characters of [-a-zA-Z0-9_]');
    checkText(hardwareVersion, VERSION_LIKE, 'hardware_version', '1-128 characters of [-a-zA-Z0-9_.+:\\()[]/ ]');
    if (this.ctx.store.state.devices[serial]) throw adminError(409, 'device-exists', `device ${serial} already exists`);
    if (!this.ctx.store.state.cohorts[cohort]) throw adminError(404, 'cohort-not-found', `no cohort ${JSON.stringify(cohort)} in this project`, { cohort });
    const device = this.ctx.store.transact((state) => {
      const created: Device = { serial, hardwareVersion, cohort, createdDate: this.nowIso() };
      state.devices[serial] = created;
      return { ...created };
    });
    this.ctx.reindex();
    return device;
  }

  /** Moves a device to another cohort (Memfault's PATCH devices/{serial}). */
  moveDevice(serial: string, cohort: string): Device {
    if (typeof cohort !== 'string' || cohort === '') throw adminError(400, 'invalid-field', 'cohort (a cohort slug) is required');
    if (typeof serial !== 'string' || !this.ctx.store.state.devices[serial]) throw adminError(404, 'device-not-found', `no device ${JSON.stringify(serial)}; devices appear on their first request (or create one with POST .../devices)`, { serial });
    if (typeof cohort !== 'string' || !this.ctx.store.state.cohorts[cohort]) throw adminError(404, 'cohort-not-found', `no cohort ${JSON.stringify(cohort)} in this project`, { cohort });
    return this.ctx.store.transact((state) => {
      const device = state.devices[serial];
      device.cohort = cohort;
      return { ...device };
    });
  }

  /** Every device, by serial. */
  devices(): Device[] {
    return Object.values(this.ctx.store.state.devices).map((d) => ({ ...d })).sort((a, b) => (a.serial < b.serial ? -1 : a.serial > b.serial ? 1 : 0));
  }

  /** Every cohort with its device count and active deployment. */
  cohorts(): (Cohort & { deviceCount: number; deployment: Deployment | null })[] {
    const state = this.ctx.store.state;
    const counts: { [slug: string]: number } = Object.create(null);
    for (const device of Object.values(state.devices)) counts[device.cohort] = (counts[device.cohort] ?? 0) + 1;
    return Object.values(state.cohorts).map((c) => {
      const active = activeDeployment(state, c.slug);
      return { ...c, deviceCount: counts[c.slug] ?? 0, deployment: active ? { ...active } : null };
    });
  }

  /** Every release, oldest first. */
  releases(): Release[] {
    return Object.values(this.ctx.store.state.releases).map((r) => structuredClone(r)).sort((a, b) => a.id - b.id);
  }

  /** Deployments, optionally filtered by cohort and release version. */
  deployments(cohort?: string, releaseVersion?: string): Deployment[] {
    return this.ctx.store.state.deployments
      .filter((d) => (cohort === undefined || d.cohort === cohort) && (releaseVersion === undefined || d.releaseVersion === releaseVersion))
      .map((d) => ({ ...d }));
  }
}
