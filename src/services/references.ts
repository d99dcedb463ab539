import DataLoader from 'dataloader';
import type { Viewer } from '../auth/viewer.js';
import { AppError } from '../errors.js';
import { Prisma, type PrismaClient, type Role, type Tenant, type User } from '../generated/prisma/client.js';
import { isUuid } from '../uuid.js';
import type { AccessService } from './access.js';
import type { Caller } from './caller.js';
import { REALM_ADMIN_PERMISSION } from './permissions.js';
import type { RealmService } from './realms.js';

export interface ReferenceServiceDeps {
  db: PrismaClient;
  access: AccessService;
  realms: RealmService;
}

/** What shows a tenant, and the users in it, to its members (members(tenantId), tenant(id)). */
const TENANT_READ = 'tenant:read';

interface Loaders {
  users: (include: Prisma.UserInclude) => DataLoader<string, User | null>;
  tenants: DataLoader<string, Tenant | null>;
  roles: DataLoader<string, Role | null>;
}

/**
 * Federation entity references (`_entities`) for users, tenants and roles. A
 * reference resolves only for a caller who may read the entity through the
 * API's own reads, and is null otherwise, as for an id that does not exist: a
 * gateway forwards any id its client names, so a reference is no way around
 * them. Anonymous callers get null without a query.
 *
 * A gateway sends every representation of a query plan step in one request, so
 * the references of a request are gathered per type and read in one statement
 * that carries the visibility rule: rows the caller may not see never leave the
 * database. The loaders live as long as the caller object, which is the request's,
 * or a subscription's for as long as it streams: so they batch what one tick asks
 * for and remember nothing, and every event of a stream reads visibility afresh.
 */
export function createReferenceService({ db, access, realms }: ReferenceServiceDeps) {
  const perRequest = new WeakMap<Caller, Loaders>();

  /**
   * Who may see a user through a tenant: a member holding tenant:read in a live
   * tenant the user is also in (AccessService.tenantAccess), narrowed to an API
   * key's tenant and scopes. A tenant that requires MFA the viewer has not passed
   * shows no members here: asking tenantAccess would open an MFA challenge for
   * every representation.
   */
  function sharedReadableTenant(viewer: Viewer): Prisma.TenantWhereInput | null {
    if (viewer.apiKey && !viewer.apiKey.scopes.includes(TENANT_READ)) return null;
    const mfaPassed = Boolean(viewer.apiKey) || viewer.aal === 'aal2';
    return {
      deletedAt: null,
      ...(viewer.apiKey ? { id: viewer.apiKey.tenantId } : {}),
      // A path filter is NULL where the key is absent, so the absent key is asked for by name.
      ...(mfaPassed ? {} : { OR: [{ config: { path: ['mfaRequired'], equals: Prisma.AnyNull } }, { config: { path: ['mfaRequired'], not: true } }] }),
      memberships: { some: { userId: viewer.userId, role: { permissions: { has: TENANT_READ } } } },
    };
  }

  /** The realm's base admin tenant, where the user holds the realm admin permission. */
  const adminTenantOf = (realmId: string, userId: string): Prisma.TenantWhereInput => ({
    realmId,
    isBaseAdmin: true,
    deletedAt: null,
    memberships: { some: { userId, role: { permissions: { has: REALM_ADMIN_PERMISSION } } } },
  });

  /**
   * The users among `ids` the viewer may see: themself; those sharing a tenant
   * the viewer reads (sharedReadableTenant); everyone, for a realm admin (never
   * through an API key). One statement: realm admins see the users of the realm's
   * tenants through the tenants' realm, and the viewer's own row comes along with
   * the count of their realm admin memberships. Only users in no tenant at all,
   * asked of a realm admin, take a second statement.
   */
  async function visibleUsers(viewer: Viewer, ids: string[], include: Prisma.UserInclude): Promise<User[]> {
    const realmId = await realms.defaultRealmId();
    const asAdmin = !viewer.apiKey;
    const shared = sharedReadableTenant(viewer);
    const rows = await db.user.findMany({
      where: {
        id: { in: [...ids, viewer.userId] },
        OR: [
          { id: viewer.userId },
          ...(shared ? [{ memberships: { some: { tenant: shared } } }] : []),
          ...(asAdmin ? [{ memberships: { some: { tenant: { realm: { id: realmId, tenants: { some: adminTenantOf(realmId, viewer.userId) } } } } } }] : []),
        ],
      },
      include: { ...include, _count: { select: { memberships: { where: { tenant: adminTenantOf(realmId, viewer.userId) } } } } },
    });
    const admin = asAdmin && (rows.find((row) => row.id === viewer.userId)?._count.memberships ?? 0) > 0;
    const found: User[] = rows.filter((row) => ids.includes(row.id)).map(({ _count, ...user }) => user);
    const unfound = ids.filter((id) => !found.some((row) => row.id === id));
    if (admin && unfound.length > 0) found.push(...(await db.user.findMany({ where: { id: { in: unfound } }, include })));
    return found;
  }

  /**
   * The tenants among `ids` where the viewer holds tenant:read, as tenantAccess
   * decides it: a member whose role grants it (narrowed to an API key's tenant
   * and scopes), or a realm admin outside the base admin tenant. A tenant that
   * requires MFA the viewer has not passed answers mfa_required, as tenant(id) does.
   */
  async function readableTenants(caller: Caller, viewer: Viewer, ids: string[]): Promise<Array<[string, Tenant | AppError]>> {
    if (viewer.apiKey && !viewer.apiKey.scopes.includes(TENANT_READ)) return [];
    const realmId = await realms.defaultRealmId();
    const tenants = await db.tenant.findMany({
      where: {
        id: { in: viewer.apiKey ? ids.filter((id) => id === viewer.apiKey?.tenantId) : ids },
        deletedAt: null,
        OR: [
          { memberships: { some: { userId: viewer.userId, role: { permissions: { has: TENANT_READ } } } } },
          ...(viewer.apiKey ? [] : [{ isBaseAdmin: false, realm: { tenants: { some: adminTenantOf(realmId, viewer.userId) } } }]),
        ],
      },
    });
    const mfaPassed = Boolean(viewer.apiKey) || viewer.aal === 'aal2';
    const mfaBound = tenants.filter((tenant) => !mfaPassed && (tenant.config as { mfaRequired?: unknown }).mfaRequired === true);
    // One challenge for the request, whatever the number of such tenants.
    const challenge = mfaBound.length > 0 ? await access.premintChallenge(caller) : null;
    return tenants.map((tenant) => [
      tenant.id,
      mfaBound.includes(tenant)
        ? new AppError('mfa_required', 'This tenant requires multi-factor authentication.', { reason: 'no_mfa', tenantId: tenant.id, ...(challenge ? { challenge } : {}) })
        : tenant,
    ]);
  }

  /** Each id's row (or error) in the order DataLoader asked, null for what the read did not return; malformed ids reach no SQL. */
  const byId = async <T>(ids: readonly string[], read: (ids: string[]) => Promise<Iterable<[string, T | Error]>>): Promise<Array<T | Error | null>> => {
    // PostgreSQL reads a uuid in any case and answers it in lower case.
    const canonical = (id: unknown) => (typeof id === 'string' && isUuid(id) ? id.toLowerCase() : null);
    const wellFormed = [...new Set(ids.map(canonical).filter((id) => id !== null))];
    const found = new Map(wellFormed.length > 0 ? await read(wellFormed) : []);
    return ids.map((id) => found.get(canonical(id) ?? '') ?? null);
  };
  const keyed = <T extends { id: string }>(rows: T[]) => rows.map((row): [string, T] => [row.id, row]);
  const batchOnly = { cache: false } as const;

  function loadersOf(caller: Caller, viewer: Viewer): Loaders {
    let loaders = perRequest.get(caller);
    if (!loaders) {
      const users = new Map<string, DataLoader<string, User | null>>();
      loaders = {
        // One loader per include: the schema asks the same one for every user of a request.
        users: (include) => {
          const key = JSON.stringify(include);
          let loader = users.get(key);
          if (!loader) users.set(key, (loader = new DataLoader((ids) => byId(ids, async (wanted) => keyed(await visibleUsers(viewer, wanted, include))), batchOnly)));
          return loader;
        },
        tenants: new DataLoader((ids) => byId<Tenant>(ids, (wanted) => readableTenants(caller, viewer, wanted)), batchOnly),
        roles: new DataLoader((ids) =>
          byId(ids, async (wanted) => keyed(await db.role.findMany({ where: { id: { in: wanted }, realmId: await realms.defaultRealmId() } }))),
          batchOnly,
        ),
      };
      perRequest.set(caller, loaders);
    }
    return loaders;
  }

  return {
    /**
     * The user themself, members with tenant:read in a tenant the user is in, and
     * realm admins. `include` carries the relations the User type's fields read
     * from the row (the contact fields' select; no _count): rows come back with
     * exactly those, so a caller that left it out would break those fields.
     */
    async user(caller: Caller, userId: string, include: Prisma.UserInclude): Promise<User | null> {
      return caller.viewer ? loadersOf(caller, caller.viewer).users(include).load(userId) : null;
    },

    /** A tenant for callers who may read it (tenant:read there, or a realm admin). */
    async tenant(caller: Caller, tenantId: string): Promise<Tenant | null> {
      return caller.viewer ? loadersOf(caller, caller.viewer).tenants.load(tenantId) : null;
    },

    /** The realm's role catalog is for signed-in callers (the roles query). */
    async role(caller: Caller, roleId: string): Promise<Role | null> {
      return caller.viewer ? loadersOf(caller, caller.viewer).roles.load(roleId) : null;
    },
  };
}

export type ReferenceService = ReturnType<typeof createReferenceService>;
