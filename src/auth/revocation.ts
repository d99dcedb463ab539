import type { Redis } from 'ioredis';
import { redisKeyPrefix, viaRedis } from '../db/redis.js';
import { Prisma, type PrismaClient } from '../generated/prisma/client.js';
import { isUuid } from '../uuid.js';

export type UserStatus = 'active' | 'suspended' | 'deactivated';

export interface RevocationList {
  /** Denies a token (by jti) or a whole session (by session id) until `expiresAt`. */
  revoke(entry: { jti?: string | null; sessionId?: string | null }, expiresAt: Date): Promise<void>;
  /**
   * One round trip per store per request: is this token's jti or session
   * revoked (and not yet expired), and what is its user's status in idgraph?
   */
  accessState(claims: { sub: string; jti?: string; session_id?: string }): Promise<{ revoked: boolean; status: UserStatus | null }>;
  /** With Redis: copies the live entries of the database into it (after Redis comes back empty). */
  restore(): Promise<number>;
}

const keysOf = (entry: { jti?: string | null; sessionId?: string | null }) =>
  [entry.jti ? `jti:${entry.jti}` : null, entry.sessionId ? `sid:${entry.sessionId}` : null].filter((k): k is string => k !== null);

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
  const sessionEnded = (sessionId: string | undefined) =>
    sessions && sessionId
      ? Prisma.sql`NOT EXISTS (SELECT 1 FROM auth_sessions WHERE id = ${isUuid(sessionId) ? sessionId : null}::uuid)`
      : Prisma.sql`false`;
  const inRedis = (entries: Array<{ key: string; expiresAt: Date }>) =>
    viaRedis(async () => {
      const pipeline = redis!.pipeline();
      for (const { key, expiresAt } of entries) pipeline.set(redisKey(key), '1', 'PXAT', expiresAt.getTime());
      for (const [error] of (await pipeline.exec()) ?? []) if (error) throw error;
    });
  return {
    async revoke(entry, expiresAt) {
      const keys = keysOf(entry);
      if (keys.length === 0 || expiresAt.getTime() <= clock()) return;
      await db.$transaction(
        keys.map((key) => db.revokedToken.upsert({ where: { key }, create: { key, expiresAt }, update: { expiresAt } })),
      );
      if (redis) await inRedis(keys.map((key) => ({ key, expiresAt })));
    },
    async accessState(claims) {
      const keys = [`jti:${claims.jti ?? ''}`, `sid:${claims.session_id ?? ''}`];
      if (redis) {
        const [denied, [row]] = await Promise.all([
          viaRedis(() => redis.exists(...keys.map(redisKey))),
          db.$queryRaw<Array<{ ended: boolean; status: UserStatus | null }>>`
            SELECT ${sessionEnded(claims.session_id)} AS ended, (SELECT status::text FROM users WHERE id = ${userId(claims.sub)}::uuid) AS status`,
        ]);
        return { revoked: denied > 0 || (row?.ended ?? false), status: row?.status ?? null };
      }
      const [row] = await db.$queryRaw<Array<{ revoked: boolean; status: UserStatus | null }>>`
        SELECT EXISTS (
                 SELECT 1 FROM revoked_tokens WHERE key IN (${keys[0]}, ${keys[1]}) AND expires_at > ${new Date(clock())}
               ) OR ${sessionEnded(claims.session_id)} AS revoked,
               (SELECT status::text FROM users WHERE id = ${userId(claims.sub)}::uuid) AS status`;
      return { revoked: row?.revoked ?? false, status: row?.status ?? null };
    },
    async restore() {
      if (!redis) return 0;
      let restored = 0;
      let after: string | undefined;
      for (;;) {
        const page = await db.revokedToken.findMany({
          where: { expiresAt: { gt: new Date(clock()) }, ...(after ? { key: { gt: after } } : {}) },
          select: { key: true, expiresAt: true },
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
}
