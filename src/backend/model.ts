// The mock backend's persistent data model: one organization, one project, its devices, cohorts, releases and
// deployments. Field names follow Memfault's JSON where a real API shows them (snake_case on the wire is made
// by the API layers; the model itself is camelCase).

/** One OTA payload of a release: the file for one hardware version and software type. */
export interface Artifact {
  id: number;
  hardwareVersion: string;
  softwareType: string;
  /** The file name given at upload (metadata only; the file is stored under its SHA-256). */
  filename: string;
  fileSize: number;
  md5: string;
  sha1: string;
  sha256: string;
  extraInfo: { [key: string]: string };
  createdDate: string;
}

/** A software version with its payloads. */
export interface Release {
  id: number;
  version: string;
  notes: string;
  revision: string;
  mustPassThrough: boolean;
  createdDate: string;
  artifacts: Artifact[];
}

/** Deployment of a release to a cohort; `pulled` once deactivated (aborted). */
export interface Deployment {
  id: number;
  type: 'normal' | 'staged_rollout';
  releaseVersion: string;
  cohort: string;
  rolloutPercent: number;
  allowDowngrade: boolean;
  status: 'in_progress' | 'done' | 'pulled';
  createdDate: string;
  updatedDate: string;
}

/** A group of devices that receives one deployment at a time. */
export interface Cohort {
  name: string;
  slug: string;
  createdDate: string;
}

/** A device, created on its first request (or by the admin API). Its hardware version never changes. */
export interface Device {
  serial: string;
  hardwareVersion: string;
  cohort: string;
  createdDate: string;
  lastSeen?: string;
  /** The current_version of its last request, when it sent one. */
  lastVersion?: string;
  lastSoftwareType?: string;
}

/** Everything the backend persists in `state.json`. */
export interface BackendState {
  schema: 1;
  org: string;
  project: string;
  projectKey: string;
  orgToken: string;
  /** HMAC key of the CDN's signed URLs (hex). */
  urlSecret: string;
  nextId: number;
  cohorts: { [slug: string]: Cohort };
  devices: { [serial: string]: Device };
  releases: { [version: string]: Release };
  deployments: Deployment[];
}

/** The deployment currently active for a cohort (in progress or done, not pulled), or null. */
export function activeDeployment(state: BackendState, cohort: string): Deployment | null {
  for (let i = state.deployments.length - 1; i >= 0; i--) {
    const deployment = state.deployments[i];
    if (deployment.cohort === cohort) return deployment.status === 'pulled' ? null : deployment;
  }
  return null;
}

/**
 * The state's maps re-made without a prototype. Serials, versions and slugs are user input: "__proto__" is a valid
 * serial and "constructor" a valid version, and neither may reach Object.prototype or find inherited members.
 */
export function withSafeMaps(state: BackendState): BackendState {
  state.cohorts = Object.assign(Object.create(null), state.cohorts);
  state.devices = Object.assign(Object.create(null), state.devices);
  state.releases = Object.assign(Object.create(null), state.releases);
  return state;
}
