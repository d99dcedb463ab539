import { z } from 'zod';
import { AppError, assertThat } from '../errors.js';
import type { EventStore, Tx } from '../events/store.js';
import type { Prisma, PrismaClient } from '../generated/prisma/client.js';
import type { IdentityProvider } from '../identity/provider.js';
import { type AccessService, assertGrantable, grantAuthority, mayChangeOwners, type TenantAccess } from './access.js';
import { type Caller, eventMetadata } from './caller.js';
import { fields, parseInput } from './input.js';
import { viaProvider } from './provider-errors.js';
import type { RealmService } from './realms.js';

export interface MemberServiceDeps {
  db: PrismaClient;
  events: EventStore;
  access: AccessService;
  realms: RealmService;
  provider: IdentityProvider;
  /** Cached API-key state includes the owner's status: a change must reach it at once. */
  apiKeyCache: { forgetAll(): void };
}

const memberInput = z.object({ tenantId: fields.uuid, userId: fields.uuid });
const roleInput = memberInput.extend({ role: fields.roleName });
const statusInput = z.object({ userId: fields.uuid, status: z.enum(['active', 'suspended', 'deactivated']) });

// A ban the provider keeps until it is lifted (GoTrue's ban_duration): no sign-in, no refresh.
const INDEFINITE_BAN = '876000h';

export function createMemberService({ db, events, access, realms, provider, apiKeyCache }: MemberServiceDeps) {
  /**
   * Serialises owner changes of one tenant (row lock), then refuses to leave it
   * without an owner: two concurrent demotions of its last two owners cannot both pass.
   */
  async function assertAnotherOwner(tx: Tx, tenantId: string, leavingUserId: string) {
    await tx.$queryRaw`SELECT id FROM tenants WHERE id = ${tenantId}::uuid FOR UPDATE`;
    const others = await tx.membership.count({ where: { tenantId, userId: { not: leavingUserId }, role: { name: 'owner' } } });
    if (others === 0) throw new AppError('last_owner');
    const tenant = await tx.tenant.findUniqueOrThrow({ where: { id: tenantId }, select: { ownerId: true } });
    if (tenant.ownerId === leavingUserId) {
      // The designated owner steps down: the longest-standing remaining owner takes the title.
      const next = await tx.membership.findFirstOrThrow({
        where: { tenantId, userId: { not: leavingUserId }, role: { name: 'owner' } },
        orderBy: { createdAt: 'asc' },
        select: { userId: true },
      });
      await tx.tenant.update({ where: { id: tenantId }, data: { ownerId: next.userId } });
    }
  }

  /** An owner's membership is the owners' (in person) or a realm admin's to change. */
  function assertMayChangeOwner(access: TenantAccess, targetRole: string) {
    if (targetRole === 'owner' && !mayChangeOwners(access)) {
      throw new AppError('forbidden', 'Only an owner of the tenant or a realm admin may change an owner’s membership.', { reason: 'owner_only' });
    }
  }

  async function membershipOf(tx: Tx, tenantId: string, userId: string) {
    const membership = await tx.membership.findUnique({
      where: { userId_tenantId: { userId, tenantId } },
      select: { id: true, role: { select: { name: true } } },
    });
    assertThat(membership, 'not_found', 'No such member.', { field: 'userId' });
    return membership;
  }

  return {
    /** tenant:read: the tenant's members with their roles. */
    async list(caller: Caller, tenantId: string) {
      const { tenant } = await access.tenantAccess(caller, parseInput(fields.uuid, tenantId), 'tenant:read');
      const where = { tenantId: tenant.id };
      return {
        page: <Q extends Omit<Prisma.MembershipFindManyArgs, 'where'>>(query: Q) => db.membership.findMany({ ...query, where }),
        count: () => db.membership.count({ where }),
      };
    },

    /**
     * members:manage. owner is given only by transferTenantOwnership; demoting the last owner is last_owner.
     * The new role carries nothing the caller does not hold (role_exceeds_permissions); your own role
     * only goes down, to one within your own role's permissions (own_role), realm admin or not.
     */
    async updateRole(input: unknown, caller: Caller) {
      const data = parseInput(roleInput, input);
      const standing = await access.tenantAccess(caller, data.tenantId, 'members:manage');
      const { tenant } = standing;
      if (data.role === 'owner') {
        throw new AppError('bad_request', 'Ownership is given with transferTenantOwnership.', { field: 'role', reason: 'owner_via_transfer' });
      }
      return db.$transaction(async (tx) => {
        const membership = await membershipOf(tx, tenant.id, data.userId);
        const role = await tx.role.findUnique({ where: { realmId_name: { realmId: tenant.realmId, name: data.role } }, select: { id: true, permissions: true } });
        assertThat(role, 'not_found', `No role named "${data.role}" in the catalog.`, { field: 'role' });
        assertMayChangeOwner(standing, membership.role.name);
        if (data.userId === standing.viewer.userId) {
          assertGrantable({ held: standing.rolePermissions, realmDefined: false }, role.permissions, 'role', 'own_role');
        }
        assertGrantable(grantAuthority(standing), role.permissions, 'role');
        if (membership.role.name === 'owner') await assertAnotherOwner(tx, tenant.id, data.userId);
        const updated = await tx.membership.update({ where: { id: membership.id }, data: { roleId: role.id } });
        await events.appendEvent(tx, {
          aggregateType: 'tenant',
          aggregateId: tenant.id,
          type: 'member.role_changed',
          realmId: tenant.realmId,
          tenantId: tenant.id,
          payload: { userId: data.userId, from: membership.role.name, to: data.role },
          metadata: eventMetadata(caller),
        });
        return updated;
      });
    },

    /** members:manage (an owner: see assertMayChangeOwner), or a member leaving on their own. The last owner cannot leave. */
    async remove(input: unknown, caller: Caller) {
      const data = parseInput(memberInput, input);
      const leaving = caller.viewer?.userId === data.userId && !caller.viewer.apiKey;
      const standing = await access.tenantAccess(caller, data.tenantId, leaving ? undefined : 'members:manage');
      const { tenant } = standing;
      return db.$transaction(async (tx) => {
        const membership = await membershipOf(tx, tenant.id, data.userId);
        if (!leaving) assertMayChangeOwner(standing, membership.role.name);
        if (membership.role.name === 'owner') await assertAnotherOwner(tx, tenant.id, data.userId);
        await tx.membership.delete({ where: { id: membership.id } });
        // Sessions acting in this tenant get no tenant claims at their next refresh.
        await tx.sessionTenant.deleteMany({ where: { userId: data.userId, tenantId: tenant.id } });
        await events.appendEvent(tx, {
          aggregateType: 'tenant',
          aggregateId: tenant.id,
          type: 'member.removed',
          realmId: tenant.realmId,
          tenantId: tenant.id,
          payload: { userId: data.userId, role: membership.role.name, left: leaving },
          metadata: eventMetadata(caller),
        });
        return { tenantId: tenant.id, userId: data.userId };
      });
    },

    /**
     * Realm admins. Takes effect on the user's next request: every request
     * checks the status (see auth/revocation.ts accessState), and the provider
     * bans the user so no session refreshes and no sign-in succeeds.
     */
    async updateUserStatus(input: unknown, caller: Caller) {
      const data = parseInput(statusInput, input);
      const viewer = await access.requireRealmAdmin(caller, await realms.defaultRealmId());
      if (data.userId === viewer.userId) throw new AppError('forbidden', 'You cannot change your own status.', { reason: 'own_status' });
      const user = await db.$transaction(async (tx) => {
        const current = await tx.user.findUnique({ where: { id: data.userId }, select: { status: true } });
        assertThat(current, 'not_found', 'No such user.', { field: 'userId' });
        const updated = await tx.user.update({ where: { id: data.userId }, data: { status: data.status } });
        if (current.status !== data.status) {
          await events.appendEvent(tx, {
            aggregateType: 'user',
            aggregateId: data.userId,
            type: 'user.status_changed',
            payload: { from: current.status, to: data.status },
            metadata: eventMetadata(caller),
          });
        }
        return updated;
      });
      apiKeyCache.forgetAll();
      await viaProvider(() => provider.admin.updateUser(data.userId, { ban_duration: data.status === 'active' ? 'none' : INDEFINITE_BAN }));
      return user;
    },
  };
}

export type MemberService = ReturnType<typeof createMemberService>;
