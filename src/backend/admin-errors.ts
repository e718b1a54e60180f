import { otaError, type OtaError } from '../util/errors.js';

/** An admin-API refusal: an OtaError whose `details.status` is the HTTP status to answer with. */
export function adminError(status: number, code: string, message: string, details: { [key: string]: unknown } = {}): OtaError {
  return otaError(code, message, status === 503 || status === 429, { ...details, status });
}

/** The HTTP status an error maps to (500 when it carries none). */
export function statusOf(error: unknown): number {
  const details = (error as { details?: { status?: unknown } } | null)?.details;
  return typeof details?.status === 'number' ? details.status : 500;
}
