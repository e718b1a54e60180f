import { otaError } from '../util/errors.js';
import type { LatestArtifact } from '../api/latest-json.js';

// The Espruino build's stand-in for src/api/latest-json.ts, swapped in with src/espruino/md5-omitted.ts (unless
// OTA_ESPRUINO_MD5=1): without MD5 the releases/latest answer cannot be checked, and createEspruinoAgent refuses
// policy.useLatestJson up front, so this only runs if that guard is bypassed.

/** Refuses: this build has no releases/latest path. */
export function parseLatestJson(text: string): LatestArtifact {
  throw otaError('espruino-md5-omitted', 'This Espruino build leaves MD5 and releases/latest out (' + text.length + ' bytes of ' +
    'release JSON not read); use the default releases/latest/url, or build with OTA_ESPRUINO_MD5=1.', false);
}
