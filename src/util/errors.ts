/**
 * The one error shape of the whole project. Errors are plain objects, never `extends Error`: Espruino cannot
 * subclass Error, and a plain object survives a trip through a QuickJS bridge or a JSON log unchanged.
 */
export interface OtaError {
  /** Stable, kebab-case identifier a program can branch on, e.g. `flash-misaligned`. */
  code: string;
  /** What was expected, what was found, and what to do. */
  message: string;
  /** True when the same operation may succeed if tried again later (network, transient server state). */
  retryable: boolean;
  /** Structured facts for logs and tests (offsets, status codes, names). Never secrets. */
  details?: { [key: string]: unknown };
  /** The underlying error (a Node error, a parse error), kept for diagnostics. */
  cause?: unknown;
}

/** Makes an OtaError. Every throw and rejection in the project goes through here. */
export function otaError(code: string, message: string, retryable: boolean, details?: { [key: string]: unknown }, cause?: unknown): OtaError {
  const error: OtaError = { code: code, message: message, retryable: retryable };
  if (details !== undefined) error.details = details;
  if (cause !== undefined) error.cause = cause;
  return error;
}

/** True for objects made by otaError (or shaped like them). */
export function isOtaError(value: unknown): value is OtaError {
  if (value === null || typeof value !== 'object') return false;
  const candidate = value as { code?: unknown; message?: unknown; retryable?: unknown };
  return typeof candidate.code === 'string' && typeof candidate.message === 'string' && typeof candidate.retryable === 'boolean';
}

/** Turns anything thrown into an OtaError, keeping OtaErrors as they are. */
export function toOtaError(value: unknown, fallbackCode: string, retryable: boolean): OtaError {
  if (isOtaError(value)) return value;
  const text = value !== null && typeof value === 'object' && typeof (value as { message?: unknown }).message === 'string'
    ? (value as { message: string }).message
    : String(value);
  return otaError(fallbackCode, text, retryable, undefined, value);
}

/**
 * Rethrows `error` marked as the device's failure (flash, a co-processor) rather than the payload's: what the journal
 * holds as durable is still good, so the download resumes from there instead of from byte 0.
 */
export function deviceFailure(error: unknown): never {
  const failure = toOtaError(error, 'device-write-failed', true);
  // A copy: a part that lost power hands the same error object to every later operation.
  const details: { [key: string]: unknown } = {};
  const given = failure.details;
  const keys = given !== undefined ? Object.keys(given) : [];
  for (let i = 0; i < keys.length; i++) details[keys[i]] = (given as { [key: string]: unknown })[keys[i]];
  details.device = true;
  throw otaError(failure.code, failure.message, failure.retryable, details, failure.cause);
}
