import { compareVersions } from '../util/version.js';
import { activeDeployment } from './model.js';
import type { Artifact, BackendState, Release } from './model.js';
import { inRollout } from './rollout.js';

/** What the device API answers a check with. */
export type Selection =
  | { kind: 'offer'; release: Release; artifact: Artifact }
  /** The device already runs the release its cohort targets: 204 `memfault-reason: latest`. */
  | { kind: 'latest'; release: Release; why: 'current' | 'downgrade-refused' }
  /** Nothing for this device; `why` goes to the mock-only `x-mock-reason` header. */
  | { kind: 'none'; why: 'no-deployment' | 'not-in-rollout' | 'no-artifact' };

/**
 * Picks the update for a device in `cohort` with `hardwareVersion` (its sticky one) asking for `softwareType`.
 * `currentVersion` undefined means "give me the latest": the target is offered whatever runs now.
 */
export function selectRelease(state: BackendState, serial: string, cohort: string, hardwareVersion: string, softwareType: string, currentVersion: string | undefined): Selection {
  const deployment = activeDeployment(state, cohort);
  if (!deployment) return { kind: 'none', why: 'no-deployment' };
  const release = state.releases[deployment.releaseVersion];
  if (!release) return { kind: 'none', why: 'no-deployment' };
  if (!inRollout(serial, release.version, deployment.rolloutPercent)) return { kind: 'none', why: 'not-in-rollout' };
  if (currentVersion !== undefined && currentVersion === release.version) return { kind: 'latest', release, why: 'current' };
  const artifact = release.artifacts.find((a) => a.hardwareVersion === hardwareVersion && a.softwareType === softwareType);
  if (!artifact) return { kind: 'none', why: 'no-artifact' };
  if (currentVersion !== undefined && !deployment.allowDowngrade && compareVersions(release.version, currentVersion) < 0) {
    // Nothing newer than what runs: "latest", as far as the device is concerned.
    return { kind: 'latest', release, why: 'downgrade-refused' };
  }
  return { kind: 'offer', release, artifact };
}
