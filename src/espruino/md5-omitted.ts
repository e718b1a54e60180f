import { otaError } from '../util/errors.js';

// The Espruino build's stand-in for src/integrity/md5.ts (scripts/build/esbuild-step.mjs swaps it in unless
// OTA_ESPRUINO_MD5=1). MD5 is only needed for releases/latest, whose JSON lists the payload's MD5; the agent's default,
// releases/latest/url, carries none, and a signed bundle carries each part's SHA-256, checked in place. Leaving it
// out saves about 2.3 KB of code (and ~90 variable blocks at load) on the device. createEspruinoAgent refuses
// policy.useLatestJson with this build, so nothing reaches the constructor below.

/** False: this build has no MD5. */
export const MD5_INCLUDED = false;

/** Never constructed in a working configuration; says what to do if it is. */
export class Md5 {
  constructor() {
    throw otaError('md5-omitted', 'This Espruino build has no MD5, which releases/latest needs; use the default ' +
      'releases/latest/url (policy.useLatestJson false), or build with OTA_ESPRUINO_MD5=1.', false);
  }
}

/** No saved MD5 state can be restored without MD5. */
export function restoreMd5(): null {
  return null;
}
