import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import type { AuthConfig, OidcIssuerConfig } from '../../config.js';
import type { Prisma, PrismaClient } from '../../generated/prisma/client.js';
import { ProviderError } from '../errors.js';
import type { AccessTokenResponse, RequestMeta } from '../types.js';
import type { Accounts } from './accounts.js';
import { sha256Hex } from '../../crypto.js';
import type { SessionManager } from './sessions.js';
import { mergeMetadata, normalizeEmail } from './users.js';

const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512', 'PS256', 'EdDSA'];

/** GoTrue answers id_token failures OAuth-style: {"error":"invalid request","error_description":…}. */
const invalid = (description: string) => new ProviderError(400, 'validation_failed', description, { oauth: 'invalid request' });

export interface IdTokenDeps {
  db: PrismaClient;
  auth: AuthConfig;
  accounts: Accounts;
  sessions: SessionManager;
  clock: () => number;
  fetchJson?: (url: string) => Promise<unknown>;
}

/**
 * The id_token grant (GOTRUE.md §8): exchanges an id_token from a configured
 * OIDC issuer (Authentik, Keycloak, Google...) for a session. Signature via the
 * issuer's JWKS (jose, cached with cooldown), iss, aud, exp, nonce.
 */
export function createIdTokenGrant({ db, auth, accounts, sessions, clock, fetchJson }: IdTokenDeps) {
  const jwksByProvider = new Map<string, ReturnType<typeof createRemoteJWKSet>>();
  const getJson = fetchJson ?? (async (url: string) => (await fetch(url, { signal: AbortSignal.timeout(5000) })).json());

  async function jwksFor(issuer: OidcIssuerConfig) {
    let jwks = jwksByProvider.get(issuer.provider);
    if (!jwks) {
      let uri = issuer.jwksUri;
      if (!uri) {
        const discovery = (await getJson(`${issuer.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`)) as { issuer?: string; jwks_uri?: string };
        if (discovery.issuer !== issuer.issuer || !discovery.jwks_uri) throw invalid('OIDC discovery document does not match the configured issuer');
        uri = discovery.jwks_uri;
      }
      jwks = createRemoteJWKSet(new URL(uri), { cooldownDuration: 30_000, cacheMaxAge: 600_000, timeoutDuration: 5000 });
      jwksByProvider.set(issuer.provider, jwks);
    }
    return jwks;
  }

  function resolveIssuer(body: Record<string, unknown>): OidcIssuerConfig {
    const provider = typeof body.provider === 'string' ? body.provider : '';
    const issuerUrl = typeof body.issuer === 'string' ? body.issuer : '';
    const found = auth.oidcIssuers.find((i) => (provider && i.provider === provider) || (!provider && issuerUrl && i.issuer === issuerUrl));
    if (!found) throw invalid(`Provider "${provider || issuerUrl}" is not enabled for ID token sign-in`);
    return found;
  }

  async function verify(issuer: OidcIssuerConfig, idToken: string): Promise<JWTPayload> {
    try {
      const { payload } = await jwtVerify(idToken, await jwksFor(issuer), {
        issuer: issuer.issuer,
        audience: issuer.audiences,
        algorithms: ALGORITHMS,
        currentDate: new Date(clock()),
      });
      return payload;
    } catch (error) {
      if (error instanceof ProviderError) throw error;
      if (error instanceof joseErrors.JWTExpired) throw invalid('ID token has expired');
      if (error instanceof joseErrors.JWTClaimValidationFailed) {
        if (error.claim === 'aud') throw invalid('Unacceptable audience in id_token');
        if (error.claim === 'iss') throw invalid('ID token was issued by another issuer');
        throw invalid(`ID token claim ${error.claim} is invalid`);
      }
      if (error instanceof joseErrors.JWKSNoMatchingKey) throw invalid('ID token was signed with an unknown key');
      if (error instanceof joseErrors.JWKSTimeout || !(error instanceof joseErrors.JOSEError)) {
        throw new ProviderError(502, 'unexpected_failure', 'Could not fetch the issuer signing keys');
      }
      throw invalid('Bad ID token');
    }
  }

  return {
    async grant(body: Record<string, unknown>, meta: RequestMeta, linkTo: string | null): Promise<AccessTokenResponse> {
      const idToken = typeof body.id_token === 'string' ? body.id_token : '';
      if (!idToken) throw invalid('id_token required');
      const issuer = resolveIssuer(body);
      const claims = await verify(issuer, idToken);
      const rawNonce = typeof body.nonce === 'string' ? body.nonce : '';
      if (!issuer.skipNonceCheck && (claims.nonce !== undefined || rawNonce)) {
        if (!rawNonce || claims.nonce === undefined) throw invalid('Passed nonce and nonce in id_token should either both exist or not.');
        if (claims.nonce !== sha256Hex(rawNonce)) throw invalid('Nonces mismatch');
      }
      const sub = typeof claims.sub === 'string' ? claims.sub : '';
      if (!sub) throw invalid('ID token has no subject');
      const email = typeof claims.email === 'string' && claims.email ? normalizeEmail(claims.email) : null;
      if (!email && !issuer.emailOptional) throw invalid('ID token has no email address');
      const emailVerified = claims.email_verified === true || claims.email_verified === 'true';
      const identityData = { ...claims, sub, ...(email ? { email } : {}), email_verified: emailVerified, iss: issuer.issuer };

      const userId = await db.$transaction(async (tx) => {
        const now = new Date(clock());
        const existing = await tx.authIdentity.findUnique({ where: { providerId_provider: { providerId: sub, provider: issuer.provider } } });
        if (existing) {
          if (linkTo && existing.userId !== linkTo) {
            throw new ProviderError(422, 'identity_already_exists', 'Identity is already linked to another user');
          }
          await tx.authIdentity.update({ where: { id: existing.id }, data: { identityData: identityData as Prisma.InputJsonValue, email, lastSignInAt: now } });
          return existing.userId;
        }
        // Link to the signed-in caller, or to the user who owns this verified address; else a new user.
        let target = linkTo;
        if (!target && email && emailVerified) {
          target = (await tx.authUser.findFirst({ where: { email, emailConfirmedAt: { not: null } } }))?.id ?? null;
        }
        if (!target) {
          const created = await accounts.createUser(tx, { email, emailConfirmed: emailVerified, userMetadata: {}, appMetadata: {} });
          // createUser added an email identity; an id_token user's only identity is the issuer's.
          await tx.authIdentity.deleteMany({ where: { userId: created.id } });
          await tx.authUser.update({
            where: { id: created.id },
            data: {
              appMetadata: { provider: issuer.provider, providers: [issuer.provider] },
              userMetadata: mergeMetadata({}, { ...identityData, iss: issuer.issuer }) as Prisma.InputJsonValue,
            },
          });
          target = created.id;
        } else {
          const user = await tx.authUser.findUniqueOrThrow({ where: { id: target } });
          const app = user.appMetadata as { provider?: string; providers?: string[] };
          await tx.authUser.update({
            where: { id: target },
            data: { appMetadata: { ...app, providers: [...new Set([...(app.providers ?? []), issuer.provider])] } as Prisma.InputJsonValue },
          });
        }
        await tx.authIdentity.create({
          data: { providerId: sub, provider: issuer.provider, userId: target, email, identityData: identityData as Prisma.InputJsonValue, lastSignInAt: now },
        });
        return target;
      });
      const user = await db.authUser.findUniqueOrThrow({ where: { id: userId } });
      if (user.bannedUntil && user.bannedUntil.getTime() > clock()) throw new ProviderError(400, 'user_banned', 'User is banned');
      return sessions.start(userId, 'oauth', meta, issuer.provider);
    },
  };
}
