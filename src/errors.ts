import { GraphQLError } from 'graphql';

// The error taxonomy of REALM.md. Every error idgraph returns carries exactly one
// of these codes (extensions.code on GraphQL, error_code on REST). REST answers
// with the status given here; /graphql only when the whole request is refused
// (README, "GraphQL over HTTP"). Messages are safe to show: they never say
// whether an account exists or echo a secret.
export const errorCatalog = {
  // token verification
  malformed: { status: 401, message: 'The access token is malformed.' },
  wrong_algorithm: { status: 401, message: 'The access token uses an algorithm that is not allowed.' },
  bad_signature: { status: 401, message: 'The access token signature is invalid.' },
  wrong_issuer: { status: 401, message: 'The access token was issued by an unknown issuer.' },
  wrong_audience: { status: 401, message: 'The access token is not meant for this audience.' },
  expired: { status: 401, message: 'The access token has expired.' },
  not_yet_valid: { status: 401, message: 'The access token is not valid yet.' },
  unknown_kid: { status: 401, message: 'The access token was signed with an unknown key.' },
  jwks_fetch_failed: { status: 503, message: 'The signing keys could not be fetched.' },
  token_revoked: { status: 401, message: 'The access token has been revoked.' },
  // authentication flow
  unauthenticated: { status: 401, message: 'Authentication is required.' },
  invalid_credentials: { status: 400, message: 'Invalid login credentials.' },
  provider_token_invalid: { status: 401, message: 'The identity provider token is invalid.' },
  mfa_required: { status: 403, message: 'Multi-factor authentication is required.' },
  session_limit_reached: { status: 403, message: 'The session limit has been reached.' },
  tenant_required: { status: 400, message: 'A tenant must be selected for this operation.' },
  tenant_invalid: { status: 403, message: 'The tenant is not available to this user.' },
  account_suspended: { status: 403, message: 'The account is suspended.' },
  account_deactivated: { status: 403, message: 'The account is deactivated.' },
  realm_origin_mismatch: { status: 403, message: 'The request origin is not allowed for this realm.' },
  missing_origin: { status: 403, message: 'The request must carry an Origin header.' },
  weak_password: { status: 422, message: 'The password is too weak.' },
  email_exists: { status: 422, message: 'A user with this email address has already been registered.' },
  // OTP primitive
  invalid_otp: { status: 400, message: 'The code is invalid.' },
  otp_expired: { status: 400, message: 'The code has expired.' },
  otp_locked: { status: 429, message: 'Too many attempts; the code is locked.' },
  otp_not_found: { status: 404, message: 'No such code.' },
  invalid_purpose: { status: 400, message: 'The purpose must match ^[a-z][a-z0-9_]{0,63}$.' },
  invalid_subject_ref: { status: 400, message: 'The subject reference is invalid.' },
  // management and generic
  forbidden: { status: 403, message: 'You are not allowed to do this.' },
  not_found: { status: 404, message: 'Not found.' },
  conflict: { status: 409, message: 'The request conflicts with the current state.' },
  rate_limited: { status: 429, message: 'Too many requests; retry later.' },
  bad_request: { status: 400, message: 'The request is invalid.' },
  upstream_unavailable: { status: 503, message: 'A service idgraph depends on is unavailable.' },
  server_error: { status: 500, message: 'Unexpected error.' },
  last_owner: { status: 409, message: 'A tenant must keep at least one owner.' },
  role_in_use: { status: 409, message: 'The role is still attached to members or invitations.' },
  role_exists: { status: 409, message: 'A role with this name already exists.' },
  system_role_immutable: { status: 409, message: 'System roles cannot be changed or deleted.' },
  // transport additions (not in the seeds): limits enforced before any resolver runs
  payload_too_large: { status: 413, message: 'The request body is too large.' },
  query_too_complex: { status: 400, message: 'The query exceeds the depth, cost, alias or token limits.' },
  unavailable: { status: 503, message: 'The service is not ready.' },
  // A subscriber that fell too far behind: resubscribe with the last cursor received (extensions.cursor).
  subscription_overflow: { status: 503, message: 'The subscriber fell too far behind; resubscribe from the last cursor received.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof errorCatalog;

export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message?: string,
    readonly extensions: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(message ?? errorCatalog[code].message, options);
    this.name = 'AppError';
    this.status = errorCatalog[code].status;
  }
}

/** Keeps guards on one line: `assertThat(tenant, 'not_found')`. */
export function assertThat(
  condition: unknown,
  code: ErrorCode,
  message?: string,
  extensions?: Record<string, unknown>,
): asserts condition {
  if (!condition) throw new AppError(code, message, extensions);
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(errorCatalog, value);
}

/**
 * Yoga's hint for the HTTP status of a GraphQL response (never sent to clients). `spec` marks a GraphQL request
 * error: answered 200 under application/json and with `status` under application/graphql-response+json.
 */
export interface HttpHint {
  status: number;
  spec?: boolean;
  headers?: Record<string, string>;
}

/**
 * The GraphQL error a client sees for an AppError. It carries an HTTP status only when `http` is given: a field
 * error is part of a 200 response, and src/server/graphql-errors.ts decides which other errors set a status.
 */
export function toGraphQLError(error: AppError, base?: GraphQLError, http?: HttpHint): GraphQLError {
  return new GraphQLError(error.message, {
    nodes: base?.nodes,
    source: base?.source,
    positions: base?.positions,
    path: base?.path,
    extensions: { ...error.extensions, code: error.code, ...(http ? { http } : {}) },
  });
}

/** The JSON body of a REST error, with the same code. */
export function restErrorBody(error: AppError, requestId?: string) {
  return { code: error.status, error_code: error.code, msg: error.message, ...(requestId ? { request_id: requestId } : {}) };
}
