import { randomUrlToken } from '../crypto.js';
import type { Prisma, PrismaClient } from '../generated/prisma/client.js';
import type { EventStore } from '../events/store.js';
import { assertThat } from '../errors.js';
import type { IdentityProvider } from '../identity/provider.js';
import { ProviderError } from '../identity/errors.js';
import { systemRoles } from './permissions.js';
import type { UserMirror } from './user-mirror.js';

export interface RealmServiceDeps {
  db: PrismaClient;
  events: EventStore;
  defaultRealm: { slug: string; displayName: string };
}

/** The slug of the tenant whose admins administer the realm. */
export const BASE_ADMIN_TENANT_SLUG = 'admin';

export function createRealmService({ db, events, defaultRealm }: RealmServiceDeps) {
  let defaultRealmId: Promise<string> | null = null;

  return {
    /**
     * Creates the default realm, its system roles and its base admin tenant on
     * first start; a no-op afterwards, including when several replicas start at once.
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
        const admin = await tx.tenant.createMany({
          data: [{ realmId: realm.id, slug: BASE_ADMIN_TENANT_SLUG, displayName: 'Realm administrators', isBaseAdmin: true }],
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
        if (admin.count === 1) {
          const tenant = await tx.tenant.findUniqueOrThrow({ where: { realmId_slug: { realmId: realm.id, slug: BASE_ADMIN_TENANT_SLUG } } });
          await events.appendEvent(tx, {
            aggregateType: 'tenant',
            aggregateId: tenant.id,
            type: 'tenant.created',
            realmId: realm.id,
            tenantId: tenant.id,
            payload: { slug: tenant.slug, displayName: tenant.displayName, baseAdmin: true },
            metadata: { actorId: null },
          });
        }
        return { id: realm.id, created: count === 1 };
      });
    },

    /**
     * Makes sure the base admin tenant has an owner. On a first start this
     * creates the bootstrap admin at the provider with a random password and
     * returns the credential for the console. When the address already has an
     * account (an operator's own, or another replica's creation) and idgraph
     * knows it, that account becomes the owner and no password is returned
     * (granted false when idgraph does not know it yet); null when nothing changed.
     */
    async ensureBootstrapAdmin({ provider, mirror, email }: { provider: IdentityProvider; mirror: UserMirror; email: string }) {
      const realmId = await this.defaultRealmId();
      const tenant = await db.tenant.findUniqueOrThrow({
        where: { realmId_slug: { realmId, slug: BASE_ADMIN_TENANT_SLUG } },
        select: { id: true, _count: { select: { memberships: true } } },
      });
      if (tenant._count.memberships > 0) return null;
      const password = randomUrlToken(18);
      let userId: string;
      let created = false;
      try {
        const user = await provider.admin.createUser({ email, password, email_confirm: true, user_metadata: { name: 'Realm administrator' } });
        await mirror.record(user, 'user.signed_up', { actorId: null });
        userId = user.id;
        created = true;
      } catch (error) {
        if (!(error instanceof ProviderError && error.errorCode === 'email_exists')) throw error;
        const existing = await db.user.findUnique({ where: { email }, select: { id: true } });
        // An account idgraph has never seen: it becomes admin once it has signed in through idgraph (next start).
        if (!existing) return { email, password: null, granted: false };
        userId = existing.id;
      }
      const granted = await db.$transaction(async (tx) => {
        const owner = await tx.role.findUniqueOrThrow({ where: { realmId_name: { realmId, name: 'owner' } }, select: { id: true } });
        const { count } = await tx.membership.createMany({ data: [{ userId, tenantId: tenant.id, roleId: owner.id }], skipDuplicates: true });
        if (count === 0) return false;
        await tx.tenant.updateMany({ where: { id: tenant.id, ownerId: null }, data: { ownerId: userId } });
        await events.appendEvent(tx, {
          aggregateType: 'tenant',
          aggregateId: tenant.id,
          type: 'member.added',
          realmId,
          tenantId: tenant.id,
          payload: { userId, role: 'owner', bootstrap: true },
          metadata: { actorId: null },
        });
        return true;
      });
      if (!granted) return null;
      return { email, password: created ? password : null, granted: true };
    },

    /** The default realm's id (every tenant, role and key lives in it until idgraph serves several realms). */
    defaultRealmId(): Promise<string> {
      defaultRealmId ??= db.realm
        .findUnique({ where: { slug: defaultRealm.slug }, select: { id: true } })
        .then((realm) => {
          if (!realm) defaultRealmId = null;
          assertThat(realm, 'unavailable', 'The default realm has not been created yet.');
          return realm.id;
        });
      return defaultRealmId;
    },

    async getDefaultRealm<Q extends Omit<Prisma.RealmFindUniqueArgs, 'where'>>(query: Q) {
      const realm = await db.realm.findUnique({ ...query, where: { slug: defaultRealm.slug } });
      assertThat(realm, 'not_found', 'The default realm has not been created yet.');
      return realm;
    },
  };
}

export type RealmService = ReturnType<typeof createRealmService>;
