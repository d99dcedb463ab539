import type { Viewer } from '../auth/viewer.js';
import { AppError } from '../errors.js';
import type { Prisma, PrismaClient } from '../generated/prisma/client.js';
import { isUuid } from '../uuid.js';
import type { AccessService } from './access.js';
import type { Caller } from './caller.js';
import type { RealmService } from './realms.js';

export interface ReferenceServiceDeps {
  db: PrismaClient;
  access: AccessService;
  realms: RealmService;
}

/**
 * Federation entity references (`_entities`) for users and roles. A reference
 * resolves only for a caller who may read the entity through the API's own
 * reads, and is null otherwise, as for an id that does not exist: a gateway
 * forwards any id its client names, so a reference is no way around them.
 * Anonymous callers get null without a query.
 */
export function createReferenceService({ db, access, realms }: ReferenceServiceDeps) {
  /** members(tenantId) shows a tenant's users to whoever holds tenant:read there. */
  async function mayReadTenant(caller: Caller, tenantId: string) {
    try {
      await access.tenantAccess(caller, tenantId, 'tenant:read');
      return true;
    } catch (error) {
      if (error instanceof AppError && ['not_found', 'forbidden', 'mfa_required'].includes(error.code)) return false;
      throw error;
    }
  }

  /** Whether the user is in a live tenant the caller may read. */
  async function sharesReadableTenant(caller: Caller, viewer: Viewer, userId: string) {
    const shared = await db.membership.findMany({
      where: {
        userId,
        tenant: { deletedAt: null, ...(viewer.apiKey ? { id: viewer.apiKey.tenantId } : {}), memberships: { some: { userId: viewer.userId } } },
      },
      select: { tenantId: true, tenant: { select: { config: true } } },
    });
    // A tenant that requires MFA the caller has not passed cannot show its members; asking
    // access would also open an MFA challenge for every representation, so it is skipped here.
    const mfaPassed = Boolean(viewer.apiKey) || viewer.aal === 'aal2';
    for (const { tenantId, tenant } of shared) {
      if (!mfaPassed && (tenant.config as { mfaRequired?: unknown }).mfaRequired === true) continue;
      if (await mayReadTenant(caller, tenantId)) return true;
    }
    return false;
  }

  return {
    /** The user themself, members with tenant:read in a tenant the user is in, and realm admins. */
    async user<Q extends Omit<Prisma.UserFindUniqueArgs, 'where'>>(caller: Caller, userId: string, query: Q) {
      const viewer = caller.viewer;
      if (!viewer || !isUuid(userId)) return null;
      const visible =
        viewer.userId === userId ||
        (await sharesReadableTenant(caller, viewer, userId)) ||
        (await access.isRealmAdmin(viewer, await realms.defaultRealmId()));
      return visible ? db.user.findUnique({ ...query, where: { id: userId } }) : null;
    },

    /** The realm's role catalog is for signed-in callers (the roles query). */
    async role(caller: Caller, roleId: string) {
      if (!caller.viewer || !isUuid(roleId)) return null;
      return db.role.findFirst({ where: { id: roleId, realmId: await realms.defaultRealmId() } });
    },
  };
}

export type ReferenceService = ReturnType<typeof createReferenceService>;
