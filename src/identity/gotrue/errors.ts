import { ProviderError } from '../errors.js';

type ErrorBody = {
  code?: unknown;
  error_code?: unknown;
  msg?: unknown;
  message?: unknown;
  error?: unknown;
  error_description?: unknown;
  weak_password?: { reasons?: unknown };
};

const text = (value: unknown) => (typeof value === 'string' && value ? value : undefined);

/** Why GoTrue could not be used at all: the caller sees upstream_unavailable (503). */
export const upstreamUnavailable = (reason: string, retryAfterSeconds?: number) =>
  new ProviderError(503, 'upstream_unavailable', `The identity provider is unavailable: ${reason}`, retryAfterSeconds ? { retryAfterSeconds } : {});

/**
 * A GoTrue error answer as a ProviderError (GOTRUE.md §2). The three shapes:
 * versioned `{code:"<error_code>", message}`, legacy `{code:<status>, error_code, msg}`,
 * and OAuth-style `{error, error_description}`; weak_password reasons ride along.
 */
export function parseGotrueError(status: number, body: unknown, retryAfter?: string | null): ProviderError {
  const data: ErrorBody = body && typeof body === 'object' && !Array.isArray(body) ? (body as ErrorBody) : {};
  const seconds = retryAfter ? Number.parseInt(retryAfter, 10) : Number.NaN;
  const extra: ProviderError['extra'] = Number.isFinite(seconds) && seconds > 0 ? { retryAfterSeconds: seconds } : {};
  const reasons = data.weak_password?.reasons;
  if (Array.isArray(reasons)) extra.weakPassword = { reasons: reasons.filter((r): r is string => typeof r === 'string') };

  const oauth = text(data.error);
  if (oauth && data.code === undefined && data.error_code === undefined) {
    return new ProviderError(status, 'validation_failed', text(data.error_description) ?? oauth, { ...extra, oauth });
  }
  const errorCode = text(data.error_code) ?? text(data.code) ?? (status >= 500 ? 'unexpected_failure' : 'unknown');
  const message = text(data.msg) ?? text(data.message) ?? text(data.error_description) ?? oauth ?? `GoTrue answered ${status}`;
  return new ProviderError(status, errorCode, message, extra);
}
