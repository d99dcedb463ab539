/**
 * A GoTrue error: the HTTP status and GoTrue's error_code (GOTRUE.md §2). Both
 * adapters throw it; /auth/v1 renders it in GoTrue's shapes and GraphQL maps
 * it to the idgraph taxonomy with extensions.upstreamCode.
 */
export class ProviderError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: string,
    message: string,
    readonly extra: {
      /** OAuth-style body {error, error_description} instead of the usual shapes. */
      oauth?: string;
      weakPassword?: { reasons: string[] };
      retryAfterSeconds?: number;
    } = {},
  ) {
    super(message);
    this.name = 'ProviderError';
  }
}

export const providerErrors = {
  validation: (message: string) => new ProviderError(400, 'validation_failed', message),
  invalidCredentials: () => new ProviderError(400, 'invalid_credentials', 'Invalid login credentials'),
  noAuthorization: () => new ProviderError(401, 'no_authorization', 'This endpoint requires a valid Bearer token'),
  badJwt: (message = 'invalid JWT: unable to parse or verify signature') => new ProviderError(403, 'bad_jwt', message),
  notAdmin: () => new ProviderError(403, 'not_admin', 'User not allowed'),
  userNotFound: () => new ProviderError(404, 'user_not_found', 'User not found'),
  sessionNotFound: () => new ProviderError(403, 'session_not_found', 'Session from session_id claim in JWT does not exist'),
  otpExpired: () => new ProviderError(403, 'otp_expired', 'Token has expired or is invalid'),
  featureDisabled: (what: string) => new ProviderError(404, 'feature_disabled', `${what} is not available in embedded mode`),
  oauth: (description: string, error = 'invalid_request') => new ProviderError(400, 'validation_failed', description, { oauth: error }),
};
