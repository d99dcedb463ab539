import type { PrismaClient } from '../generated/prisma/client.js';
import { isUuid } from '../uuid.js';

export type UserStatus = 'active' | 'suspended' | 'deactivated';

export interface RevocationList {
  /** Denies a token (by jti) or a whole session (by session id) until `expiresAt`. */
  revoke(entry: { jti?: string | null; sessionId?: string | null }, expiresAt: Date): Promise<void>;
  /**
   * One statement per request: is this token's jti or session revoked (and not
   * yet expired), and what is its user's status in idgraph?
   */
  accessState(claims: { sub: string; jti?: string; session_id?: string }): Promise<{ revoked: boolean; status: UserStatus | null }>;
}

/**
 * The denylist lives in the database so every replica on it sees a sign-out at
 * once. Entries outlive their tokens only until the next cleanup run
 * (realmRetentionRules in services/cleanup.ts).
 */
export function createRevocationList({ db, clock }: { db: PrismaClient; clock: () => number }): RevocationList {
  return {
    async revoke(entry, expiresAt) {
      const keys = [entry.jti ? `jti:${entry.jti}` : null, entry.sessionId ? `sid:${entry.sessionId}` : null].filter(
        (k): k is string => k !== null,
      );
      if (keys.length === 0 || expiresAt.getTime() <= clock()) return;
      await db.$transaction(
        keys.map((key) => db.revokedToken.upsert({ where: { key }, create: { key, expiresAt }, update: { expiresAt } })),
      );
    },
    async accessState(claims) {
      // By primary key: a subject that is no UUID has no idgraph user (status null).
      const [row] = await db.$queryRaw<Array<{ revoked: boolean; status: UserStatus | null }>>`
        SELECT EXISTS (
                 SELECT 1 FROM revoked_tokens
                 WHERE key IN (${`jti:${claims.jti ?? ''}`}, ${`sid:${claims.session_id ?? ''}`}) AND expires_at > ${new Date(clock())}
               ) AS revoked,
               (SELECT status::text FROM users WHERE id = ${isUuid(claims.sub) ? claims.sub : null}::uuid) AS status`;
      return { revoked: row?.revoked ?? false, status: row?.status ?? null };
    },
  };
}
