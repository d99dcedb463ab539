import type { PrismaClient } from '../generated/prisma/client.js';
import type { EventStore } from '../events/store.js';
import type { User as ProviderUser } from '../identity/types.js';

export interface MirrorMeta {
  actorId?: string | null;
  requestId?: string | null;
  ip?: string | null;
}

/**
 * Keeps idgraph's `users` table (id = the provider's user id) in step with the
 * identity provider, and records what happened as an event, in one transaction.
 */
export function createUserMirror({ db, events }: { db: PrismaClient; events: EventStore }) {
  return {
    async record(user: ProviderUser, type: 'user.signed_up' | 'user.signed_in' | 'user.updated', meta: MirrorMeta = {}) {
      const displayName = typeof user.user_metadata.name === 'string' ? user.user_metadata.name.slice(0, 200) : null;
      await db.$transaction(async (tx) => {
        const { count } = await tx.user.createMany({
          data: [{ id: user.id, email: user.email || null, phone: user.phone || null, displayName }],
          skipDuplicates: true,
        });
        if (count === 0) {
          await tx.user.update({ where: { id: user.id }, data: { email: user.email || null, phone: user.phone || null, ...(displayName ? { displayName } : {}) } });
        }
        await events.appendEvent(tx, {
          aggregateType: 'user',
          aggregateId: user.id,
          type: count === 1 && type === 'user.signed_in' ? 'user.signed_up' : type,
          payload: { provider: user.app_metadata.provider ?? null },
          metadata: { actorId: meta.actorId ?? user.id, requestId: meta.requestId ?? null, ip: meta.ip ?? null },
        });
      });
    },
  };
}

export type UserMirror = ReturnType<typeof createUserMirror>;
