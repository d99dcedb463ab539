import type { ProviderError } from './errors.js';
import type { AccessTokenClaims, AccessTokenResponse, Factor, RequestMeta, Settings, User } from './types.js';

export type { AccessTokenClaims, AccessTokenResponse, Factor, RequestMeta, Settings, User };
export type { ProviderError };

export type Body = Record<string, unknown>;

export interface SessionInfo {
  id: string;
  aal: 'aal1' | 'aal2';
  createdAt: Date;
  refreshedAt: Date | null;
  ip: string | null;
  userAgent: string | null;
}
export type LogoutScope = 'global' | 'local' | 'others';

/**
 * The identity-provider port. GraphQL resolvers and the /auth/v1 routes depend
 * on this only. Two adapters implement it: the embedded engine
 * (identity/embedded) and the GoTrue HTTP client (identity/gotrue). Methods take
 * and return GoTrue's shapes and fail with ProviderError (status + error_code).
 * User-scoped methods take the caller's access token, as GoTrue's user routes do.
 */
export interface IdentityProvider {
  readonly kind: 'embedded' | 'gotrue';

  signUp(body: Body, meta: RequestMeta, redirectTo?: string): Promise<User | AccessTokenResponse>;
  /** POST /token?grant_type=… (password, refresh_token, pkce, id_token). */
  token(grantType: string, body: Body, meta: RequestMeta, accessToken?: string | null): Promise<AccessTokenResponse>;
  /** `meta` is the request's (its address goes into the event the engine records); `byAdmin`: the service role signs the user out. */
  logout(accessToken: string | null, scope: LogoutScope, meta?: RequestMeta, byAdmin?: boolean): Promise<void>;
  sendOtp(body: Body, meta: RequestMeta, redirectTo?: string): Promise<{ message_id?: string }>;
  recover(body: Body, meta: RequestMeta, redirectTo?: string): Promise<Record<string, never>>;
  resend(body: Body, meta: RequestMeta, redirectTo?: string): Promise<{ message_id?: string }>;
  verify(body: Body, meta: RequestMeta): Promise<AccessTokenResponse>;
  /** GET /verify: a link's token; a PKCE link yields an auth code, others a session. */
  verifyLink(token: string, type: string, meta: RequestMeta): Promise<{ session: AccessTokenResponse } | { code: string }>;

  getUser(accessToken: string | null): Promise<User>;
  updateUser(accessToken: string | null, body: Body, meta: RequestMeta, redirectTo?: string): Promise<User>;
  reauthenticate(accessToken: string | null, meta: RequestMeta): Promise<{ message_id?: string }>;
  unlinkIdentity(accessToken: string | null, identityId: string): Promise<Record<string, never>>;
  /** The caller's sessions (newest first), and ending one of them by id. */
  listSessions(accessToken: string | null): Promise<SessionInfo[]>;
  revokeSession(accessToken: string | null, sessionId: string, meta?: RequestMeta): Promise<void>;

  enrollFactor(accessToken: string | null, body: Body): Promise<Record<string, unknown>>;
  challengeFactor(accessToken: string | null, factorId: string, body: Body, meta: RequestMeta): Promise<{ id: string; type: string; expires_at: number }>;
  verifyFactor(accessToken: string | null, factorId: string, body: Body, meta: RequestMeta): Promise<AccessTokenResponse>;
  unenrollFactor(accessToken: string | null, factorId: string, meta?: RequestMeta): Promise<{ id: string }>;

  /** Verifies an access token as this provider's user routes do (signature, session, user). */
  verifyAccessToken(accessToken: string | null): Promise<AccessTokenClaims>;

  settings(): Promise<Settings>;
  health(): Promise<{ version: string; name: string; description: string }>;
  jwks(): Promise<{ keys: Record<string, unknown>[] }>;
  openidConfiguration(): Promise<Record<string, unknown>>;

  admin: {
    /** Throws not_admin / bad_jwt / no_authorization unless the token carries an admin role. */
    authorize(accessToken: string | null): Promise<void>;
    listUsers(page: number, perPage: number): Promise<{ users: User[]; total: number; aud: string }>;
    getUser(id: string): Promise<User>;
    createUser(body: Body): Promise<User>;
    updateUser(id: string, body: Body): Promise<User>;
    deleteUser(id: string, softDelete: boolean): Promise<Record<string, never>>;
    generateLink(body: Body, redirectTo?: string): Promise<Record<string, unknown>>;
    inviteUser(body: Body, redirectTo?: string): Promise<User>;
    listFactors(userId: string): Promise<Factor[]>;
    deleteFactor(userId: string, factorId: string): Promise<Factor>;
  };
}
