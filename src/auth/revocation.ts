import type { Redis } from 'ioredis';
import { redisKeyPrefix, viaRedis } from '../db/redis.js';
import { Prisma, type PrismaClient } from '../generated/prisma/client.js';
import type { LogoutScope } from '../identity/provider.js';
import { isUuid } from '../uuid.js';

export type UserStatus = 'active' | 'suspended' | 'deactivated';

/** What a revocation names: one token (jti), one session, or every token of a user issued until now. */
export interface RevocationEntry {
  jti?: string | null;
  sessionId?: string | null;
  /** Every token of this user issued before this second (a sign-out of all sessions). */
  userId?: string | null;
}

export interface RevocationList {
  /** Denies what `entry` names until `expiresAt` (when the last token it covers expires). */
  revoke(entry: RevocationEntry, expiresAt: Date): Promise<void>;
  /**
   * One round trip per store per request: is this token revoked (its jti, its
   * session, or its user before it was issued), and what is its user's status in idgraph?
   */
  accessState(claims: { sub: string; jti?: string; session_id?: string; iat?: number }): Promise<{ revoked: boolean; status: UserStatus | null }>;
  /**
   * What a sign-out denies: for `local` the token's session (and the token), for
   * `global` every token of the user issued until now as well, kept until the
   * newest of them expires (`lifetimeSeconds` after issue); `others` ends sessions
   * only the provider knows, so nothing here.
   */
  signOut(scope: LogoutScope, token: SignedOutToken): Promise<void>;
  /** With Redis: copies the live entries of the database into it (after Redis comes back empty). */
  restore(): Promise<number>;
}

export interface SignedOutToken {
  userId: string;
  sessionId: string | null;
  jti: string | null;
  expiresAt: Date;
  /** How long the provider's access tokens live. */
  lifetimeSeconds: number;
}

interface StoredEntry {
  key: string;
  expiresAt: Date;
  /** "usr:" entries: tokens issued at or after this time stay valid. */
  notBefore: Date | null;
}

const RESTORE_PAGE = 1000;

const redisKey = (key: string) => `${redisKeyPrefix}revoked:${key}`;

/**
 * The denylist lives in the database so every replica on it sees a sign-out at
 * once. Entries outlive their tokens only until the next cleanup run
 * (realmRetentionRules in services/cleanup.ts).
 *
 * With Redis (REDIS_URL), requests read the denylist from Redis, where entries
 * expire with their tokens, while the user's status is read from the database
 * at the same time. The database keeps every entry too, and `restore` copies
 * the live ones back into a Redis that lost them (a restart without
 * persistence), so a revoked token never becomes valid again.
 *
 * With `sessions` (the embedded engine, whose sessions table is in the same
 * database), a token whose session has ended is revoked too, however it ended:
 * a sign-out through /auth/v1, refresh-token reuse, an MFA step-up that drops
 * the other sessions. It is read in the same statement as the user's status.
 *
 * A "usr:" entry revokes every token of the user issued before its second
 * (`iat` has whole seconds: a token issued in the second of the sign-out, before
 * it, stays valid; one issued after it is never refused).
 */
export function createRevocationList({
  db,
  clock,
  redis = null,
  sessions = false,
}: {
  db: PrismaClient;
  clock: () => number;
  redis?: Redis | null;
  sessions?: boolean;
}): RevocationList {
  // By primary key: a subject that is no UUID has no idgraph user (status null), a session id no session.
  const userId = (sub: string) => (isUuid(sub) ? sub : null);
  const statusOf = (sub: string) => Prisma.sql`(SELECT status::text FROM users WHERE id = ${userId(sub)}::uuid)`;
  const sessionEnded = (sessionId: string | undefined) =>
    sessions && sessionId
      ? Prisma.sql`NOT EXISTS (SELECT 1 FROM auth_sessions WHERE id = ${isUuid(sessionId) ? sessionId : null}::uuid)`
      : Prisma.sql`false`;
  // In Redis, a "usr:" entry holds its cutoff in milliseconds; the others hold 1.
  const inRedis = (entries: StoredEntry[]) =>
    viaRedis(async () => {
      const pipeline = redis!.pipeline();
      for (const { key, expiresAt, notBefore } of entries) {
        pipeline.set(redisKey(key), notBefore ? String(notBefore.getTime()) : '1', 'PXAT', expiresAt.getTime());
      }
      for (const [error] of (await pipeline.exec()) ?? []) if (error) throw error;
    });
  const list: RevocationList = {
    async signOut(scope, token) {
      if (scope === 'others') return;
      const entry = { sessionId: token.sessionId, jti: token.jti };
      if (scope === 'local') return list.revoke(entry, token.expiresAt);
      const newest = Math.max(token.expiresAt.getTime(), clock() + token.lifetimeSeconds * 1000);
      return list.revoke({ ...entry, userId: token.userId }, new Date(newest));
    },
    async revoke(entry, expiresAt) {
      const now = clock();
      if (expiresAt.getTime() <= now) return;
      const cutoff = new Date(Math.floor(now / 1000) * 1000);
      const entries: StoredEntry[] = [
        ...(entry.jti ? [{ key: `jti:${entry.jti}`, expiresAt, notBefore: null }] : []),
        ...(entry.sessionId ? [{ key: `sid:${entry.sessionId}`, expiresAt, notBefore: null }] : []),
        ...(entry.userId ? [{ key: `usr:${entry.userId}`, expiresAt, notBefore: cutoff }] : []),
      ];
      if (entries.length === 0) return;
      await db.$transaction(
        entries.map(({ key, notBefore }) =>
          db.revokedToken.upsert({ where: { key }, create: { key, expiresAt, notBefore }, update: { expiresAt, notBefore } }),
        ),
      );
      if (redis) await inRedis(entries);
    },
    async accessState(claims) {
      const keys = [`jti:${claims.jti ?? ''}`, `sid:${claims.session_id ?? ''}`, `usr:${claims.sub}`] as const;
      const issuedAt = new Date((claims.iat ?? 0) * 1000);
      if (redis) {
        const [[jti, sid, usr], [row]] = await Promise.all([
          viaRedis(() => redis.mget(...keys.map(redisKey))),
          db.$queryRaw<Array<{ ended: boolean; status: UserStatus | null }>>`
            SELECT ${sessionEnded(claims.session_id)} AS ended, ${statusOf(claims.sub)} AS status`,
        ]);
        const revoked = jti != null || sid != null || (usr != null && Number(usr) > issuedAt.getTime()) || (row?.ended ?? false);
        return { revoked, status: row?.status ?? null };
      }
      const [row] = await db.$queryRaw<Array<{ revoked: boolean; status: UserStatus | null }>>`
        SELECT EXISTS (
                 SELECT 1 FROM revoked_tokens
                 WHERE key IN (${keys[0]}, ${keys[1]}, ${keys[2]}) AND expires_at > ${new Date(clock())}
                   AND (not_before IS NULL OR not_before > ${issuedAt})
               ) OR ${sessionEnded(claims.session_id)} AS revoked,
               ${statusOf(claims.sub)} AS status`;
      return { revoked: row?.revoked ?? false, status: row?.status ?? null };
    },
    async restore() {
      if (!redis) return 0;
      let restored = 0;
      let after: string | undefined;
      for (;;) {
        const page = await db.revokedToken.findMany({
          where: { expiresAt: { gt: new Date(clock()) }, ...(after ? { key: { gt: after } } : {}) },
          select: { key: true, expiresAt: true, notBefore: true },
          orderBy: { key: 'asc' },
          take: RESTORE_PAGE,
        });
        if (page.length > 0) await inRedis(page);
        restored += page.length;
        if (page.length < RESTORE_PAGE) return restored;
        after = page[page.length - 1]!.key;
      }
    },
  };
  return list;
}
