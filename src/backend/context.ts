import type { FaultSet } from './faults.js';
import type { PayloadStore } from './payload-store.js';
import type { StateStore } from './state-store.js';
import type { UrlSigner } from './url-signing.js';

/** Settings every handler reads. */
export interface BackendSettings {
  /** Lifetime of signed CDN links, seconds. */
  urlLifetimeSeconds: number;
  /** Device API requests per device per UTC day before 204 `memfault-reason: rate-limited`. */
  dailyRequestLimit: number;
  /** Status for an expired CDN link (the real one is unverified; 403 is what signed-URL CDNs usually send). */
  expiredLinkStatus: number;
  /** Whether the CDN sends ETag and Last-Modified (the real CDN's are unverified); false: If-Range never keeps a range. */
  cdnValidators: boolean;
  /** Largest payload upload, bytes. */
  maxUploadBytes: number;
  /** Largest JSON request body of the admin API, bytes. */
  maxJsonBytes: number;
}

/** The shared pieces the device API, CDN and admin API work on. */
export interface BackendContext {
  store: StateStore;
  payloads: PayloadStore;
  signer: UrlSigner;
  faults: FaultSet;
  settings: BackendSettings;
  /** Wall clock, milliseconds (injectable for expiry and daily-limit tests). */
  now(): number;
  /** Base URL of the CDN listener, e.g. https://127.0.0.1:40123 (no trailing slash). */
  cdnBaseUrl: string;
  /** Base URL of the device/admin listener. */
  baseUrl: string;
  /** Hardware versions and software types the project knows (400 for any other); rebuilt on admin changes. */
  known: { hardwareVersions: Set<string>; softwareTypes: Set<string> };
  /** Recomputes `known` from the state. */
  reindex(): void;
  /** Per-device request counts of the current UTC day. */
  requestCounts: Map<string, { day: number; count: number }>;
  log(line: string): void;
}

/** Recomputes the known hardware versions and software types of a state. */
export function knownNames(store: StateStore): BackendContext['known'] {
  const hardwareVersions = new Set<string>();
  const softwareTypes = new Set<string>();
  for (const release of Object.values(store.state.releases)) {
    for (const artifact of release.artifacts) {
      hardwareVersions.add(artifact.hardwareVersion);
      softwareTypes.add(artifact.softwareType);
    }
  }
  for (const device of Object.values(store.state.devices)) hardwareVersions.add(device.hardwareVersion);
  return { hardwareVersions, softwareTypes };
}
