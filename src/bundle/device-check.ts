import type { Manifest } from './manifest.js';
import type { ImageTarget, TargetStatus } from '../../hal/image-target.js';
import { compareVersions } from '../util/version.js';
import { otaError } from '../util/errors.js';

// The checks that depend on the device rather than the bundle: hardware, software-type mapping, capacity,
// anti-rollback and requirements. They run after the header authenticates and before any flash is touched.

/** The device as the unpacker sees it. */
export interface DeviceProfile {
  /** This board's hardware version; the manifest must list it. */
  hardwareVersion: string;
  /** One target per software type the device can update; the device, never the payload, decides where bytes go. */
  targets: ImageTarget[];
  /** Sequence number of the last confirmed bundle (0 when none): older bundles are refused. */
  installedSequence: number;
}

/** The target that takes `softwareType`, or null. */
export function targetFor<T extends { softwareType: string }>(targets: T[], softwareType: string): T | null {
  for (let i = 0; i < targets.length; i++) if (targets[i].softwareType === softwareType) return targets[i];
  return null;
}

/** Checks a part's type is mapped and fits; returns its target. */
export function placePart(targets: ImageTarget[], softwareType: string, size: number): ImageTarget {
  const target = targetFor(targets, softwareType);
  if (target === null) {
    const known: string[] = [];
    for (let i = 0; i < targets.length; i++) known.push(targets[i].softwareType);
    throw otaError('part-unmapped', 'The bundle carries software type "' + softwareType + '" but this device has no target for ' +
      'it (it updates: ' + known.join(', ') + '). Build a bundle for this device; nothing was written.', false,
    { softwareType: softwareType });
  }
  if (size > target.capacity()) {
    throw otaError('part-too-large', 'Part "' + softwareType + '" is ' + size + ' bytes but its slot holds ' + target.capacity() +
      '; nothing was written.', false, { softwareType: softwareType, size: size, capacity: target.capacity() });
  }
  return target;
}

/** The version `softwareType` will run once the release is active: the bundle's part, else what runs now. */
function versionAfter(manifest: Manifest, running: TargetStatus[], softwareType: string): string | null {
  for (let i = 0; i < manifest.parts.length; i++) if (manifest.parts[i].softwareType === softwareType) return manifest.parts[i].version;
  for (let i = 0; i < running.length; i++) if (running[i].softwareType === softwareType) return running[i].runningVersion;
  return null;
}

function checkRequirements(manifest: Manifest, running: TargetStatus[]): void {
  for (let i = 0; i < manifest.parts.length; i++) {
    const part = manifest.parts[i];
    for (let r = 0; r < part.requires.length; r++) {
      const need = part.requires[r];
      const have = versionAfter(manifest, running, need.softwareType);
      if (have === null || compareVersions(have, need.minVersion) < 0) {
        throw otaError('requires-unmet', 'Part "' + part.softwareType + '" ' + part.version + ' requires "' + need.softwareType +
          '" >= ' + need.minVersion + ' but the device would run ' + (have === null ? 'none' : have) + '. Include that part in the ' +
          'bundle or update it first; nothing was written.', false,
        { part: part.softwareType, requires: need.softwareType, minVersion: need.minVersion, found: have });
      }
    }
  }
}

/**
 * Checks the manifest against the device; `sameHeader` is true when resuming the header the journal names (an
 * equal sequence is then the same release, not a replay). Resolves with each part's target, in stream order.
 */
export function checkManifest(manifest: Manifest, device: DeviceProfile, sameHeader: boolean): Promise<ImageTarget[]> {
  return Promise.resolve(null).then(function () {
    let listed = false;
    for (let i = 0; i < manifest.hardwareVersions.length; i++) if (manifest.hardwareVersions[i] === device.hardwareVersion) listed = true;
    if (!listed) {
      throw otaError('hardware-mismatch', 'The bundle is for hardware ' + manifest.hardwareVersions.join(', ') + ' but this device is "' +
        device.hardwareVersion + '"; nothing was written.', false, { hardwareVersion: device.hardwareVersion });
    }
    const placed: ImageTarget[] = [];
    for (let i = 0; i < manifest.parts.length; i++) placed.push(placePart(device.targets, manifest.parts[i].softwareType, manifest.parts[i].size));
    if (manifest.sequence < device.installedSequence || (manifest.sequence === device.installedSequence && !sameHeader)) {
      throw otaError('sequence-not-newer', 'The bundle has sequence ' + manifest.sequence + ' but this device already installed ' +
        device.installedSequence + '; a bundle must be newer (anti-rollback). Nothing was written.', false,
      { sequence: manifest.sequence, installed: device.installedSequence });
    }
    const statuses: Promise<TargetStatus>[] = [];
    for (let i = 0; i < device.targets.length; i++) statuses.push(device.targets[i].status());
    return Promise.all(statuses).then(function (running) {
      checkRequirements(manifest, running);
      return placed;
    });
  });
}
