// The mock Memfault-style backend: device API, payload CDN, release management, fault injection.
export { startBackend, type Backend, type BackendOptions } from './server.js';
export type { BackendSettings } from './context.js';
export { FaultSet, parseFaultSpec, type FaultKind, type FaultRoute, type FaultRule, type FaultSpec } from './faults.js';
export { ReleaseAdmin, type DeployRequest, type PayloadMetadata } from './release-admin.js';
export type { Artifact, Cohort, Deployment, Device, Release } from './model.js';
export { rolloutBucket, inRollout } from './rollout.js';
