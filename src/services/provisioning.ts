import type { EventStore } from '../events/store.js';
import type { PrismaClient } from '../generated/prisma/client.js';
import type { User as ProviderUser } from '../identity/types.js';
import type { Caller } from './caller.js';
import { eventMetadata } from './caller.js';
import type { RealmService } from './realms.js';

/**
 * Auto-provisioning at sign-in (REALM.md signup_mode): a user with a verified
 * email joins, as member, every ALLOWLIST tenant whose allowedDomains or
 * verified domains hold the email's domain, and the base admin tenant when it is OPEN.
 */
export function createProvisioning({ db, events, realms }: { db: PrismaClient; events: EventStore; realms: RealmService }) {
  return {
    /** The tenant ids joined now (empty on the common path, which costs one query). */
    async autoJoin(user: ProviderUser, caller: Caller): Promise<string[]> {
      if (!user.email || !user.email_confirmed_at) return [];
      const domain = user.email.slice(user.email.lastIndexOf('@') + 1).toLowerCase();
      const realmId = await realms.defaultRealmId();
      const tenants = await db.tenant.findMany({
        where: {
          realmId,
          deletedAt: null,
          memberships: { none: { userId: user.id } },
          OR: [
            { signupMode: 'open', isBaseAdmin: true },
            { signupMode: 'allowlist', OR: [{ allowedDomains: { has: domain } }, { domains: { some: { domain, status: 'verified' } } }] },
          ],
        },
        select: { id: true },
      });
      if (tenants.length === 0) return [];
      return db.$transaction(async (tx) => {
        const member = await tx.role.findUniqueOrThrow({ where: { realmId_name: { realmId, name: 'member' } }, select: { id: true } });
        const joined: string[] = [];
        for (const { id: tenantId } of tenants) {
          const { count } = await tx.membership.createMany({ data: [{ userId: user.id, tenantId, roleId: member.id }], skipDuplicates: true });
          if (count === 0) continue;
          joined.push(tenantId);
          await events.appendEvent(tx, {
            aggregateType: 'tenant',
            aggregateId: tenantId,
            type: 'member.added',
            realmId,
            tenantId,
            payload: { userId: user.id, role: 'member', via: 'auto_provision', domain },
            metadata: { ...eventMetadata(caller), actorId: user.id },
          });
        }
        return joined;
      });
    },
  };
}

export type Provisioning = ReturnType<typeof createProvisioning>;
