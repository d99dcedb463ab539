import type { Viewer } from '../auth/viewer.js';
import { AppError, assertThat } from '../errors.js';
import type { Prisma, PrismaClient } from '../generated/prisma/client.js';
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

/** Someone's standing in a tenant: who they are there and what they may do. */
export interface TenantStanding {
  tenant: { id: string; realmId: string; ownerId: string | null; isBaseAdmin: boolean; mfaRequired: boolean };
  /** The viewer's role in the tenant; null for a realm admin who is not a member. */
  role: string | null;
  /** Acting as a realm admin: never in the base admin tenant, never through an API key. */
  realmAdmin: boolean;
  /** Effective permissions: the role's (all built-in ones for realm admins), narrowed to an API key's scopes. */
  permissions: ReadonlySet<string>;
  /** The part of `permissions` the viewer's own role grants: what a change of their own role or an API key of theirs may carry. */
  rolePermissions: ReadonlySet<string>;
  /** A user acting themselves, not through an API key. */
  inPerson: boolean;
}

export interface TenantAccess extends TenantStanding {
  viewer: Viewer;
}

/** What a caller may hand out: the permissions they hold, and whether they may also hand out the realm's own permission strings. */
export interface GrantAuthority {
  held: ReadonlySet<string>;
  /**
   * Owners of the tenant and realm admins, in person: idgraph gives no meaning
   * to the realm's own strings and the owner role lists only the built-in ones,
   * so the tenant's top decides who gets them. Built-in permissions must always be held.
   */
  realmDefined: boolean;
}

const isBuiltin = (permission: string) => (builtinPermissions as readonly string[]).includes(permission);

/**
 * The one rule of every grant (a role to a member, an invitation, an API key's
 * scopes, a role's permissions in the catalog, ownership): nobody grants what
 * they do not hold. forbidden with reason role_exceeds_permissions (or the
 * given reason) and the permissions in excess.
 */
export function assertGrantable(authority: GrantAuthority, permissions: Iterable<string>, field: string, reason = 'role_exceeds_permissions') {
  const beyond = [...new Set(permissions)].filter((p) => !authority.held.has(p) && !(authority.realmDefined && !isBuiltin(p)));
  if (beyond.length > 0) {
    throw new AppError('forbidden', `${field}: it grants permissions you do not hold.`, { field, reason, permissions: beyond });
  }
}

/** A caller's authority to grant in a tenant (see GrantAuthority). */
export function grantAuthority(standing: TenantStanding): GrantAuthority {
  return { held: standing.permissions, realmDefined: standing.inPerson && (standing.role === 'owner' || standing.realmAdmin) };
}

/**
 * Owners' memberships are changed (role, removal) only by an owner in person
 * or by a realm admin: members:manage alone does not reach them.
 */
export function mayChangeOwners(standing: TenantStanding): boolean {
  return standing.inPerson && (standing.role === 'owner' || standing.realmAdmin);
}

/**
 * The authorization decisions of the realm layer. Realm admins are members of
 * the realm's base admin tenant whose role grants tenant:write; they may act in
 * every other tenant of the realm with every built-in permission, and their role's
 * permissions in the base admin tenant (roles:manage, audit:read, ...) apply to the
 * realm itself. In the base admin tenant everyone, realm admins included, has
 * exactly their role's permissions: there a permission is a realm-wide power, so
 * being a realm admin must not extend it. Everyone else acts in the tenants they
 * belong to, with their role's permissions. An API key acts only in its own
 * tenant, with the intersection of its scopes and its owner's current role
 * permissions there, and never as a realm admin.
 */
export function createAccessService({ db, premintChallenge }: AccessDeps) {

  const realmAdminWhere = (userId: string) => ({
    isBaseAdmin: true,
    deletedAt: null,
    memberships: { some: { userId, role: { permissions: { has: REALM_ADMIN_PERMISSION } } } },
  });

  const standingSelect = (userId: string) =>
    ({
      id: true,
      realmId: true,
      ownerId: true,
      isBaseAdmin: true,
      config: true,
      memberships: { where: { userId }, select: { role: { select: { name: true, permissions: true } } } },
      realm: { select: { tenants: { where: realmAdminWhere(userId), select: { id: true }, take: 1 } } },
    }) satisfies Prisma.TenantSelect;
  type StandingRow = Prisma.TenantGetPayload<{ select: ReturnType<typeof standingSelect> }>;

  function standingOf(viewer: Pick<Viewer, 'apiKey'>, tenant: StandingRow): TenantStanding | null {
    const role = tenant.memberships[0]?.role ?? null;
    const realmAdmin = !viewer.apiKey && !tenant.isBaseAdmin && tenant.realm.tenants.length > 0;
    if (!role && !realmAdmin) return null;
    const scopes = viewer.apiKey ? new Set(viewer.apiKey.scopes) : null;
    const narrowed = (list: Iterable<string>) => new Set([...list].filter((p) => !scopes || scopes.has(p)));
    const rolePermissions = narrowed(role?.permissions ?? []);
    const permissions = realmAdmin ? new Set([...builtinPermissions, ...rolePermissions]) : rolePermissions;
    return {
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
      rolePermissions,
      inPerson: !viewer.apiKey,
    };
  }

  async function loadStanding(viewer: Pick<Viewer, 'userId' | 'apiKey'>, tenantId: string): Promise<TenantStanding | null> {
    if (!isUuid(tenantId)) return null;
    if (viewer.apiKey && viewer.apiKey.tenantId !== tenantId) return null;
    const tenant = await db.tenant.findFirst({ where: { id: tenantId, deletedAt: null }, select: standingSelect(viewer.userId) });
    return tenant && standingOf(viewer, tenant);
  }

  async function loadTenantAccess(viewer: Viewer, tenantId: string): Promise<TenantAccess | null> {
    const standing = await loadStanding(viewer, tenantId);
    return standing && { ...standing, viewer };
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
     * The viewer's standing in each of several tenants, in one statement: what
     * tenantAccess would find for each, without the MFA and permission checks.
     * Tenants the viewer may not see are absent from the map.
     */
    async standings(viewer: Viewer, tenantIds: Iterable<string>): Promise<Map<string, TenantStanding>> {
      const ids = [...new Set(tenantIds)].filter((id) => isUuid(id) && (!viewer.apiKey || viewer.apiKey.tenantId === id));
      if (ids.length === 0) return new Map();
      const rows = await db.tenant.findMany({ where: { id: { in: ids }, deletedAt: null }, select: standingSelect(viewer.userId) });
      return new Map(rows.flatMap((row) => {
        const standing = standingOf(viewer, row);
        return standing ? [[row.id, standing] as const] : [];
      }));
    },

    /**
     * The viewer's permissions over the realm itself: their role's in the
     * realm's base admin tenant. None for an API key, even one of that tenant:
     * keys are confined to their tenant and never act for the realm.
     */
    async realmPermissions(viewer: Viewer | null, realmId: string): Promise<ReadonlySet<string>> {
      if (!viewer || viewer.apiKey) return new Set();
      const membership = await db.membership.findFirst({
        where: { userId: viewer.userId, tenant: { realmId, isBaseAdmin: true, deletedAt: null } },
        select: { role: { select: { permissions: true } } },
      });
      return new Set(membership?.role.permissions ?? []);
    },

    /**
     * What a user, in person, may grant in a tenant now, provided they hold
     * `permission` there; null when they are not (or no longer) able to act there with it.
     */
    async grantAuthorityOf(userId: string, tenantId: string, permission: string): Promise<GrantAuthority | null> {
      const standing = await loadStanding({ userId, apiKey: null }, tenantId);
      return standing?.permissions.has(permission) ? grantAuthority(standing) : null;
    },

    /**
     * A user's standing in a tenant through their own membership (what an API
     * key of theirs acts with); null when they are not a member, realm admins included.
     */
    async memberStanding(userId: string, tenantId: string): Promise<TenantStanding | null> {
      const standing = await loadStanding({ userId, apiKey: null }, tenantId);
      return standing?.role ? standing : null;
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
