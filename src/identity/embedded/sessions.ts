import { randomUUID } from 'node:crypto';
import type { AuthConfig } from '../../config.js';
import { type AuthSession, Prisma, type PrismaClient } from '../../generated/prisma/client.js';
import { AppError } from '../../errors.js';
import { ProviderError, providerErrors } from '../errors.js';
import type { AccessTokenClaims, AccessTokenResponse, AmrEntry, RequestMeta } from '../types.js';
import { randomUrlToken, sha256Hex } from '../../crypto.js';
import type { KeyStore } from './keys.js';
import { sessionRowColumns, sessionWithUserFrom, userRowColumns } from './user-rows.js';
import { isBanned, toUser, type UserRow, userInclude } from './users.js';

type Tx = Prisma.TransactionClient;

const MFA_METHODS = new Set(['totp', 'mfa/phone', 'mfa/webauthn']);

/**
 * Extra claims a later layer adds to every access token (idgraph's tenant_id /
 * tenant_role), in a statement of their own; with `sql`, the engine computes
 * them inside the statement that already reads the session instead: `column`
 * is a SQL expression over the user and session ids, `claims` turns its value
 * into the claims.
 */
export type ClaimsExtension = ((input: { userId: string; sessionId: string }) => Promise<Record<string, unknown>>) & {
  sql?: {
    column(userId: Prisma.Sql, sessionId: Prisma.Sql): Prisma.Sql;
    claims(value: unknown): Record<string, unknown>;
  };
};

export interface SessionDeps {
  db: PrismaClient;
  keys: KeyStore;
  auth: AuthConfig;
  clock: () => number;
  claimsExtension?: ClaimsExtension;
  /** The access-token check GraphQL applies too (verifier, denylist). */
  acceptAccessToken: (token: string) => Promise<AccessTokenClaims>;
}

export interface Authenticated {
  claims: AccessTokenClaims;
  session: AuthSession;
  user: UserRow;
}

/** GoTrue's answer to a Bearer token the access-token check refused; an outage (503) stays what it is. */
function refusedToken(error: unknown): unknown {
  if (!(error instanceof AppError)) return error;
  if (error.code === 'token_revoked') return providerErrors.sessionNotFound();
  return error.status === 401 ? providerErrors.badJwt(`invalid JWT: ${error.message}`) : error;
}

/** Newest first, one entry per method: a repeat moves the method to the front with a new timestamp. */
export function addAmr(amr: AmrEntry[], method: string, now: number, provider?: string): AmrEntry[] {
  const entry: AmrEntry = { method, timestamp: Math.floor(now / 1000), ...(provider ? { provider } : {}) };
  return [entry, ...amr.filter((e) => e.method !== method)];
}

export function createSessionManager({ db, keys, auth, clock, claimsExtension, acceptAccessToken }: SessionDeps) {
  async function newRefreshToken(tx: Tx, session: { id: string; userId: string }, parentHash: string | null) {
    const token = randomUrlToken(24);
    await tx.authRefreshToken.create({ data: { tokenHash: sha256Hex(token), parentHash, userId: session.userId, sessionId: session.id } });
    return token;
  }

  /** The extension's claims as an extra column ("extraClaims") of a statement reading the session's ids. */
  const extraClaimsColumn = (userId: Prisma.Sql, sessionId: Prisma.Sql) =>
    claimsExtension?.sql ? Prisma.sql`, ${claimsExtension.sql.column(userId, sessionId)} AS "extraClaims"` : Prisma.empty;

  /** Claims read by a statement with extraClaimsColumn, or undefined (then mint asks the extension). */
  const extraClaimsOf = (row: Record<string, unknown> | undefined) =>
    row && 'extraClaims' in row && claimsExtension?.sql ? claimsExtension.sql.claims(row.extraClaims) : undefined;

  /** The session `s`, its user `u` and the extra claims, as one row of a statement. */
  const sessionReadBack = Prisma.sql`${sessionRowColumns}, ${userRowColumns}${extraClaimsColumn(Prisma.sql`s.user_id`, Prisma.sql`s.id`)}`;

  /** A row selected with sessionReadBack, with the refresh token to hand out. */
  function refreshedFrom(row: Record<string, unknown>, refreshToken: string) {
    const { extraClaims, ...columns } = row;
    return { ...sessionWithUserFrom(columns), refreshToken, extraClaims: extraClaimsOf({ extraClaims }) };
  }

  async function mint(user: UserRow, session: AuthSession, extraClaims?: Record<string, unknown>): Promise<{ accessToken: string; expiresAt: number }> {
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
      ...(extraClaims ?? (claimsExtension ? await claimsExtension({ userId: user.id, sessionId: session.id }) : {})),
    };
    return { accessToken: await keys.sign({ ...claims }), expiresAt: exp };
  }

  /**
   * A presented token that is not active: unknown, or already rotated. Within the
   * reuse interval (two tabs refreshing at once) its active child is replaced by
   * a fresh one; outside it the token is assumed leaked and its session ends.
   */
  async function rotateRevoked(presented: string, now: number) {
    return db.$transaction(async (tx) => {
      const [row] = await tx.$queryRaw<Array<{ token_hash: string; session_id: string; user_id: string; revoked: boolean; updated_at: Date }>>`
        SELECT token_hash, session_id, user_id, revoked, updated_at FROM auth_refresh_tokens
        WHERE token_hash = ${presented} FOR UPDATE`;
      if (!row) throw new ProviderError(400, 'refresh_token_not_found', 'Invalid Refresh Token: Refresh Token Not Found');
      const withinReuse = now - row.updated_at.getTime() <= auth.refreshToken.reuseIntervalSeconds * 1000;
      if (!withinReuse) {
        if (auth.refreshToken.rotation) await tx.authSession.deleteMany({ where: { id: row.session_id } });
        return { reused: true as const };
      }
      await tx.authRefreshToken.updateMany({ where: { parentHash: row.token_hash, revoked: false }, data: { revoked: true } });
      const session = { id: row.session_id, userId: row.user_id };
      return { reused: false as const, sessionId: row.session_id, refreshToken: await newRefreshToken(tx, session, row.token_hash) };
    });
  }

  async function respond(
    user: UserRow,
    session: AuthSession,
    refreshToken: string,
    extraClaims?: Record<string, unknown>,
  ): Promise<AccessTokenResponse> {
    const { accessToken, expiresAt } = await mint(user, session, extraClaims);
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

    /**
     * Starts a session for a user who just authenticated with `method`. Pass the
     * user row when the caller has it loaded already (sign-in's hot path).
     */
    async start(who: string | UserRow, method: string, meta: RequestMeta, provider?: string): Promise<AccessTokenResponse> {
      const now = new Date(clock());
      const token = randomUrlToken(24);
      const userId = typeof who === 'string' ? who : who.id;
      const session: AuthSession = {
        id: randomUUID(),
        userId,
        aal: 'aal1',
        factorId: null,
        amr: addAmr([], method, clock(), provider) as unknown as Prisma.JsonValue,
        mfaAt: null,
        ip: meta.ip,
        userAgent: meta.userAgent?.slice(0, 512) ?? null,
        createdAt: now,
        updatedAt: now,
        refreshedAt: now,
        notAfter: null,
      };
      // Sign-in's hot path in one statement: the session, its first refresh token, last_sign_in_at (and the extra claims).
      const [started] = await db.$queryRaw<Array<Record<string, unknown>>>`
        WITH s AS (
          INSERT INTO auth_sessions (id, user_id, aal, amr, ip, user_agent, created_at, updated_at, refreshed_at)
          VALUES (${session.id}::uuid, ${userId}::uuid, 'aal1', ${JSON.stringify(session.amr)}::jsonb, ${session.ip}, ${session.userAgent}, ${now}, ${now}, ${now})
          RETURNING id
        ), t AS (
          INSERT INTO auth_refresh_tokens (token_hash, user_id, session_id, revoked, created_at, updated_at)
          SELECT ${sha256Hex(token)}, ${userId}::uuid, s.id, false, ${now}, ${now} FROM s
        )
        UPDATE auth_users SET last_sign_in_at = ${now} WHERE id = ${userId}::uuid
        RETURNING id${extraClaimsColumn(Prisma.sql`${userId}::uuid`, Prisma.sql`${session.id}::uuid`)}`;
      const user =
        typeof who === 'string'
          ? await db.authUser.findUniqueOrThrow({ where: { id: userId }, include: userInclude })
          : { ...who, lastSignInAt: now };
      return respond(user, session, token, extraClaimsOf(started));
    },

    /** Rotation with a reuse interval; reuse outside it revokes the whole session (GOTRUE.md §6). */
    async refresh(refreshToken: unknown, _meta: RequestMeta): Promise<AccessTokenResponse> {
      if (typeof refreshToken !== 'string' || refreshToken.length === 0) {
        throw new ProviderError(400, 'validation_failed', 'refresh_token required', { oauth: 'invalid_request' });
      }
      const now = clock();
      const presented = sha256Hex(refreshToken);
      const next = randomUrlToken(24);
      // The common case in one statement: the active token revoked, its child issued, the session touched, and the
      // session and user read back for the new access token.
      const [rotated] = await db.$queryRaw<Array<Record<string, unknown>>>`
        WITH old AS (
          UPDATE auth_refresh_tokens SET revoked = true, updated_at = ${new Date(now)}
          WHERE token_hash = ${presented} AND revoked = false
          RETURNING token_hash, user_id, session_id
        ), child AS (
          INSERT INTO auth_refresh_tokens (token_hash, parent_hash, user_id, session_id, revoked, updated_at)
          SELECT ${sha256Hex(next)}, token_hash, user_id, session_id, false, ${new Date(now)} FROM old
          RETURNING session_id
        ), s AS (
          UPDATE auth_sessions s SET refreshed_at = ${new Date(now)}, updated_at = ${new Date(now)}
          FROM child WHERE s.id = child.session_id
          RETURNING s.*
        )
        SELECT ${sessionReadBack} FROM s JOIN auth_users u ON u.id = s.user_id`;
      let refreshed = rotated ? refreshedFrom(rotated, next) : null;
      if (!refreshed) {
        const retried = await rotateRevoked(presented, now);
        if (retried.reused) throw new ProviderError(400, 'refresh_token_already_used', 'Invalid Refresh Token: Already Used');
        const [row] = await db.$queryRaw<Array<Record<string, unknown>>>`
          SELECT ${sessionReadBack} FROM auth_sessions s JOIN auth_users u ON u.id = s.user_id WHERE s.id = ${retried.sessionId}::uuid`;
        if (!row) throw providerErrors.sessionNotFound();
        refreshed = refreshedFrom(row, retried.refreshToken);
      }
      const { session, user } = refreshed;
      if (session.notAfter && session.notAfter.getTime() <= now) {
        throw new ProviderError(400, 'session_expired', 'Invalid Refresh Token: Session Expired');
      }
      if (isBanned(user, new Date(now))) throw new ProviderError(400, 'user_banned', 'Invalid Refresh Token: User Banned');
      return respond(user, session, refreshed.refreshToken, refreshed.extraClaims);
    },

    /** Verifies a Bearer access token and loads its session and user, as GoTrue's user routes do. */
    async authenticate(accessToken: string | null): Promise<Authenticated> {
      if (!accessToken) throw providerErrors.noAuthorization();
      let claims: AccessTokenClaims;
      try {
        claims = await acceptAccessToken(accessToken);
      } catch (error) {
        throw refusedToken(error);
      }
      if (!claims.sub || !claims.session_id) throw providerErrors.badJwt('invalid claim: missing sub or session_id');
      const user = await db.authUser.findUnique({ where: { id: claims.sub }, include: userInclude });
      if (!user) throw new ProviderError(403, 'user_not_found', 'User from sub claim in JWT does not exist');
      if (isBanned(user, new Date(clock()))) throw new ProviderError(403, 'user_banned', 'User is banned');
      const session = await db.authSession.findUnique({ where: { id: claims.session_id } });
      if (!session || session.userId !== user.id) throw providerErrors.sessionNotFound();
      return { claims, session, user };
    },

    /** Ends the sessions a sign-out names; inside `tx` when the caller records it in the same transaction. */
    async logout(who: Authenticated, scope: string, tx: Tx = db): Promise<void> {
      if (scope === 'local') await tx.authSession.deleteMany({ where: { id: who.session.id } });
      else if (scope === 'others') await tx.authSession.deleteMany({ where: { userId: who.user.id, id: { not: who.session.id } } });
      else if (scope === 'global') await tx.authSession.deleteMany({ where: { userId: who.user.id } });
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
