import { Prisma, type PrismaClient } from '../generated/prisma/client.js';
import type { EventMetadata, EventStore, Tx } from '../events/store.js';
import { type SecurityEvent, securityEventTypes } from '../identity/security-events.js';
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

/** What a mirror record says happened to the user. */
export type Recorded = 'user.signed_up' | 'user.signed_in' | 'user.updated';

/**
 * Keeps idgraph's `users` table (id = the provider's user id) in step with the
 * identity provider, and records what happened as an event: both in one
 * statement, so atomically and in one round trip.
 */
export function createUserMirror({ db, events }: { db: PrismaClient; events: EventStore }) {
  /**
   * Inserts or refreshes the mirror row (no write when nothing changed) and appends the event. `type` is what the
   * caller saw; a sign-in of a user new to idgraph is recorded as their sign-up. With `whenCreated`, the event is
   * appended only if the row was new (a sign-up is recorded once).
   */
  function mirrorStatement(user: MirroredUser, type: Recorded, options: { provider: string | null; metadata: EventMetadata; whenCreated: boolean }) {
    const displayName = displayNameOf(user.userMetadata);
    return Prisma.sql`
      WITH upserted AS (
        INSERT INTO users (id, email, phone, display_name, updated_at)
        VALUES (${user.id}::uuid, ${user.email || null}, ${user.phone || null}, ${displayName}, now())
        ON CONFLICT (id) DO UPDATE
          SET email = excluded.email, phone = excluded.phone, display_name = COALESCE(excluded.display_name, users.display_name),
              updated_at = now()
          -- A sign-in of an unchanged user writes nothing.
          WHERE (users.email, users.phone, users.display_name)
                IS DISTINCT FROM (excluded.email, excluded.phone, COALESCE(excluded.display_name, users.display_name))
        RETURNING (xmax = 0) AS created
      ), outcome AS (
        -- No row from the upsert: the user existed and nothing changed. No row here: nothing to append.
        SELECT created FROM (SELECT COALESCE((SELECT created FROM upserted), false) AS created) c
        WHERE c.created OR NOT ${options.whenCreated}
      )
      SELECT e.id::text FROM outcome, LATERAL ${events.appendCall({
        aggregateType: 'user',
        aggregateId: user.id,
        type: Prisma.sql`CASE WHEN outcome.created AND ${type} = 'user.signed_in' THEN 'user.signed_up' ELSE ${type} END`,
        payload: { provider: options.provider },
        metadata: options.metadata,
      })} e`;
  }

  return {
    /** After a provider call: the user as the provider returned them. */
    async record(user: ProviderUser, type: Recorded, meta: MirrorMeta = {}) {
      await db.$queryRaw(
        mirrorStatement({ id: user.id, email: user.email, phone: user.phone, userMetadata: user.user_metadata }, type, {
          provider: user.app_metadata.provider ?? null,
          // actorId null: a system or service change (sync webhook, admin API); absent: the user acted.
          metadata: { actorId: meta.actorId === undefined ? user.id : meta.actorId, requestId: meta.requestId ?? null, ip: meta.ip ?? null },
          whenCreated: type === 'user.signed_up',
        }),
      );
    },

    /**
     * A change to the user's sessions or credentials (security-events.ts), on the user's aggregate so the user's
     * own viewerSecurityEvents stream carries it. Inside the transaction that made the change when there is one
     * (the embedded engine's), else on its own after the provider answered (GoTrue).
     */
    async recordSecurityEvent({ userId, actorId, ip, requestId, what }: SecurityEvent, tx: Tx = db) {
      const { action, ...details } = what;
      await events.appendEvent(tx, {
        aggregateType: 'user',
        aggregateId: userId,
        type: securityEventTypes[action],
        payload: details,
        metadata: { actorId, requestId: requestId ?? requestScope.getStore()?.requestId ?? null, ip: ip ?? null },
      });
    },

    /** Inside the embedded engine's transaction that creates the user, whichever route created them. */
    async recordCreated(tx: Tx, user: MirroredUser) {
      await tx.$queryRaw(
        mirrorStatement(user, 'user.signed_up', {
          provider: user.email ? 'email' : 'phone',
          metadata: { actorId: user.id, requestId: requestScope.getStore()?.requestId ?? null },
          whenCreated: false,
        }),
      );
    },
  };
}

export type UserMirror = ReturnType<typeof createUserMirror>;
