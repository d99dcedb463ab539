import type { Viewer } from '../auth/viewer.js';
import { AppError, assertThat } from '../errors.js';
import type { PrismaClient } from '../generated/prisma/client.js';
import { type Caller, requireViewer } from './caller.js';
import { builtinPermissions, REALM_ADMIN_PERMISSION } from './permissions.js';
import { isUuid } from '../uuid.js';

/** A challenge opened on one of the caller's verified factors, so the client can go straight to verifyFactor. */
export interface PremintedChallenge {
  factorId: string;
  factorType: string;
  challengeId: string;
  expiresAt: number;
}

export interface AccessDeps {
  db: PrismaClient;
  /** Opens a challenge for a caller who must pass MFA; null when they have no verified factor (or the provider cannot). */
  premintChallenge?: (caller: Caller) => Promise<PremintedChallenge | null>;
}

export interface TenantAccess {
  viewer: Viewer;
  tenant: { id: string; realmId: string; ownerId: string | null; isBaseAdmin: boolean; mfaRequired: boolean };
  /** The viewer's role in the tenant; null for a realm admin who is not a member. */
  role: string | null;
  realmAdmin: boolean;
  /** Effective permissions: the role's (all built-in ones for realm admins), narrowed to an API key's scopes. */
  permissions: ReadonlySet<string>;
}

/**
 * The authorization decisions of the realm layer. Realm admins are members of
 * the realm's base admin tenant whose role grants tenant:write; they may act in
 * every tenant of the realm, and their role's other permissions there (roles:manage,
 * audit:read, ...) apply to the realm itself. Everyone else acts in the tenants they belong to,
 * with their role's permissions. An API key acts only in its own tenant, with
 * the intersection of its scopes and its owner's current permissions there.
 */
export function createAccessService({ db, premintChallenge }: AccessDeps) {

  const realmAdminWhere = (userId: string) => ({
    isBaseAdmin: true,
    deletedAt: null,
    memberships: { some: { userId, role: { permissions: { has: REALM_ADMIN_PERMISSION } } } },
  });

  async function loadTenantAccess(viewer: Viewer, tenantId: string): Promise<TenantAccess | null> {
    if (!isUuid(tenantId)) return null;
    if (viewer.apiKey && viewer.apiKey.tenantId !== tenantId) return null;
    const tenant = await db.tenant.findFirst({
      where: { id: tenantId, deletedAt: null },
      select: {
        id: true,
        realmId: true,
        ownerId: true,
        isBaseAdmin: true,
        config: true,
        memberships: { where: { userId: viewer.userId }, select: { role: { select: { name: true, permissions: true } } } },
        realm: { select: { tenants: { where: realmAdminWhere(viewer.userId), select: { id: true }, take: 1 } } },
      },
    });
    if (!tenant) return null;
    const role = tenant.memberships[0]?.role ?? null;
    const realmAdmin = !viewer.apiKey && tenant.realm.tenants.length > 0;
    if (!role && !realmAdmin) return null;
    const granted = new Set<string>(realmAdmin ? [...builtinPermissions, ...(role?.permissions ?? [])] : (role?.permissions ?? []));
    const scopes = viewer.apiKey ? new Set(viewer.apiKey.scopes) : null;
    const permissions = scopes ? new Set([...granted].filter((p) => scopes.has(p))) : granted;
    return {
      viewer,
      tenant: {
        id: tenant.id,
        realmId: tenant.realmId,
        ownerId: tenant.ownerId,
        isBaseAdmin: tenant.isBaseAdmin,
        mfaRequired: (tenant.config as { mfaRequired?: unknown }).mfaRequired === true,
      },
      role: role?.name ?? null,
      realmAdmin,
      permissions,
    };
  }

  return {
    /**
     * The caller's standing in a tenant, requiring `permission` when given.
     * unauthenticated without a viewer; not_found for a tenant the caller may
     * not see (no hint whether it exists); forbidden without the permission.
     */
    async tenantAccess(caller: Caller, tenantId: string, permission?: string): Promise<TenantAccess> {
      const viewer = requireViewer(caller);
      const access = await loadTenantAccess(viewer, tenantId);
      assertThat(access, 'not_found', 'No such tenant.');
      // A tenant whose config says mfaRequired admits people only at aal2 (API keys are machine credentials).
      if (access.tenant.mfaRequired && !viewer.apiKey && viewer.aal !== 'aal2') {
        const challenge = await this.premintChallenge(caller);
        throw new AppError('mfa_required', 'This tenant requires multi-factor authentication.', {
          reason: 'no_mfa',
          tenantId: access.tenant.id,
          ...(challenge ? { challenge } : {}),
        });
      }
      if (permission && !access.permissions.has(permission)) throw new AppError('forbidden', undefined, { permission });
      return access;
    },

    /**
     * The viewer's permissions over the realm itself: their role's in the
     * realm's base admin tenant (an API key of that tenant: narrowed to its scopes).
     */
    async realmPermissions(viewer: Viewer | null, realmId: string): Promise<ReadonlySet<string>> {
      if (!viewer) return new Set();
      const membership = await db.membership.findFirst({
        where: { userId: viewer.userId, tenant: { realmId, isBaseAdmin: true, deletedAt: null } },
        select: { tenantId: true, role: { select: { permissions: true } } },
      });
      if (!membership || (viewer.apiKey && viewer.apiKey.tenantId !== membership.tenantId)) return new Set();
      const scopes = viewer.apiKey ? new Set(viewer.apiKey.scopes) : null;
      return new Set(membership.role.permissions.filter((p) => !scopes || scopes.has(p)));
    },

    /** A challenge for a caller who must pass MFA (see PremintedChallenge); null when none can be opened. */
    async premintChallenge(caller: Caller): Promise<PremintedChallenge | null> {
      return (await premintChallenge?.(caller)) ?? null;
    },

    /** unauthenticated without a viewer; forbidden without the permission over the realm. */
    async requireRealmPermission(caller: Caller, realmId: string, permission: string): Promise<Viewer> {
      const viewer = requireViewer(caller);
      if (!(await this.realmPermissions(viewer, realmId)).has(permission)) throw new AppError('forbidden', undefined, { permission });
      return viewer;
    },

    /** Whether the viewer administers the realm (tenant:write in its base admin tenant). */
    async isRealmAdmin(viewer: Viewer | null, realmId: string): Promise<boolean> {
      return (await this.realmPermissions(viewer, realmId)).has(REALM_ADMIN_PERMISSION);
    },

    /** unauthenticated without a viewer, forbidden unless a realm admin. */
    async requireRealmAdmin(caller: Caller, realmId: string): Promise<Viewer> {
      return this.requireRealmPermission(caller, realmId, REALM_ADMIN_PERMISSION);
    },

    /** Effective permissions in the viewer's active tenant (tenant_id); none without one. */
    async activeTenantPermissions(viewer: Viewer | null): Promise<readonly string[]> {
      const tenantId = viewer?.apiKey?.tenantId ?? viewer?.tenantId;
      if (!viewer || !tenantId) return [];
      const access = await loadTenantAccess(viewer, tenantId);
      return access ? [...access.permissions] : [];
    },

    async isTenantMember(viewer: Viewer | null, tenantId: string): Promise<boolean> {
      if (!viewer || !isUuid(tenantId)) return false;
      if (viewer.apiKey && viewer.apiKey.tenantId !== tenantId) return false;
      const membership = await db.membership.findFirst({
        where: { userId: viewer.userId, tenantId, tenant: { deletedAt: null } },
        select: { id: true },
      });
      return membership !== null;
    },
  };
}

export type AccessService = ReturnType<typeof createAccessService>;
