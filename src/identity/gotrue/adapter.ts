import { ProviderError, providerErrors } from '../errors.js';
import type { IdentityProvider } from '../provider.js';
import type { AccessTokenClaims, AccessTokenResponse } from '../types.js';
import type { GotrueClient, GenerateLinkRequest, SignUpRequest } from './client.js';

type Loose<T> = T & Record<string, unknown>;

/** User routes need the caller's token; without one GoTrue would answer the same, one round trip later. */
function required(accessToken: string | null): string {
  if (!accessToken) throw providerErrors.noAuthorization();
  return accessToken;
}

const notOffered = (what: string) => new ProviderError(404, 'feature_disabled', `${what} is not offered by GoTrue`);

/**
 * The IdentityProvider port over a GoTrue server. Bodies pass through as
 * GoTrue's shapes (the port speaks them already); the port's few calls with no
 * GoTrue route say so with feature_disabled.
 */
export function createGotrueProvider({ client }: { client: GotrueClient }): IdentityProvider {
  return {
    kind: 'gotrue',
    signUp: (body, meta, redirectTo) => client.signup(body as SignUpRequest, meta, redirectTo),
    token: (grantType, body, meta, accessToken) => client.token(grantType, body, meta, accessToken),
    logout: async (accessToken, scope) => client.logout(required(accessToken), scope),
    sendOtp: (body, meta, redirectTo) => client.otp(body as Loose<{ email: string }>, meta, redirectTo),
    recover: (body, meta, redirectTo) => client.recover(body as Loose<{ email: string }>, meta, redirectTo),
    resend: (body, meta, redirectTo) => client.resend(body as Loose<{ email: string; type: 'signup' }>, meta, redirectTo),
    verify: (body, meta) => client.verify(body as Loose<{ type: string; token_hash: string }>, meta),

    async verifyLink(token, type, meta) {
      const { location } = await client.verifyLink({ token, type }, meta);
      const url = new URL(location, 'http://invalid');
      const code = url.searchParams.get('code');
      if (code) return { code };
      const fragment = new URLSearchParams(url.hash.slice(1));
      const accessToken = fragment.get('access_token');
      if (!accessToken) {
        throw new ProviderError(403, fragment.get('error_code') ?? 'otp_expired', fragment.get('error_description') ?? 'Email link is invalid or has expired');
      }
      const session: AccessTokenResponse = {
        access_token: accessToken,
        token_type: 'bearer',
        expires_in: Number(fragment.get('expires_in')),
        expires_at: Number(fragment.get('expires_at')),
        refresh_token: fragment.get('refresh_token') ?? '',
        // The fragment carries no user; GoTrue's own clients fetch it the same way.
        user: await client.getUser(accessToken),
      };
      return { session };
    },

    getUser: async (accessToken) => client.getUser(required(accessToken)),
    updateUser: async (accessToken, body, meta, redirectTo) => client.updateUser(required(accessToken), body, meta, redirectTo),
    reauthenticate: async (accessToken, meta) => client.reauthenticate(required(accessToken), meta),
    unlinkIdentity: async (accessToken, identityId) => client.deleteIdentity(required(accessToken), identityId),
    listSessions: async () => {
      throw notOffered('Listing sessions');
    },
    revokeSession: async () => {
      throw notOffered('Ending a single session by id');
    },

    enrollFactor: async (accessToken, body) => client.enrollFactor(required(accessToken), body as Loose<{ factor_type: 'totp' }>),
    challengeFactor: async (accessToken, factorId, body, meta) => client.challengeFactor(required(accessToken), factorId, body, meta),
    verifyFactor: (accessToken, factorId, body, meta) =>
      client.verifyFactor(required(accessToken), factorId, body as Loose<{ challenge_id: string }>, meta),
    unenrollFactor: async (accessToken, factorId) => client.unenrollFactor(required(accessToken), factorId),

    /** GoTrue's check is GET /user (signature, session row, user, ban); the claims are then the token's own. */
    async verifyAccessToken(accessToken) {
      const token = required(accessToken);
      await client.getUser(token);
      return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as AccessTokenClaims;
    },

    settings: () => client.settings(),
    health: () => client.health(),
    jwks: () => client.jwks(),
    openidConfiguration: () => client.openidConfiguration(),

    admin: {
      authorize: async (accessToken) => client.admin.authorize(required(accessToken)),
      async listUsers(page, perPage) {
        const { users, total, aud } = await client.admin.listUsers(page, perPage);
        return { users, total, aud };
      },
      getUser: (id) => client.admin.getUser(id),
      createUser: (body) => client.admin.createUser(body),
      updateUser: (id, body) => client.admin.updateUser(id, body),
      deleteUser: (id, softDelete) => client.admin.deleteUser(id, softDelete),
      generateLink: (body, redirectTo) => client.admin.generateLink(body as Loose<GenerateLinkRequest>, redirectTo),
      inviteUser: (body, redirectTo) => client.admin.invite(body as Loose<{ email: string }>, redirectTo),
      listFactors: (userId) => client.admin.listFactors(userId),
      deleteFactor: (userId, factorId) => client.admin.deleteFactor(userId, factorId),
    },
  };
}
