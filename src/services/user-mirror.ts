import type { PrismaClient } from '../generated/prisma/client.js';
import type { EventStore, Tx } from '../events/store.js';
import type { User as ProviderUser } from '../identity/types.js';
import { requestScope } from '../log.js';

export interface MirrorMeta {
  actorId?: string | null;
  requestId?: string | null;
  ip?: string | null;
}

interface MirroredUser {
  id: string;
  email: string | null;
  phone: string | null;
  userMetadata: Record<string, unknown>;
}

const displayNameOf = (metadata: Record<string, unknown>) => (typeof metadata.name === 'string' ? metadata.name.slice(0, 200) : null);

/**
 * Keeps idgraph's `users` table (id = the provider's user id) in step with the
 * identity provider, and records what happened as an event, in one transaction.
 */
export function createUserMirror({ db, events }: { db: PrismaClient; events: EventStore }) {
  /** Inserts or refreshes the mirror row in one statement (no write when nothing changed); true when it was new. */
  async function upsert(tx: Tx, user: MirroredUser): Promise<boolean> {
    const displayName = displayNameOf(user.userMetadata);
    const [row] = await tx.$queryRaw<Array<{ created: boolean }>>`
      INSERT INTO users (id, email, phone, display_name, updated_at)
      VALUES (${user.id}::uuid, ${user.email || null}, ${user.phone || null}, ${displayName}, now())
      ON CONFLICT (id) DO UPDATE
        SET email = excluded.email, phone = excluded.phone, display_name = COALESCE(excluded.display_name, users.display_name),
            updated_at = now()
        -- A sign-in of an unchanged user writes nothing.
        WHERE (users.email, users.phone, users.display_name)
              IS DISTINCT FROM (excluded.email, excluded.phone, COALESCE(excluded.display_name, users.display_name))
      RETURNING (xmax = 0) AS created`;
    // No row: the user existed and nothing changed.
    return row?.created ?? false;
  }

  return {
    /** After a provider call: the user as the provider returned them. */
    async record(user: ProviderUser, type: 'user.signed_up' | 'user.signed_in' | 'user.updated', meta: MirrorMeta = {}) {
      await db.$transaction(async (tx) => {
        const created = await upsert(tx, { id: user.id, email: user.email, phone: user.phone, userMetadata: user.user_metadata });
        // A sign-up is recorded once, where the user was created (recordCreated).
        if (type === 'user.signed_up' && !created) return;
        await events.appendEvent(tx, {
          aggregateType: 'user',
          aggregateId: user.id,
          type: created && type === 'user.signed_in' ? 'user.signed_up' : type,
          payload: { provider: user.app_metadata.provider ?? null },
          metadata: { actorId: meta.actorId ?? user.id, requestId: meta.requestId ?? null, ip: meta.ip ?? null },
        });
      });
    },

    /** Inside the embedded engine's transaction that creates the user, whichever route created them. */
    async recordCreated(tx: Tx, user: MirroredUser) {
      await upsert(tx, user);
      await events.appendEvent(tx, {
        aggregateType: 'user',
        aggregateId: user.id,
        type: 'user.signed_up',
        payload: { provider: user.email ? 'email' : 'phone' },
        metadata: { actorId: user.id, requestId: requestScope.getStore()?.requestId ?? null },
      });
    },
  };
}

export type UserMirror = ReturnType<typeof createUserMirror>;
