import { z } from 'zod';
import { Prisma, type PrismaClient } from '../generated/prisma/client.js';
import type { AccessService } from './access.js';
import type { Caller } from './caller.js';
import { fields, parseInput } from './input.js';
import type { RealmService } from './realms.js';

/** One row of the event store, as the audit log shows it. */
export interface AuditEventRow {
  id: string;
  position: bigint;
  aggregateType: string;
  aggregateId: string;
  version: number;
  type: string;
  payload: unknown;
  metadata: { actorId?: string | null; requestId?: string | null; ip?: string | null } | null;
  realmId: string | null;
  tenantId: string | null;
  occurredAt: Date;
}

export interface AuditEventPage {
  edges: Array<{ cursor: string; node: AuditEventRow }>;
  /** The events of the scope and filter across every page; counted only when called. */
  totalCount: () => Promise<number>;
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
}

export const AUDIT_PAGE_MAX = 100;
const AUDIT_PAGE_DEFAULT = 20;

/**
 * The events a realm admin sees: the realm's own, its tenants' (deleted ones
 * included: the log outlives them), and identity events that belong to no
 * realm or tenant (user.*). idgraph serves one realm today, so those belong to it.
 */
export function realmEventScope(realmId: string): Prisma.Sql {
  return Prisma.sql`(realm_id = ${realmId}::uuid
    OR tenant_id IN (SELECT id FROM tenants WHERE realm_id = ${realmId}::uuid)
    OR (realm_id IS NULL AND tenant_id IS NULL))`;
}

// The cursor is the event's position, the same cursor the auditEvents subscription resumes from.
export const auditCursor = z
  .string()
  .regex(/^\d{1,19}$/, 'must be a cursor from this connection')
  // Positions are bigint: a larger number is no cursor (and would be a database error, not the client's).
  .refine((value) => !/^\d+$/.test(value) || BigInt(value) <= 9_223_372_036_854_775_807n, 'must be a cursor from this connection');
const auditEventsInput = z
  .object({
    filter: z
      .object({
        tenantId: fields.uuid.nullish(),
        actorId: fields.uuid.nullish(),
        types: z
          .array(z.string().regex(/^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$/, 'must be event types such as tenant.created'))
          .max(50, 'must list at most 50 event types')
          .nullish(),
        since: z.date().nullish(),
        until: z.date().nullish(),
      })
      .refine((f) => !f.since || !f.until || f.since < f.until, { message: 'must be later than since', path: ['until'] })
      .nullish(),
    first: z.number().int().min(0).max(AUDIT_PAGE_MAX, `must be at most ${AUDIT_PAGE_MAX}`).nullish(),
    last: z.number().int().min(0).max(AUDIT_PAGE_MAX, `must be at most ${AUDIT_PAGE_MAX}`).nullish(),
    after: auditCursor.nullish(),
    before: auditCursor.nullish(),
  })
  .refine((input) => input.first == null || input.last == null, { message: 'give first or last, not both', path: ['last'] });

export type AuditEventsInput = z.input<typeof auditEventsInput>;
export type AuditEventsRequest = z.output<typeof auditEventsInput>;

/** The events one caller may read: a tenant's, (realm admins) the realm's, or (a user's security events) their own account's. */
export type AuditScope = { tenantId: string } | { realmId: string } | { userId: string };

type AuditFilter = NonNullable<AuditEventsRequest['filter']>;

/** An event as the event log's tail reads it: with the realm of its tenant, which the realm scope needs. */
export interface TailedEventRow extends AuditEventRow {
  tenantRealmId: string | null;
}

/** The condition of a scope, in SQL (auditEventsQuery) and in memory (eventInScope): they say the same. */
function scopeCondition(scope: AuditScope): Prisma.Sql {
  if ('tenantId' in scope) return Prisma.sql`tenant_id = ${scope.tenantId}::uuid`;
  if ('realmId' in scope) return realmEventScope(scope.realmId);
  return Prisma.sql`aggregate_type = 'user' AND aggregate_id = ${scope.userId}`;
}

/** Whether an event belongs to a scope and passes a filter: the WHERE clause of auditEventsQuery, for events read once for every subscriber. */
export function eventInScope(scope: AuditScope, filter: AuditFilter | null | undefined, event: TailedEventRow): boolean {
  if ('tenantId' in scope) {
    if (event.tenantId !== scope.tenantId) return false;
  } else if ('realmId' in scope) {
    const inRealm = event.realmId === scope.realmId || event.tenantRealmId === scope.realmId || (event.realmId === null && event.tenantId === null);
    if (!inRealm) return false;
  } else if (event.aggregateType !== 'user' || event.aggregateId !== scope.userId) {
    return false;
  }
  if (filter?.actorId && event.metadata?.actorId !== filter.actorId) return false;
  if (filter?.types?.length && !filter.types.includes(event.type)) return false;
  if (filter?.since && event.occurredAt < filter.since) return false;
  if (filter?.until && event.occurredAt >= filter.until) return false;
  return true;
}

/** The events of a scope that pass a filter, whatever the page. */
function filterConditions(scope: AuditScope, filter: AuditFilter | null | undefined): Prisma.Sql[] {
  const conditions = [scopeCondition(scope)];
  if (filter?.actorId) conditions.push(Prisma.sql`metadata->>'actorId' = ${filter.actorId}`);
  if (filter?.types?.length) conditions.push(Prisma.sql`type IN (${Prisma.join(filter.types)})`);
  if (filter?.since) conditions.push(Prisma.sql`occurred_at >= ${filter.since}`);
  if (filter?.until) conditions.push(Prisma.sql`occurred_at < ${filter.until}`);
  return conditions;
}

/**
 * The SQL of one page, in one statement: position order (descending for
 * last/before, one row more than the page to tell whether another follows).
 * A tenant's page walks the (tenant_id, position) index; the realm's the
 * position index; types can use (type, position).
 */
export function auditEventsQuery(scope: AuditScope, { filter, after, before }: AuditEventsRequest, size: number, backward: boolean): Prisma.Sql {
  const conditions = filterConditions(scope, filter);
  if (after) conditions.push(Prisma.sql`position > ${BigInt(after)}`);
  if (before) conditions.push(Prisma.sql`position < ${BigInt(before)}`);
  return Prisma.sql`
    SELECT id::text AS id, position, aggregate_type AS "aggregateType", aggregate_id AS "aggregateId", version, type,
           payload, metadata, realm_id::text AS "realmId", tenant_id::text AS "tenantId", occurred_at AS "occurredAt"
    FROM events
    WHERE ${Prisma.join(conditions, ' AND ')}
    ORDER BY position ${backward ? Prisma.sql`DESC` : Prisma.sql`ASC`}
    LIMIT ${size + 1}`;
}

export function createAuditService({ db, access, realms }: { db: PrismaClient; access: AccessService; realms: RealmService }) {
  /** Who reads what: with filter.tenantId, holders of audit:read in that tenant; without, realm admins only. */
  async function scopeOf(filter: AuditFilter | null | undefined, caller: Caller): Promise<AuditScope> {
    const tenantId = filter?.tenantId;
    if (tenantId) {
      await access.tenantAccess(caller, tenantId, 'audit:read');
      return { tenantId };
    }
    const realmId = await realms.defaultRealmId();
    await access.requireRealmAdmin(caller, realmId);
    return { realmId };
  }

  return {
    /**
     * The auditEvents query's input and access rule, for the subscription: the parsed request and the scope the
     * caller may read. Called again while a subscription lives, so a caller who lost the right is stopped.
     */
    async streamScope(input: Pick<AuditEventsInput, 'filter' | 'after'>, caller: Caller): Promise<{ request: AuditEventsRequest; scope: AuditScope }> {
      const request = parseInput(auditEventsInput, input);
      return { request, scope: await scopeOf(request.filter, caller) };
    },

    /**
     * A page of the event store in position order. Without filter.tenantId only
     * realm admins may read (the realm's whole log); with it, whoever holds
     * audit:read in that tenant, and only that tenant's events.
     */
    async auditEvents(input: AuditEventsInput, caller: Caller): Promise<AuditEventPage> {
      const request = parseInput(auditEventsInput, input);
      const scope = await scopeOf(request.filter, caller);
      const backward = request.last != null;
      const size = (backward ? request.last : request.first) ?? AUDIT_PAGE_DEFAULT;
      const rows = await db.$queryRaw<AuditEventRow[]>(auditEventsQuery(scope, request, size, backward));
      const more = rows.length > size;
      const nodes = rows.slice(0, size);
      if (backward) nodes.reverse();
      const edges = nodes.map((node) => ({ cursor: node.position.toString(), node }));
      return {
        edges,
        totalCount: async () => {
          const [{ count }] = await db.$queryRaw<[{ count: number }]>`
            SELECT count(*)::int AS count FROM events WHERE ${Prisma.join(filterConditions(scope, request.filter), ' AND ')}`;
          return count;
        },
        pageInfo: {
          hasNextPage: backward ? Boolean(request.before) : more,
          hasPreviousPage: backward ? more : Boolean(request.after),
          startCursor: edges[0]?.cursor ?? null,
          endCursor: edges.at(-1)?.cursor ?? null,
        },
      };
    },
  };
}

export type AuditService = ReturnType<typeof createAuditService>;
