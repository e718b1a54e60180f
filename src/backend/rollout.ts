import { createHash } from 'node:crypto';

/**
 * The stable rollout bucket (0..99) of a device for a release: a staged rollout at P percent includes exactly the
 * devices whose bucket is below P. Salting with the release version spreads different rollouts over different
 * devices, and raising P for the same release only ever adds devices.
 */
export function rolloutBucket(serial: string, releaseVersion: string): number {
  const digest = createHash('sha256').update(`${releaseVersion}\n${serial}`).digest();
  return digest.readUInt32BE(0) % 100;
}

/** True when the device belongs to a rollout of `releaseVersion` at `percent`. */
export function inRollout(serial: string, releaseVersion: string, percent: number): boolean {
  return percent >= 100 || rolloutBucket(serial, releaseVersion) < percent;
}
