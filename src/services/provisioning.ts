import type { EventStore } from '../events/store.js';
import type { PrismaClient } from '../generated/prisma/client.js';
import type { User as ProviderUser } from '../identity/types.js';
import type { Caller } from './caller.js';
import { eventMetadata } from './caller.js';
import type { RealmService } from './realms.js';

export interface ProvisioningDeps {
  db: PrismaClient;
  events: EventStore;
  realms: RealmService;
  /**
   * Whether the provider confirms email addresses without asking the mailbox
   * (mailer_autoconfirm). Then a confirmed address proves nothing about who
   * holds it, and no one joins a tenant by its domain.
   */
  autoconfirmsEmail: () => Promise<boolean>;
}

/**
 * Auto-provisioning at sign-in (REALM.md signup_mode): a user whose email the
 * provider confirmed joins, as member, every ALLOWLIST tenant that verified
 * the email's domain (claimDomain, verifyDomain), and the base admin tenant
 * when it is OPEN. allowedDomains never admits anyone by itself: it can only
 * name domains the tenant verified, and a list written before that rule (or
 * around it) is ignored here.
 */
export function createProvisioning({ db, events, realms, autoconfirmsEmail }: ProvisioningDeps) {
  return {
    /** The tenant ids joined now (empty on the common path, which costs one query). */
    async autoJoin(user: ProviderUser, caller: Caller): Promise<string[]> {
      if (!user.email || !user.email_confirmed_at) return [];
      const domain = user.email.slice(user.email.lastIndexOf('@') + 1).toLowerCase();
      const realmId = await realms.defaultRealmId();
      const candidates = await db.tenant.findMany({
        where: {
          realmId,
          deletedAt: null,
          memberships: { none: { userId: user.id } },
          OR: [{ signupMode: 'open', isBaseAdmin: true }, { signupMode: 'allowlist', domains: { some: { domain, status: 'verified' } } }],
        },
        select: { id: true, signupMode: true },
      });
      const byDomain = candidates.some((tenant) => tenant.signupMode === 'allowlist');
      const tenants = byDomain && (await autoconfirmsEmail()) ? candidates.filter((tenant) => tenant.signupMode === 'open') : candidates;
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
