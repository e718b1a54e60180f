import { otaError } from '../util/errors.js';
import type { BackendSettings } from './context.js';

// Bounds of the backend's settings: a lifetime below a second or a NaN limit would make every link or check fail in
// ways that look like device bugs, and a string would be concatenated into links.
type NumericSetting = { [K in keyof BackendSettings]: BackendSettings[K] extends number ? K : never }[keyof BackendSettings];
type BooleanSetting = Exclude<keyof BackendSettings, NumericSetting>;
const BOUNDS: { [K in NumericSetting]: [number, number, string] } = {
  urlLifetimeSeconds: [1, 366 * 24 * 3600, 'seconds'],
  dailyRequestLimit: [1, Number.MAX_SAFE_INTEGER, 'requests'],
  expiredLinkStatus: [400, 599, 'an HTTP status'],
  maxUploadBytes: [1, 2 ** 40, 'bytes'],
  maxJsonBytes: [1024, 2 ** 30, 'bytes'],
};
const SWITCHES: { [K in BooleanSetting]: true } = { cdnValidators: true };

/** Throws `backend-settings-invalid` naming the first setting of `change` that is unknown or not a whole number in range. */
export function checkSettings(change: Partial<BackendSettings>): void {
  for (const [name, value] of Object.entries(change)) {
    if (value === undefined) continue;
    if (Object.hasOwn(SWITCHES, name)) {
      if (typeof value !== 'boolean') {
        throw otaError('backend-settings-invalid', `${name} must be true or false, got ${JSON.stringify(value)}.`, false, { field: name, found: value });
      }
      continue;
    }
    const bounds = Object.hasOwn(BOUNDS, name) ? BOUNDS[name as NumericSetting] : undefined;
    if (bounds === undefined) {
      throw otaError('backend-settings-invalid', `There is no backend setting "${name}"; the settings are ${[...Object.keys(BOUNDS), ...Object.keys(SWITCHES)].join(', ')}.`, false, { field: name });
    }
    const [min, max, unit] = bounds;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw otaError('backend-settings-invalid', `${name} must be a whole number of ${unit} from ${min} to ${max}, got ${typeof value === 'number' ? String(value) : JSON.stringify(value)}.`,
        false, { field: name, found: value });
    }
  }
}
