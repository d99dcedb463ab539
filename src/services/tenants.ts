import { z } from 'zod';
import { isUniqueViolation } from '../db/errors.js';
import { AppError, assertThat } from '../errors.js';
import type { EventStore, Tx } from '../events/store.js';
import type { Prisma, PrismaClient } from '../generated/prisma/client.js';
import { type AccessService, assertGrantable, grantAuthority } from './access.js';
import { type Caller, eventMetadata, requireViewer } from './caller.js';
import { fields, parseInput } from './input.js';
import type { RealmService } from './realms.js';
import { mergeTenantConfig } from './tenant-config.js';

export interface TenantServiceDeps {
  db: PrismaClient;
  events: EventStore;
  access: AccessService;
  realms: RealmService;
  clock: () => number;
}

const signupMode = z.enum(['closed', 'allowlist', 'open']);
const allowedDomains = z.array(fields.domain).max(50, 'at most 50 domains');

const createInput = z.object({
  displayName: fields.displayName,
  slug: fields.slug.optional(),
  signupMode: signupMode.default('closed'),
  allowedDomains: allowedDomains.default([]),
});
const updateInput = z.object({
  tenantId: fields.uuid,
  displayName: fields.displayName.optional(),
  slug: fields.slug.optional(),
  signupMode: signupMode.optional(),
  allowedDomains: allowedDomains.optional(),
});
const transferInput = z.object({
  tenantId: fields.uuid,
  newOwnerId: fields.uuid,
  previousOwnerRole: fields.roleName.default('member'),
});

/** A slug from a display name: "Acme Corp." → "acme-corp". */
const slugOf = (displayName: string) =>
  displayName
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63) || 'tenant';

/** open sign-up provisions every user: only the realm's base admin tenant may use it (seed 002). */
function assertSignupMode(mode: string | undefined, isBaseAdmin: boolean) {
  if (mode === 'open' && !isBaseAdmin) {
    throw new AppError('bad_request', 'signupMode OPEN is reserved for the realm’s base admin tenant.', { field: 'signupMode' });
  }
}

/**
 * allowedDomains may only name domains the tenant itself verified (claimDomain,
 * verifyDomain): listing a domain must never admit its users by assertion alone.
 * A tenant being created has verified nothing yet.
 */
async function assertVerifiedDomains(tx: Tx, tenantId: string | null, domains: string[] | undefined) {
  if (!domains?.length) return;
  const verified = tenantId
    ? new Set((await tx.domain.findMany({ where: { tenantId, domain: { in: domains }, status: 'verified' }, select: { domain: true } })).map((d) => d.domain))
    : new Set<string>();
  const index = domains.findIndex((domain) => !verified.has(domain));
  if (index >= 0) {
    throw new AppError('bad_request', `allowedDomains: ${domains[index]} is not a domain this tenant has verified (claimDomain, then verifyDomain).`, {
      field: `allowedDomains.${index}`,
      reason: 'domain_not_verified',
    });
  }
}

export function createTenantService({ db, events, access, realms, clock }: TenantServiceDeps) {
  async function catalogRole(tx: Tx, realmId: string, name: string, field: string) {
    const role = await tx.role.findUnique({ where: { realmId_name: { realmId, name } }, select: { id: true, permissions: true } });
    assertThat(role, 'not_found', `No role named "${name}" in the catalog.`, { field });
    return role;
  }

  /** Only an owner of the tenant (not a realm admin acting from outside, not an API key). */
  function assertOwner(role: string | null, caller: Caller) {
    if (role !== 'owner' || caller.viewer?.apiKey) throw new AppError('forbidden', 'Only an owner of the tenant may do this.', { reason: 'owner_only' });
  }

  return {
    /** The tenants a caller may see: their own; every live tenant of the realm for realm admins. */
    async list(caller: Caller, filter: { name?: string | null }) {
      const viewer = requireViewer(caller);
      const realmId = await realms.defaultRealmId();
      const name = filter.name?.trim();
      const visible: Prisma.TenantWhereInput = viewer.apiKey
        ? { id: (await access.tenantAccess(caller, viewer.apiKey.tenantId, 'tenant:read')).tenant.id }
        : (await access.isRealmAdmin(viewer, realmId))
          ? {}
          : { memberships: { some: { userId: viewer.userId } } };
      const where: Prisma.TenantWhereInput = { realmId, deletedAt: null, ...visible, ...(name ? { displayName: { contains: name, mode: 'insensitive' } } : {}) };
      return {
        page: <Q extends Omit<Prisma.TenantFindManyArgs, 'where'>>(query: Q) => db.tenant.findMany({ ...query, where }),
        count: () => db.tenant.count({ where }),
      };
    },

    async get<Q extends Omit<Prisma.TenantFindUniqueArgs, 'where'>>(caller: Caller, tenantId: string, query: Q) {
      const { tenant } = await access.tenantAccess(caller, tenantId, 'tenant:read');
      return db.tenant.findUniqueOrThrow({ ...query, where: { id: tenant.id } });
    },

    /** Any signed-in user may create a tenant; they become its owner. */
    async create(input: unknown, caller: Caller) {
      const viewer = requireViewer(caller);
      if (viewer.apiKey) throw new AppError('forbidden', 'API keys cannot create tenants.');
      const data = parseInput(createInput, input);
      assertSignupMode(data.signupMode, false);
      await assertVerifiedDomains(db, null, data.allowedDomains);
      const realmId = await realms.defaultRealmId();
      const slug = data.slug ?? slugOf(data.displayName);
      try {
        return await db.$transaction(async (tx) => {
          const ownerRoleId = (await catalogRole(tx, realmId, 'owner', 'role')).id;
          const tenant = await tx.tenant.create({
            data: {
              realmId,
              slug,
              displayName: data.displayName,
              signupMode: data.signupMode,
              allowedDomains: data.allowedDomains,
              ownerId: viewer.userId,
              memberships: { create: { userId: viewer.userId, roleId: ownerRoleId } },
            },
          });
          await events.appendEvent(tx, {
            aggregateType: 'tenant',
            aggregateId: tenant.id,
            type: 'tenant.created',
            realmId,
            tenantId: tenant.id,
            payload: { slug, displayName: tenant.displayName, signupMode: tenant.signupMode, allowedDomains: tenant.allowedDomains, ownerId: viewer.userId },
            metadata: eventMetadata(caller),
          });
          return tenant;
        });
      } catch (error) {
        if (isUniqueViolation(error)) throw new AppError('conflict', `The slug "${slug}" is taken.`, { reason: 'slug_taken', field: 'slug' });
        throw error;
      }
    },

    /** tenant:write. */
    async update(input: unknown, caller: Caller) {
      const data = parseInput(updateInput, input);
      const { tenant } = await access.tenantAccess(caller, data.tenantId, 'tenant:write');
      assertSignupMode(data.signupMode, tenant.isBaseAdmin);
      const { tenantId, ...change } = data;
      const changed = Object.fromEntries(Object.entries(change).filter(([, value]) => value !== undefined));
      try {
        return await db.$transaction(async (tx) => {
          await assertVerifiedDomains(tx, tenantId, data.allowedDomains);
          const updated = await tx.tenant.update({ where: { id: tenantId }, data: changed });
          await events.appendEvent(tx, {
            aggregateType: 'tenant',
            aggregateId: tenantId,
            type: 'tenant.updated',
            realmId: tenant.realmId,
            tenantId,
            payload: { changed },
            metadata: eventMetadata(caller),
          });
          return updated;
        });
      } catch (error) {
        if (isUniqueViolation(error)) throw new AppError('conflict', `The slug "${data.slug}" is taken.`, { reason: 'slug_taken', field: 'slug' });
        throw error;
      }
    },

    /** tenant:write; only the allowlisted keys of tenant-config.ts. */
    async updateConfig(input: { tenantId: string; config: unknown }, caller: Caller) {
      const tenantId = parseInput(fields.uuid, input.tenantId);
      const { tenant } = await access.tenantAccess(caller, tenantId, 'tenant:write');
      return db.$transaction(async (tx) => {
        const current = await tx.tenant.findUniqueOrThrow({ where: { id: tenantId }, select: { config: true } });
        const config = mergeTenantConfig(current.config, input.config);
        const updated = await tx.tenant.update({ where: { id: tenantId }, data: { config } });
        await events.appendEvent(tx, {
          aggregateType: 'tenant',
          aggregateId: tenantId,
          type: 'tenant.config_updated',
          realmId: tenant.realmId,
          tenantId,
          payload: { keys: Object.keys(input.config as object) },
          metadata: eventMetadata(caller),
        });
        return updated;
      });
    },

    /**
     * Owner only. A soft delete: the tenant disappears from every read, its
     * memberships end, pending invitations are revoked and its API keys stop working.
     */
    async remove(input: { tenantId: string }, caller: Caller) {
      const tenantId = parseInput(fields.uuid, input.tenantId);
      const { tenant, role } = await access.tenantAccess(caller, tenantId);
      assertOwner(role, caller);
      if (tenant.isBaseAdmin) throw new AppError('forbidden', 'The realm’s base admin tenant cannot be deleted.', { reason: 'base_admin_tenant' });
      const now = new Date(clock());
      return db.$transaction(async (tx) => {
        const deleted = await tx.tenant.update({ where: { id: tenantId }, data: { deletedAt: now } });
        const members = await tx.membership.deleteMany({ where: { tenantId } });
        await tx.invitation.updateMany({ where: { tenantId, status: 'pending' }, data: { status: 'revoked', revokedAt: now } });
        await tx.apiKey.updateMany({ where: { tenantId, revokedAt: null }, data: { revokedAt: now } });
        await tx.sessionTenant.deleteMany({ where: { tenantId } });
        await events.appendEvent(tx, {
          aggregateType: 'tenant',
          aggregateId: tenantId,
          type: 'tenant.deleted',
          realmId: tenant.realmId,
          tenantId,
          payload: { membershipsEnded: members.count },
          metadata: eventMetadata(caller),
        });
        return deleted;
      });
    },

    /**
     * Owner only; the only way to make someone an owner. The new owner must
     * already be a member; the previous owner keeps a membership with the chosen role.
     */
    async transferOwnership(input: unknown, caller: Caller) {
      const data = parseInput(transferInput, input);
      const standing = await access.tenantAccess(caller, data.tenantId);
      const { tenant, role, viewer } = standing;
      assertOwner(role, caller);
      assertThat(data.newOwnerId !== viewer.userId, 'bad_request', 'You already own this tenant.', { field: 'newOwnerId' });
      return db.$transaction(async (tx) => {
        const target = await tx.membership.findUnique({ where: { userId_tenantId: { userId: data.newOwnerId, tenantId: tenant.id } } });
        assertThat(target, 'not_found', 'The new owner must be a member of the tenant.', { field: 'newOwnerId' });
        const ownerRole = await catalogRole(tx, tenant.realmId, 'owner', 'role');
        const previousRole = await catalogRole(tx, tenant.realmId, data.previousOwnerRole, 'previousOwnerRole');
        // Both roles handed out here pass the rule of every grant.
        assertGrantable(grantAuthority(standing), ownerRole.permissions, 'newOwnerId');
        assertGrantable(grantAuthority(standing), previousRole.permissions, 'previousOwnerRole');
        await tx.membership.update({ where: { id: target.id }, data: { roleId: ownerRole.id } });
        await tx.membership.update({ where: { userId_tenantId: { userId: viewer.userId, tenantId: tenant.id } }, data: { roleId: previousRole.id } });
        const updated = await tx.tenant.update({ where: { id: tenant.id }, data: { ownerId: data.newOwnerId } });
        await events.appendEvent(tx, {
          aggregateType: 'tenant',
          aggregateId: tenant.id,
          type: 'tenant.ownership_transferred',
          realmId: tenant.realmId,
          tenantId: tenant.id,
          payload: { from: viewer.userId, to: data.newOwnerId, previousOwnerRole: data.previousOwnerRole },
          metadata: eventMetadata(caller),
        });
        return updated;
      });
    },
  };
}

export type TenantService = ReturnType<typeof createTenantService>;
