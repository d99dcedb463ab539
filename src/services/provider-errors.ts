import { AppError, type ErrorCode } from '../errors.js';
import { ProviderError } from '../identity/errors.js';

// GoTrue's error_code → idgraph's taxonomy. The GoTrue code travels along as
// extensions.upstreamCode; sign-in failures stay enumeration-safe because the
// provider already answers them so.
const byUpstream: Record<string, ErrorCode> = {
  invalid_credentials: 'invalid_credentials',
  email_not_confirmed: 'invalid_credentials',
  phone_not_confirmed: 'invalid_credentials',
  user_already_exists: 'email_exists',
  email_exists: 'email_exists',
  phone_exists: 'email_exists',
  weak_password: 'weak_password',
  user_banned: 'account_suspended',
  over_request_rate_limit: 'rate_limited',
  over_email_send_rate_limit: 'rate_limited',
  over_sms_send_rate_limit: 'rate_limited',
  otp_expired: 'invalid_otp',
  mfa_verification_failed: 'invalid_otp',
  mfa_challenge_expired: 'otp_expired',
  otp_disabled: 'forbidden',
  signup_disabled: 'forbidden',
  not_admin: 'forbidden',
  mfa_ip_address_mismatch: 'forbidden',
  insufficient_aal: 'mfa_required',
  no_authorization: 'unauthenticated',
  bad_jwt: 'unauthenticated',
  session_not_found: 'unauthenticated',
  session_expired: 'unauthenticated',
  refresh_token_not_found: 'unauthenticated',
  refresh_token_already_used: 'unauthenticated',
  user_not_found: 'not_found',
  identity_not_found: 'not_found',
  mfa_factor_not_found: 'not_found',
  flow_state_not_found: 'not_found',
  single_identity_not_deletable: 'conflict',
  identity_already_exists: 'conflict',
  mfa_factor_name_conflict: 'conflict',
  too_many_enrolled_mfa_factors: 'conflict',
};

/** Turns a provider failure into an AppError; anything that is not a ProviderError passes through. */
export function fromProviderError(error: unknown): unknown {
  if (!(error instanceof ProviderError)) return error;
  let code: ErrorCode = byUpstream[error.errorCode] ?? (error.status >= 500 ? 'upstream_unavailable' : 'bad_request');
  // session_not_found is the caller's own dead session (403), or a session id they asked about (404).
  if (error.errorCode === 'session_not_found' && error.status === 404) code = 'not_found';
  // id_token failures come back OAuth-style; they are about the external token.
  if (error.extra.oauth && error.errorCode === 'validation_failed' && error.extra.oauth !== 'invalid_request') code = 'provider_token_invalid';
  const extensions: Record<string, unknown> = { upstreamCode: error.errorCode };
  if (error.extra.weakPassword) extensions.reasons = error.extra.weakPassword.reasons;
  if (error.extra.retryAfterSeconds) extensions.retryAfterSeconds = error.extra.retryAfterSeconds;
  if (code === 'mfa_required') extensions.reason = 'no_mfa';
  // Sign-in failures keep one message whatever the cause; others keep the provider's words.
  const message = code === 'invalid_credentials' || code === 'upstream_unavailable' ? undefined : error.message;
  return new AppError(code, message, extensions, { cause: error });
}

/** Runs a provider call, translating its errors. */
export async function viaProvider<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw fromProviderError(error);
  }
}
