import type { Prisma, PrismaClient } from '../generated/prisma/client.js';
import type { EventStore } from '../events/store.js';
import { assertThat } from '../errors.js';
import { systemRoles } from './permissions.js';

export interface RealmServiceDeps {
  db: PrismaClient;
  events: EventStore;
  defaultRealm: { slug: string; displayName: string };
}

export function createRealmService({ db, events, defaultRealm }: RealmServiceDeps) {
  return {
    /**
     * Creates the default realm and its system roles on first start; a no-op
     * afterwards, including when several replicas start at once.
     */
    async ensureDefaultRealm(): Promise<{ id: string; created: boolean }> {
      return db.$transaction(async (tx) => {
        const { count } = await tx.realm.createMany({
          data: [{ slug: defaultRealm.slug, displayName: defaultRealm.displayName }],
          skipDuplicates: true,
        });
        const realm = await tx.realm.findUniqueOrThrow({ where: { slug: defaultRealm.slug }, select: { id: true } });
        await tx.role.createMany({
          data: systemRoles.map((role) => ({ ...role, permissions: [...role.permissions], realmId: realm.id, system: true })),
          skipDuplicates: true,
        });
        if (count === 1) {
          await events.appendEvent(tx, {
            aggregateType: 'realm',
            aggregateId: realm.id,
            type: 'realm.created',
            realmId: realm.id,
            payload: { slug: defaultRealm.slug, displayName: defaultRealm.displayName, bootstrap: true },
            metadata: { actorId: null },
          });
        }
        return { id: realm.id, created: count === 1 };
      });
    },

    async getDefaultRealm<Q extends Omit<Prisma.RealmFindUniqueArgs, 'where'>>(query: Q) {
      const realm = await db.realm.findUnique({ ...query, where: { slug: defaultRealm.slug } });
      assertThat(realm, 'not_found', 'The default realm has not been created yet.');
      return realm;
    },
  };
}

export type RealmService = ReturnType<typeof createRealmService>;
