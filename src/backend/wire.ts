// The admin API's JSON shapes (snake_case, as Memfault's API writes them) of the model objects.
import type { Artifact, Cohort, Deployment, Device, Release } from './model.js';
import type { FaultRule } from './faults.js';

/** An artifact as JSON. */
export function artifactWire(a: Artifact): unknown {
  return { id: a.id, hardware_version: a.hardwareVersion, software_type: a.softwareType, filename: a.filename, file_size: a.fileSize,
    md5: a.md5, sha1: a.sha1, sha256: a.sha256, type: 'firmware', extra_info: a.extraInfo, created_date: a.createdDate };
}

/** A release as JSON. */
export function releaseWire(r: Release): unknown {
  return { id: r.id, version: r.version, notes: r.notes, revision: r.revision, must_pass_through: r.mustPassThrough,
    created_date: r.createdDate, artifacts: r.artifacts.map(artifactWire) };
}

/** A deployment as JSON. */
export function deploymentWire(d: Deployment): unknown {
  return { id: d.id, type: d.type, release: { version: d.releaseVersion }, cohort: { slug: d.cohort }, rollout_percent: d.rolloutPercent,
    allow_downgrade: d.allowDowngrade, status: d.status, created_date: d.createdDate, updated_date: d.updatedDate };
}

/** A device as JSON. */
export function deviceWire(d: Device): unknown {
  return { device_serial: d.serial, hardware_version: d.hardwareVersion, cohort: { slug: d.cohort }, created_date: d.createdDate,
    last_seen: d.lastSeen ?? null, software_version: d.lastVersion ?? null, software_type: d.lastSoftwareType ?? null };
}

/** A cohort (with count and active deployment) as JSON. */
export function cohortWire(c: Cohort & { deviceCount: number; deployment: Deployment | null }): unknown {
  return { name: c.name, slug: c.slug, created_date: c.createdDate, device_count: c.deviceCount, deployment: c.deployment ? deploymentWire(c.deployment) : null };
}

/** A fault rule as JSON (its own camelCase shape: it is ours, not Memfault's). */
export function faultWire(f: FaultRule): unknown {
  return { ...f };
}
