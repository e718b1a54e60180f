import { otaError } from '../util/errors.js';
import type { BackendState } from './model.js';

// A state.json edited by hand, half-written by another tool or from an older build must be refused with the place
// that is wrong, never loaded with parts silently dropped (the next save would make the loss permanent) nor left to
// crash a request later.

type Json = { [key: string]: unknown };

class Checker {
  constructor(private readonly file: string) {}

  fail(at: string, expected: string, found: unknown): never {
    let shown: string;
    try { shown = JSON.stringify(found) ?? 'undefined'; } catch { shown = String(found); }
    throw otaError('backend-state-corrupt', `${this.file}: ${at} must be ${expected}, found ${shown.slice(0, 80)}; ` +
      'fix it, or move the file away to start with an empty backend', false, { path: this.file, field: at });
  }

  object(value: unknown, at: string): Json {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) this.fail(at, 'an object', value);
    return value as Json;
  }

  text(value: unknown, at: string, allowEmpty = false): string {
    if (typeof value !== 'string' || (!allowEmpty && value === '')) this.fail(at, allowEmpty ? 'a string' : 'a non-empty string', value);
    return value as string;
  }

  optionalText(value: unknown, at: string): void {
    if (value !== undefined && value !== null) this.text(value, at, true);
  }

  int(value: unknown, at: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) this.fail(at, `an integer from ${min} to ${max}`, value);
    return value as number;
  }

  bool(value: unknown, at: string): void {
    if (typeof value !== 'boolean') this.fail(at, 'true or false', value);
  }

  oneOf(value: unknown, at: string, allowed: string[]): void {
    if (typeof value !== 'string' || !allowed.includes(value)) this.fail(at, `one of ${allowed.join(', ')}`, value);
  }

  hex(value: unknown, at: string, digits: number): void {
    if (typeof value !== 'string' || !new RegExp(`^[0-9a-f]{${digits}}$`).test(value)) this.fail(at, `${digits} lower-case hex digits`, value);
  }
}

function key(name: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? `.${name}` : `[${JSON.stringify(name)}]`;
}

/**
 * Checks the shape of a loaded state (every field the backend reads, and that deployments name existing releases
 * and cohorts); throws `backend-state-corrupt` naming the file and the first bad path (e.g. `devices.SN5`).
 */
export function checkState(loaded: unknown, file: string): BackendState {
  const c = new Checker(file);
  const state = c.object(loaded, '(top level)');
  if (state.schema !== 1) {
    throw otaError('backend-state-schema', `${file} has an unknown schema ${JSON.stringify(state.schema)} (expected 1); move it away to start fresh`, false, { path: file });
  }
  for (const name of ['org', 'project', 'projectKey', 'orgToken', 'urlSecret']) c.text(state[name], name);
  c.int(state.nextId, 'nextId', 1);
  const cohorts = c.object(state.cohorts, 'cohorts');
  for (const slug of Object.keys(cohorts)) {
    const at = `cohorts${key(slug)}`;
    const cohort = c.object(cohorts[slug], at);
    c.text(cohort.name, `${at}.name`);
    if (cohort.slug !== slug) c.fail(`${at}.slug`, JSON.stringify(slug), cohort.slug);
    c.text(cohort.createdDate, `${at}.createdDate`);
  }
  const devices = c.object(state.devices, 'devices');
  for (const serial of Object.keys(devices)) {
    const at = `devices${key(serial)}`;
    const device = c.object(devices[serial], at);
    if (device.serial !== serial) c.fail(`${at}.serial`, JSON.stringify(serial), device.serial);
    c.text(device.hardwareVersion, `${at}.hardwareVersion`);
    c.text(device.cohort, `${at}.cohort`);
    if (!Object.prototype.hasOwnProperty.call(cohorts, device.cohort as string)) c.fail(`${at}.cohort`, 'a cohort in "cohorts"', device.cohort);
    c.text(device.createdDate, `${at}.createdDate`);
    for (const name of ['lastSeen', 'lastVersion', 'lastSoftwareType']) c.optionalText(device[name], `${at}.${name}`);
  }
  const releases = c.object(state.releases, 'releases');
  for (const version of Object.keys(releases)) {
    const at = `releases${key(version)}`;
    const release = c.object(releases[version], at);
    c.int(release.id, `${at}.id`, 1);
    if (release.version !== version) c.fail(`${at}.version`, JSON.stringify(version), release.version);
    c.text(release.notes, `${at}.notes`, true);
    c.text(release.revision, `${at}.revision`, true);
    c.bool(release.mustPassThrough, `${at}.mustPassThrough`);
    c.text(release.createdDate, `${at}.createdDate`);
    if (!Array.isArray(release.artifacts)) c.fail(`${at}.artifacts`, 'an array', release.artifacts);
    (release.artifacts as unknown[]).forEach((value, i) => {
      const where = `${at}.artifacts[${i}]`;
      const artifact = c.object(value, where);
      c.int(artifact.id, `${where}.id`, 1);
      c.text(artifact.hardwareVersion, `${where}.hardwareVersion`);
      c.text(artifact.softwareType, `${where}.softwareType`);
      c.text(artifact.filename, `${where}.filename`);
      c.int(artifact.fileSize, `${where}.fileSize`, 0);
      c.hex(artifact.md5, `${where}.md5`, 32);
      c.hex(artifact.sha1, `${where}.sha1`, 40);
      c.hex(artifact.sha256, `${where}.sha256`, 64);
      const extra = c.object(artifact.extraInfo, `${where}.extraInfo`);
      for (const name of Object.keys(extra)) c.text(extra[name], `${where}.extraInfo${key(name)}`, true);
      c.text(artifact.createdDate, `${where}.createdDate`);
    });
  }
  if (!Array.isArray(state.deployments)) c.fail('deployments', 'an array', state.deployments);
  (state.deployments as unknown[]).forEach((value, i) => {
    const at = `deployments[${i}]`;
    const deployment = c.object(value, at);
    c.int(deployment.id, `${at}.id`, 1);
    c.oneOf(deployment.type, `${at}.type`, ['normal', 'staged_rollout']);
    c.text(deployment.releaseVersion, `${at}.releaseVersion`);
    if (!Object.prototype.hasOwnProperty.call(releases, deployment.releaseVersion as string)) c.fail(`${at}.releaseVersion`, 'a version in "releases"', deployment.releaseVersion);
    c.text(deployment.cohort, `${at}.cohort`);
    if (!Object.prototype.hasOwnProperty.call(cohorts, deployment.cohort as string)) c.fail(`${at}.cohort`, 'a cohort in "cohorts"', deployment.cohort);
    c.int(deployment.rolloutPercent, `${at}.rolloutPercent`, 1, 100);
    c.bool(deployment.allowDowngrade, `${at}.allowDowngrade`);
    c.oneOf(deployment.status, `${at}.status`, ['in_progress', 'done', 'pulled']);
    c.text(deployment.createdDate, `${at}.createdDate`);
    c.text(deployment.updatedDate, `${at}.updatedDate`);
  });
  return loaded as BackendState;
}
