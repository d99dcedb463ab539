import { randomUUID } from 'node:crypto';
import type { AuthConfig } from '../../config.js';
import type { AuthSession, Prisma, PrismaClient } from '../../generated/prisma/client.js';
import { ProviderError, providerErrors } from '../errors.js';
import type { AccessTokenClaims, AccessTokenResponse, AmrEntry, RequestMeta } from '../types.js';
import { randomUrlToken, sha256Hex } from './crypto.js';
import type { KeyStore } from './keys.js';
import { isBanned, toUser, type UserRow, userInclude } from './users.js';

type Tx = Prisma.TransactionClient;

const MFA_METHODS = new Set(['totp', 'mfa/phone', 'mfa/webauthn']);

/** Extra claims a later layer adds to every access token (idgraph's tenant_id / tenant_role). */
export type ClaimsExtension = (input: { userId: string; sessionId: string }) => Promise<Record<string, unknown>>;

export interface SessionDeps {
  db: PrismaClient;
  keys: KeyStore;
  auth: AuthConfig;
  clock: () => number;
  claimsExtension?: ClaimsExtension;
}

export interface Authenticated {
  claims: AccessTokenClaims;
  session: AuthSession;
  user: UserRow;
}

/** Newest first, one entry per method: a repeat moves the method to the front with a new timestamp. */
export function addAmr(amr: AmrEntry[], method: string, now: number, provider?: string): AmrEntry[] {
  const entry: AmrEntry = { method, timestamp: Math.floor(now / 1000), ...(provider ? { provider } : {}) };
  return [entry, ...amr.filter((e) => e.method !== method)];
}

export function createSessionManager({ db, keys, auth, clock, claimsExtension }: SessionDeps) {
  async function newRefreshToken(tx: Tx, session: { id: string; userId: string }, parentHash: string | null) {
    const token = randomUrlToken(24);
    await tx.authRefreshToken.create({ data: { tokenHash: sha256Hex(token), parentHash, userId: session.userId, sessionId: session.id } });
    return token;
  }

  async function mint(user: UserRow, session: AuthSession): Promise<{ accessToken: string; expiresAt: number }> {
    const iat = Math.floor(clock() / 1000);
    const exp = iat + auth.jwt.exp;
    const amr = session.amr as unknown as AmrEntry[];
    const claims: AccessTokenClaims = {
      iss: auth.jwt.issuer,
      sub: user.id,
      aud: auth.jwt.aud,
      exp,
      iat,
      jti: randomUUID(),
      email: user.email ?? '',
      phone: user.phone ?? '',
      app_metadata: user.appMetadata as Record<string, unknown>,
      user_metadata: user.userMetadata as Record<string, unknown>,
      role: user.role,
      aal: session.aal === 'aal2' ? 'aal2' : 'aal1',
      amr,
      session_id: session.id,
      is_anonymous: user.isAnonymous,
      ...(session.mfaAt ? { mfa_at: Math.floor(session.mfaAt.getTime() / 1000) } : {}),
      ...(claimsExtension ? await claimsExtension({ userId: user.id, sessionId: session.id }) : {}),
    };
    return { accessToken: await keys.sign({ ...claims }), expiresAt: exp };
  }

  async function respond(user: UserRow, session: AuthSession, refreshToken: string): Promise<AccessTokenResponse> {
    const { accessToken, expiresAt } = await mint(user, session);
    return {
      access_token: accessToken,
      token_type: 'bearer',
      expires_in: auth.jwt.exp,
      expires_at: expiresAt,
      refresh_token: refreshToken,
      user: toUser(user),
    };
  }

  return {
    respond,

    /** Starts a session for a user who just authenticated with `method`. */
    async start(userId: string, method: string, meta: RequestMeta, provider?: string): Promise<AccessTokenResponse> {
      const now = new Date(clock());
      const { session, refreshToken } = await db.$transaction(async (tx) => {
        const session = await tx.authSession.create({
          data: {
            userId,
            amr: addAmr([], method, clock(), provider) as unknown as Prisma.InputJsonValue,
            ip: meta.ip,
            userAgent: meta.userAgent?.slice(0, 512) ?? null,
            refreshedAt: now,
          },
        });
        await tx.authUser.update({ where: { id: userId }, data: { lastSignInAt: now } });
        return { session, refreshToken: await newRefreshToken(tx, session, null) };
      });
      const user = await db.authUser.findUniqueOrThrow({ where: { id: userId }, include: userInclude });
      return respond(user, session, refreshToken);
    },

    /** Rotation with a reuse interval; reuse outside it revokes the whole session (GOTRUE.md §6). */
    async refresh(refreshToken: unknown, _meta: RequestMeta): Promise<AccessTokenResponse> {
      if (typeof refreshToken !== 'string' || refreshToken.length === 0) {
        throw new ProviderError(400, 'validation_failed', 'refresh_token required', { oauth: 'invalid_request' });
      }
      const now = clock();
      const result = await db.$transaction(async (tx) => {
        const [row] = await tx.$queryRaw<Array<{ id: bigint; token_hash: string; session_id: string; user_id: string; revoked: boolean; updated_at: Date }>>`
          SELECT id, token_hash, session_id, user_id, revoked, updated_at FROM auth_refresh_tokens
          WHERE token_hash = ${sha256Hex(refreshToken)} FOR UPDATE`;
        if (!row) throw new ProviderError(400, 'refresh_token_not_found', 'Invalid Refresh Token: Refresh Token Not Found');
        const session = await tx.authSession.findUnique({ where: { id: row.session_id } });
        if (!session) throw providerErrors.sessionNotFound();
        if (session.notAfter && session.notAfter.getTime() <= now) {
          throw new ProviderError(400, 'session_expired', 'Invalid Refresh Token: Session Expired');
        }
        const user = await tx.authUser.findUniqueOrThrow({ where: { id: row.user_id } });
        if (isBanned(user, new Date(now))) throw new ProviderError(400, 'user_banned', 'Invalid Refresh Token: User Banned');
        if (row.revoked) {
          const withinReuse = now - row.updated_at.getTime() <= auth.refreshToken.reuseIntervalSeconds * 1000;
          if (!withinReuse) {
            // Reuse of a rotated token: assume it leaked and end the session it belongs to.
            if (auth.refreshToken.rotation) await tx.authSession.delete({ where: { id: session.id } });
            return { reused: true as const };
          }
          // A concurrent refresh (two tabs) within the interval: the active child is replaced by a fresh one.
          await tx.authRefreshToken.updateMany({ where: { parentHash: row.token_hash, revoked: false }, data: { revoked: true } });
        } else {
          await tx.authRefreshToken.update({ where: { id: row.id }, data: { revoked: true } });
        }
        const next = await newRefreshToken(tx, session, row.token_hash);
        const refreshed = await tx.authSession.update({ where: { id: session.id }, data: { refreshedAt: new Date(now) } });
        return { reused: false as const, session: refreshed, refreshToken: next };
      });
      if (result.reused) throw new ProviderError(400, 'refresh_token_already_used', 'Invalid Refresh Token: Already Used');
      const user = await db.authUser.findUniqueOrThrow({ where: { id: result.session.userId }, include: userInclude });
      return respond(user, result.session, result.refreshToken);
    },

    /** Verifies a Bearer access token and loads its session and user, as GoTrue's user routes do. */
    async authenticate(accessToken: string | null): Promise<Authenticated> {
      if (!accessToken) throw providerErrors.noAuthorization();
      let claims: AccessTokenClaims;
      try {
        claims = (await keys.verify(accessToken, { audience: auth.jwt.aud })).payload as unknown as AccessTokenClaims;
      } catch {
        throw providerErrors.badJwt();
      }
      if (!claims.sub || !claims.session_id) throw providerErrors.badJwt('invalid claim: missing sub or session_id');
      const user = await db.authUser.findUnique({ where: { id: claims.sub }, include: userInclude });
      if (!user) throw new ProviderError(403, 'user_not_found', 'User from sub claim in JWT does not exist');
      if (isBanned(user, new Date(clock()))) throw new ProviderError(403, 'user_banned', 'User is banned');
      const session = await db.authSession.findUnique({ where: { id: claims.session_id } });
      if (!session || session.userId !== user.id) throw providerErrors.sessionNotFound();
      return { claims, session, user };
    },

    async logout(who: Authenticated, scope: string): Promise<void> {
      if (scope === 'local') await db.authSession.deleteMany({ where: { id: who.session.id } });
      else if (scope === 'others') await db.authSession.deleteMany({ where: { userId: who.user.id, id: { not: who.session.id } } });
      else if (scope === 'global') await db.authSession.deleteMany({ where: { userId: who.user.id } });
      else throw new ProviderError(400, 'validation_failed', 'Unsupported logout scope "' + scope + '"');
    },

    /** Records a new authentication method on a session (OTP, TOTP...) and returns the updated row. */
    async strengthen(tx: Tx, session: AuthSession, method: string, options: { factorId?: string } = {}) {
      const amr = addAmr(session.amr as unknown as AmrEntry[], method, clock());
      const mfa = MFA_METHODS.has(method);
      return tx.authSession.update({
        where: { id: session.id },
        data: {
          amr: amr as unknown as Prisma.InputJsonValue,
          ...(mfa ? { aal: 'aal2', mfaAt: new Date(clock()), factorId: options.factorId ?? session.factorId } : {}),
        },
      });
    },

    newRefreshToken,
  };
}

export type SessionManager = ReturnType<typeof createSessionManager>;
