import type { Viewer } from '../auth/viewer.js';
import { AppError } from '../errors.js';
import { WEBHOOK_DESTINATION_PREFIX } from '../events/webhooks.js';
import { Prisma, type PrismaClient } from '../generated/prisma/client.js';
import { isUuid } from '../uuid.js';
import type { AccessService, TenantStanding } from './access.js';
import type { Caller } from './caller.js';
import type { RealmService } from './realms.js';

/** The most ids one nodes(ids) call resolves. */
export const MAX_NODE_IDS = 100;

/** Every object type whose id is its row's UUID, with the table it lives in. */
const nodeTables = {
  Realm: 'realm',
  Tenant: 'tenant',
  User: 'user',
  Role: 'role',
  Membership: 'membership',
  Invitation: 'invitation',
  ApiKey: 'apiKey',
  Domain: 'domain',
  Origin: 'origin',
  Otp: 'otp',
  WebhookEndpoint: 'webhookEndpoint',
  WebhookDelivery: 'outbox',
  AuditEvent: 'event',
} as const;

export type NodeType = keyof typeof nodeTables;

/** What decides whether the caller sees a row: its type and the tenant, realm and issuer it belongs to. */
interface Located {
  type: NodeType;
  id: string;
  tenantId: string | null;
  realmId: string | null;
  issuerId: string | null;
}

/** The permission each tenant-scoped type's own query asks of the caller in the row's tenant. */
const tenantPermission: Partial<Record<NodeType, string>> = {
  Tenant: 'tenant:read',
  Membership: 'tenant:read',
  Invitation: 'invitations:manage',
  ApiKey: 'apikeys:manage',
  Domain: 'domains:manage',
  Otp: 'otp:issue',
  WebhookEndpoint: 'webhooks:manage',
  WebhookDelivery: 'webhooks:manage',
  AuditEvent: 'audit:read',
};

/**
 * Finds the type of every id in one statement. Each row carries what its
 * type's visibility rule needs; rows row-level security hides from the caller
 * do not come back, as if they did not exist.
 */
function locateQuery(ids: string[]): Prisma.Sql {
  const wanted = Prisma.join(ids.map((id) => Prisma.sql`(${id}::uuid)`));
  return Prisma.sql`
    WITH wanted(id) AS (VALUES ${wanted})
    SELECT 'Realm' AS type, id::text AS id, NULL::text AS "tenantId", id::text AS "realmId", NULL::text AS "issuerId"
      FROM realms WHERE id IN (SELECT id FROM wanted)
    UNION ALL SELECT 'Tenant', id::text, id::text, realm_id::text, NULL FROM tenants WHERE id IN (SELECT id FROM wanted)
    UNION ALL SELECT 'User', id::text, NULL, NULL, NULL FROM users WHERE id IN (SELECT id FROM wanted)
    UNION ALL SELECT 'Role', id::text, NULL, realm_id::text, NULL FROM roles WHERE id IN (SELECT id FROM wanted)
    UNION ALL SELECT 'Membership', id::text, tenant_id::text, NULL, NULL FROM memberships WHERE id IN (SELECT id FROM wanted)
    UNION ALL SELECT 'Invitation', id::text, tenant_id::text, NULL, NULL FROM invitations WHERE id IN (SELECT id FROM wanted)
    UNION ALL SELECT 'ApiKey', id::text, tenant_id::text, NULL, NULL FROM api_keys WHERE id IN (SELECT id FROM wanted)
    UNION ALL SELECT 'Domain', id::text, tenant_id::text, NULL, NULL FROM domains WHERE id IN (SELECT id FROM wanted)
    UNION ALL SELECT 'Origin', id::text, NULL, realm_id::text, NULL FROM origins WHERE id IN (SELECT id FROM wanted)
    UNION ALL SELECT 'Otp', id::text, tenant_id::text, NULL, issuer_id::text FROM otps WHERE id IN (SELECT id FROM wanted)
    UNION ALL SELECT 'WebhookEndpoint', id::text, tenant_id::text, realm_id::text, NULL FROM webhook_endpoints WHERE id IN (SELECT id FROM wanted)
    UNION ALL SELECT 'WebhookDelivery', o.id::text, e.tenant_id::text, e.realm_id::text, NULL
      FROM outbox o JOIN webhook_endpoints e ON o.destination = ${WEBHOOK_DESTINATION_PREFIX} || e.id::text
      WHERE o.id IN (SELECT id FROM wanted)
    UNION ALL SELECT 'AuditEvent', ev.id::text, ev.tenant_id::text, COALESCE(ev.realm_id, t.realm_id)::text, NULL
      FROM events ev LEFT JOIN tenants t ON t.id = ev.tenant_id
      WHERE ev.id IN (SELECT id FROM wanted)`;
}

export interface NodeServiceDeps {
  db: PrismaClient;
  access: AccessService;
  realms: RealmService;
}

/** A node found and visible to the caller: its type and its row, loaded with the query asked for that type. */
export interface LoadedNode {
  type: NodeType;
  row: object;
}

/**
 * node(id) and nodes(ids): any object by its UUID. The type is found in one
 * statement; then each row is shown only when the query of its own type would
 * show it to the caller, and is otherwise not_found, exactly as an id of
 * nothing, so a node id tells no one what it cannot already see. Rows are
 * loaded one statement per type, however many ids are asked.
 */
export function createNodeService({ db, access, realms }: NodeServiceDeps) {
  /** Which located rows the caller may see, each by its type's own rule. */
  async function visibleIds(viewer: Viewer | null, located: Located[]): Promise<Set<string>> {
    const realmId = await realms.defaultRealmId();
    const visible = new Set<string>();
    // The realm query is public; every other type needs a signed-in caller.
    for (const row of located) if (row.type === 'Realm' && row.id === realmId) visible.add(row.id);
    if (!viewer) return visible;

    const userIds = located.filter((row) => row.type === 'User').map((row) => row.id);
    // A user is visible through a tenant both are in, where the caller may read the members (members query).
    const shared = userIds.length
      ? await db.membership.findMany({
          where: {
            userId: { in: userIds, not: viewer.userId },
            tenant: { deletedAt: null, ...(viewer.apiKey ? { id: viewer.apiKey.tenantId } : {}), memberships: { some: { userId: viewer.userId } } },
          },
          select: { userId: true, tenantId: true },
        })
      : [];
    const tenantIds = [...located.flatMap((row) => (row.tenantId && row.type in tenantPermission ? [row.tenantId] : [])), ...shared.map((m) => m.tenantId)];
    const standings = await access.standings(viewer, tenantIds);
    const realmWide = located.some((row) => ['User', 'Origin', 'AuditEvent'].includes(row.type) || (row.type === 'WebhookEndpoint' && !row.tenantId) || (row.type === 'WebhookDelivery' && !row.tenantId));
    const realmAdmin = realmWide && (await access.isRealmAdmin(viewer, realmId));

    // tenantAccess refuses a tenant that requires MFA to a person below aal2.
    const allows = (standing: TenantStanding | undefined, permission: string) =>
      standing !== undefined && standing.permissions.has(permission) && (!standing.tenant.mfaRequired || Boolean(viewer.apiKey) || viewer.aal === 'aal2');
    const inTenant = (row: Located) => row.tenantId !== null && allows(standings.get(row.tenantId), tenantPermission[row.type]!);

    for (const row of located) {
      switch (row.type) {
        case 'Realm':
          break;
        case 'User':
          if (row.id === viewer.userId || realmAdmin || shared.some((m) => m.userId === row.id && allows(standings.get(m.tenantId), 'tenant:read'))) visible.add(row.id);
          break;
        case 'Role':
          if (row.realmId === realmId) visible.add(row.id);
          break;
        case 'Origin':
          if (realmAdmin && row.realmId === realmId) visible.add(row.id);
          break;
        case 'Otp':
          if (row.issuerId === viewer.userId && inTenant(row)) visible.add(row.id);
          break;
        case 'WebhookEndpoint':
        case 'WebhookDelivery':
          if (row.tenantId ? inTenant(row) : realmAdmin && row.realmId === realmId) visible.add(row.id);
          break;
        case 'AuditEvent':
          // Realm admins read the realm's events, its tenants' and those of no realm (identity events).
          if (inTenant(row) || (realmAdmin && (row.realmId === realmId || (row.realmId === null && row.tenantId === null)))) visible.add(row.id);
          break;
        default:
          if (inTenant(row)) visible.add(row.id);
      }
    }
    return visible;
  }

  async function loadRows(type: NodeType, ids: string[], query: object): Promise<Array<{ id: string }>> {
    const where = { where: { id: { in: ids } } };
    // Each delegate takes the same findMany arguments; TypeScript cannot see that through the union of delegates.
    const delegate = db[nodeTables[type]] as unknown as { findMany(args: object): Promise<Array<{ id: string }>> };
    return delegate.findMany({ ...query, ...where });
  }

  return {
    /**
     * The nodes for `ids`, in order: each a LoadedNode, or an AppError for
     * that id alone (bad_request for a malformed id, not_found for an id of
     * nothing the caller may see). `queryFor` gives the Prisma selection of each type.
     */
    async load(caller: Caller, ids: readonly string[], queryFor: (type: NodeType) => object): Promise<Array<LoadedNode | AppError>> {
      if (ids.length > MAX_NODE_IDS) {
        throw new AppError('query_too_complex', `nodes takes at most ${MAX_NODE_IDS} ids.`, { limit: MAX_NODE_IDS, count: ids.length });
      }
      const wanted = [...new Set(ids.filter(isUuid).map((id) => id.toLowerCase()))];
      const located = wanted.length ? await db.$queryRaw<Located[]>(locateQuery(wanted)) : [];
      const visible = await visibleIds(caller.viewer, located);
      const byType = new Map<NodeType, string[]>();
      for (const row of located) if (visible.has(row.id)) byType.set(row.type, [...(byType.get(row.type) ?? []), row.id]);
      const loaded = new Map<string, LoadedNode>();
      await Promise.all(
        [...byType].map(async ([type, typeIds]) => {
          for (const row of await loadRows(type, typeIds, queryFor(type))) loaded.set(row.id, { type, row });
        }),
      );
      return ids.map((id) =>
        !isUuid(id)
          ? new AppError('bad_request', 'An id is a UUID.', { id })
          : (loaded.get(id.toLowerCase()) ?? new AppError('not_found', 'Could not resolve to a node with this id.')),
      );
    },
  };
}

export type NodeService = ReturnType<typeof createNodeService>;
