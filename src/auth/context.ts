import { sha256Hex } from '../crypto.js';
import { AppError } from '../errors.js';
import type { ApiKeyAuthenticator, PlatformTokenClaims } from './api-key.js';
import type { RevocationList } from './revocation.js';
import type { AccessTokenClaims } from '../identity/types.js';
import type { TokenVerifier } from './verify.js';
import type { Viewer } from './viewer.js';

/**
 * What a user's access token must pass on every surface, GraphQL and the
 * embedded engine's /auth/v1 alike: the verifier (signature, key, claims), then
 * the denylist (its jti, its session, its user's sign-outs). GraphQL also
 * refuses a user whom the realm suspended or deactivated; /auth/v1 leaves that
 * to the engine's own bans, so such a user's session can still be closed.
 */
export function createAccessTokenCheck({ verifier, revocations }: { verifier: TokenVerifier; revocations: RevocationList }) {
  /** The claims of a token that verified, with its jti, once the denylist (and, with `status`, the user's status) allows it. */
  async function admit(token: string, verified: AccessTokenClaims, { status = true } = {}): Promise<AccessTokenClaims & { jti: string }> {
    // GoTrue mints no jti: the token's own hash names it, so one token can still be denied alone (switchTenant, MFA step-up).
    const claims = { ...verified, jti: verified.jti ?? `sha256:${sha256Hex(token).slice(0, 32)}` };
    const state = await revocations.accessState(claims);
    if (status) {
      // Suspension and deactivation take effect on the user's next request (and say so, though they end the sessions too).
      if (state.status === 'suspended') throw new AppError('account_suspended');
      if (state.status === 'deactivated') throw new AppError('account_deactivated');
    }
    if (state.revoked) throw new AppError('token_revoked');
    return claims;
  }
  return {
    admit,
    /** /auth/v1's check: verified and not revoked; every failure is one taxonomy code. */
    accept: async (token: string) => admit(token, await verifier.verify(token), { status: false }),
  };
}

export type AccessTokenCheck = ReturnType<typeof createAccessTokenCheck>;

/**
 * Who is calling: from `Authorization: Bearer <token>` or `ApiKey <key>` on
 * HTTP/SSE, or `connectionParams.authorization` on graphql-ws. No header is an
 * anonymous caller; a header that does not verify is an error with its taxonomy code.
 */
export function createViewerResolver({
  verifier,
  accessTokens,
  apiKeys,
}: {
  verifier: TokenVerifier;
  accessTokens: AccessTokenCheck;
  apiKeys: ApiKeyAuthenticator;
}) {
  return async function resolveViewer(authorization: string | null | undefined): Promise<Viewer | null> {
    if (!authorization) return null;
    const header = authorization.trim();
    const apiKey = /^ApiKey(?:\s+(.*))?$/i.exec(header);
    if (apiKey) return apiKeys.authenticate(apiKey[1] ?? '');
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) throw new AppError('malformed', 'The Authorization header must be "Bearer <access token>" or "ApiKey <key>".');
    const verified = await verifier.verify(match[1]!);
    // A platform token lives and dies with the API key it was exchanged for.
    const platform = verified as typeof verified & PlatformTokenClaims;
    if (platform.api_key_id !== undefined) return apiKeys.authenticateToken(platform);
    const claims = await accessTokens.admit(match[1]!, verified);
    return {
      userId: claims.sub,
      sessionId: claims.session_id ?? null,
      jti: claims.jti,
      expiresAt: new Date(claims.exp * 1000),
      aal: claims.aal === 'aal2' ? 'aal2' : 'aal1',
      mfaAt: claims.mfa_at ? new Date(claims.mfa_at * 1000) : null,
      tenantId: claims.tenant_id ?? null,
      tenantRole: claims.tenant_role ?? null,
      serviceRole: claims.role === 'service_role',
      apiKey: null,
    };
  };
}

export type ViewerResolver = ReturnType<typeof createViewerResolver>;
