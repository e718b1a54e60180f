import { isHex } from '../util/text.js';
import { otaError } from '../util/errors.js';

// The body of GET /api/v0/releases/latest: the release JSON, whose first artifact names the payload's URL, size and
// MD5. Its own module so that a build without MD5 (the Espruino build, see src/espruino/latest-json-omitted.ts) can
// leave the whole releases/latest path out.

/** The fields of the first artifact, checked; `url` is as sent (device-api trims and checks it). */
export interface LatestArtifact {
  url: string;
  version: string | null;
  size: number;
  /** 32 hex digits, lower case. */
  md5: string;
}

/** Parses the release JSON; throws `api-bad-release` when it is not JSON or its first artifact is unusable. */
export function parseLatestJson(text: string): LatestArtifact {
  let parsed: { version?: unknown; artifacts?: unknown };
  try {
    parsed = JSON.parse(text) as { version?: unknown; artifacts?: unknown };
  } catch {
    throw otaError('api-bad-release', 'The device API answered 200 with a body that is not JSON; expected the release object.', false, { status: 200 });
  }
  const artifacts = parsed !== null && typeof parsed === 'object' ? parsed.artifacts : undefined;
  if (!(artifacts instanceof Array) || artifacts.length === 0) {
    throw otaError('api-bad-release', 'The release JSON has no artifacts[]; expected at least one with url, file_size and md5.', false, { status: 200 });
  }
  const artifact = artifacts[0] as { url?: unknown; file_size?: unknown; md5?: unknown };
  if (typeof artifact.url !== 'string' || typeof artifact.file_size !== 'number' || artifact.file_size < 0 ||
    typeof artifact.md5 !== 'string' || !isHex(artifact.md5, 32)) {
    throw otaError('api-bad-release', 'The release artifact lacks a url, a non-negative file_size or a 32-digit md5; found ' +
      JSON.stringify({ url: typeof artifact.url, file_size: artifact.file_size, md5: artifact.md5 }) + '.', false, { status: 200 });
  }
  const version = typeof parsed.version === 'string' ? parsed.version : null;
  return { url: artifact.url, version: version, size: artifact.file_size, md5: artifact.md5.toLowerCase() };
}
