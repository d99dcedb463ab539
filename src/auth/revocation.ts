import type { PrismaClient } from '../generated/prisma/client.js';

export interface RevocationList {
  /** Denies a token (by jti) or a whole session (by session id) until `expiresAt`. */
  revoke(entry: { jti?: string | null; sessionId?: string | null }, expiresAt: Date): Promise<void>;
  /** One indexed lookup: is this token's jti or session revoked and not yet expired? */
  isRevoked(claims: { jti?: string; session_id?: string }): Promise<boolean>;
  /** Drops entries whose tokens have expired anyway (lazy expiry keeps the table bounded). */
  purgeExpired(): Promise<number>;
}

/** The denylist lives in the database so every replica on it sees a sign-out at once. */
export function createRevocationList({ db, clock }: { db: PrismaClient; clock: () => number }): RevocationList {
  let lastPurge = 0;
  const list: RevocationList = {
    async revoke(entry, expiresAt) {
      const keys = [entry.jti ? `jti:${entry.jti}` : null, entry.sessionId ? `sid:${entry.sessionId}` : null].filter(
        (k): k is string => k !== null,
      );
      if (keys.length === 0 || expiresAt.getTime() <= clock()) return;
      await db.$transaction(
        keys.map((key) => db.revokedToken.upsert({ where: { key }, create: { key, expiresAt }, update: { expiresAt } })),
      );
      if (clock() - lastPurge > 60_000) {
        lastPurge = clock();
        await list.purgeExpired();
      }
    },
    async isRevoked(claims) {
      const keys = [claims.jti ? `jti:${claims.jti}` : null, claims.session_id ? `sid:${claims.session_id}` : null].filter(
        (k): k is string => k !== null,
      );
      if (keys.length === 0) return false;
      const hit = await db.revokedToken.findFirst({ where: { key: { in: keys }, expiresAt: { gt: new Date(clock()) } }, select: { key: true } });
      return hit !== null;
    },
    async purgeExpired() {
      const { count } = await db.revokedToken.deleteMany({ where: { expiresAt: { lte: new Date(clock()) } } });
      return count;
    },
  };
  return list;
}
