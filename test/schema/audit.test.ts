import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventStore, type NewEvent } from '../../src/events/store.js';
import { Prisma } from '../../src/generated/prisma/client.js';
import { auditEventsQuery } from '../../src/services/audit.js';
import { AddOriginDocument, AuditEventCursorsDocument, AuditEventsDocument, type AuditEventsQueryVariables, ViewerDocument } from '../generated/graphql.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { testDatabaseKind } from '../helpers/database.js';
import { seedMember, seedRole, seedTenant, signInRealmAdmin, signUpUser, type SignedIn } from '../helpers/realm.js';

let t: TestApp;
let admin: SignedIn;
let owner: SignedIn;
let auditor: SignedIn;
let member: SignedIn;
let outsider: SignedIn;
let tenantA: string;
let tenantB: string;
let realmId: string;

const store = createEventStore({ destinations: [] });

/** Test fixture: an event as another area would append it, optionally back-dated. */
async function seedEvent(event: Omit<NewEvent, 'aggregateType' | 'aggregateId'> & { occurredAt?: Date }) {
  const { occurredAt, ...rest } = event;
  const stored = await t.app.db.prisma.$transaction((tx) =>
    store.appendEvent(tx, { aggregateType: 'fixture', aggregateId: crypto.randomUUID(), ...rest }),
  );
  if (occurredAt) await t.app.db.prisma.event.update({ where: { id: stored.id }, data: { occurredAt } });
  return stored;
}

const day = (n: number) => new Date(Date.UTC(2020, 0, n));

beforeAll(async () => {
  t = await startTestApp();
  admin = await signInRealmAdmin(t);
  [owner, auditor, member, outsider] = await Promise.all([signUpUser(t), signUpUser(t), signUpUser(t), signUpUser(t)]);
  realmId = await t.app.services.realms.defaultRealmId();
  tenantA = (await seedTenant(t, owner.userId)).id;
  tenantB = (await seedTenant(t, outsider.userId)).id;
  await seedRole(t, 'auditor', ['audit:read']);
  await seedMember(t, tenantA, auditor.userId, 'auditor');
  await seedMember(t, tenantA, member.userId, 'member');
  const inA = { realmId, tenantId: tenantA };
  await seedEvent({ ...inA, type: 'tenant.updated', metadata: { actorId: owner.userId }, occurredAt: day(1) });
  await seedEvent({ ...inA, type: 'member.added', metadata: { actorId: admin.userId }, occurredAt: day(2) });
  await seedEvent({ ...inA, type: 'invitation.created', metadata: { actorId: owner.userId }, occurredAt: day(3) });
  // A tenant event recorded without its realm: still the realm's, through the tenant.
  await seedEvent({ tenantId: tenantA, type: 'apikey.created', metadata: { actorId: owner.userId }, occurredAt: day(4) });
  await seedEvent({ realmId, tenantId: tenantB, type: 'tenant.updated', metadata: { actorId: outsider.userId } });
  await t.execute(AddOriginDocument, { input: { origin: 'audit.example.com' } }, { ...admin.headers, 'x-request-id': 'req-audit-1' });
  // Another realm's tenant and event: never part of this realm's log.
  const other = await t.app.db.prisma.realm.create({ data: { slug: 'other-audit', displayName: 'Other' } });
  const otherTenant = await t.app.db.prisma.tenant.create({ data: { realmId: other.id, slug: 'elsewhere', displayName: 'Elsewhere' } });
  await seedEvent({ realmId: other.id, tenantId: otherTenant.id, type: 'tenant.created' });
  await seedEvent({ realmId: other.id, type: 'realm.updated' });
});
afterAll(() => t.close());

type Page = NonNullable<Awaited<ReturnType<typeof auditPage>>['body']['data']>['auditEvents'];
const auditPage = (variables: AuditEventsQueryVariables, user: SignedIn | null = admin) =>
  t.execute(AuditEventsDocument, variables, user?.headers ?? {});

/** Every event the caller may read with these filters, paging `size` at a time. */
async function readAll(variables: AuditEventsQueryVariables, user: SignedIn = admin, size = 100) {
  const events: Page['edges'][number]['node'][] = [];
  let after: string | null | undefined;
  for (;;) {
    const { body } = await auditPage({ ...variables, first: size, after }, user);
    expect(body.errors).toBeUndefined();
    const page = body.data!.auditEvents;
    events.push(...page.edges.map((e) => e.node));
    if (!page.pageInfo.hasNextPage) return events;
    after = page.pageInfo.endCursor;
  }
}

/** The realm's log computed straight from the table, in position order. */
async function expectedRealmLog() {
  const tenantIds = (await t.app.db.prisma.tenant.findMany({ where: { realmId }, select: { id: true } })).map((x) => x.id);
  const rows = await t.app.db.prisma.event.findMany({ orderBy: { position: 'asc' } });
  return rows.filter((e) => e.realmId === realmId || (e.tenantId && tenantIds.includes(e.tenantId)) || (!e.realmId && !e.tenantId));
}

const codeOf = (body: { errors?: ReadonlyArray<{ extensions?: Record<string, unknown> }> }) => body.errors?.[0]?.extensions?.code;

describe('auditEvents', () => {
  it('a realm admin reads the realm’s whole log in position order: realm, tenant and identity events, no other realm', async () => {
    const events = await readAll({});
    const expected = await expectedRealmLog();
    expect(events.map((e) => e.id)).toEqual(expected.map((e) => e.id));
    const types = new Set(events.map((e) => e.type));
    for (const type of ['realm.created', 'tenant.created', 'user.signed_up', 'origin.added', 'apikey.created']) expect(types).toContain(type);
    expect(events.some((e) => e.type === 'realm.updated')).toBe(false);
    expect(events.some((e) => e.payload && (e.payload as { slug?: string }).slug === 'elsewhere')).toBe(false);
  });

  it('exposes the stored event: position, version, ids, actor, request id, address and payload', async () => {
    const [event] = await readAll({ filter: { types: ['origin.added'] } });
    const row = await t.app.db.prisma.event.findUniqueOrThrow({ where: { id: event!.id } });
    expect(event).toEqual({
      id: row.id,
      position: row.position.toString(),
      type: 'origin.added',
      aggregateType: 'origin',
      aggregateId: row.aggregateId,
      version: 1,
      tenant: null,
      realmId,
      actor: { id: admin.userId },
      requestId: 'req-audit-1',
      ip: null,
      payload: { host: 'audit.example.com' },
      occurredAt: row.occurredAt.toISOString(),
    });
  });

  it('a member holding audit:read reads only their tenant’s events; another tenant is not_found, no tenant forbidden', async () => {
    const events = await readAll({ filter: { tenantId: tenantA } }, auditor);
    expect(events.map((e) => e.type)).toEqual(['tenant.updated', 'member.added', 'invitation.created', 'apikey.created']);
    // Its events' tenant is one the auditor may not read (audit:read only): null, as through tenant(id).
    expect(events.every((e) => e.tenant === null)).toBe(true);
    expect((await readAll({ filter: { tenantId: tenantA } }, owner)).every((e) => e.tenant?.id === tenantA)).toBe(true);
    expect(codeOf((await auditPage({ filter: { tenantId: tenantB } }, auditor)).body)).toBe('not_found');
    expect(codeOf((await auditPage({}, auditor)).body)).toBe('forbidden');
    expect(codeOf((await auditPage({ filter: { types: ['tenant.updated'] } }, auditor)).body)).toBe('forbidden');
  });

  it('a realm admin may narrow to one tenant; the tenant owner reads it too', async () => {
    const asAdmin = await readAll({ filter: { tenantId: tenantB } });
    expect(asAdmin.map((e) => [e.type, e.tenant?.id])).toEqual([['tenant.updated', tenantB]]);
    expect((await readAll({ filter: { tenantId: tenantA } }, owner)).length).toBe(4);
  });

  it('deny paths: member without audit:read forbidden, outsider not_found, anonymous unauthenticated', async () => {
    expect(codeOf((await auditPage({ filter: { tenantId: tenantA } }, member)).body)).toBe('forbidden');
    expect(codeOf((await auditPage({ filter: { tenantId: tenantA } }, outsider)).body)).toBe('not_found');
    expect(codeOf((await auditPage({}, outsider)).body)).toBe('forbidden');
    expect(codeOf((await auditPage({ filter: { tenantId: tenantA } }, null)).body)).toBe('unauthenticated');
    expect(codeOf((await auditPage({}, null)).body)).toBe('unauthenticated');
  });

  it('filters: actor, types, since/until (since inclusive, until exclusive), tenant', async () => {
    const inA = { tenantId: tenantA };
    expect((await readAll({ filter: { ...inA, actorId: owner.userId } })).map((e) => e.type)).toEqual([
      'tenant.updated',
      'invitation.created',
      'apikey.created',
    ]);
    expect((await readAll({ filter: { actorId: admin.userId, types: ['member.added'] } })).map((e) => e.tenant?.id)).toEqual([tenantA]);
    expect((await readAll({ filter: { types: ['member.added', 'invitation.created'] } })).every((e) => ['member.added', 'invitation.created'].includes(e.type))).toBe(true);
    const window = await readAll({ filter: { ...inA, since: day(2).toISOString(), until: day(4).toISOString() } });
    expect(window.map((e) => e.type)).toEqual(['member.added', 'invitation.created']);
    expect(await readAll({ filter: { since: day(2).toISOString(), until: day(2).toISOString().replace('00:00:00.000', '00:00:00.001') } })).toHaveLength(1);
    expect(await readAll({ filter: { types: ['nothing.happened'] } })).toEqual([]);
  });

  it('pages forward with after and backward with before, without gaps or duplicates', async () => {
    const all = await readAll({});
    for (const size of [1, 2, 3, 7]) {
      const paged = await readAll({}, admin, size);
      expect(paged.map((e) => e.id)).toEqual(all.map((e) => e.id));
    }
    expect(all.map((e) => BigInt(e.position))).toEqual([...all.map((e) => BigInt(e.position))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    const backward: string[] = [];
    let before: string | null | undefined;
    for (;;) {
      const page = (await auditPage({ last: 3, before })).body.data!.auditEvents;
      backward.unshift(...page.edges.map((e) => e.node.id));
      if (!page.pageInfo.hasPreviousPage) break;
      before = page.pageInfo.startCursor;
    }
    expect(backward).toEqual(all.map((e) => e.id));
    const first = (await auditPage({ first: 2 })).body.data!.auditEvents;
    expect(first.edges.map((e) => e.cursor)).toEqual(first.edges.map((e) => e.node.position));
    expect(first.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false, startCursor: all[0]!.position, endCursor: all[1]!.position });
  });

  it('runs a constant number of SQL statements whatever the page size (one for the page)', async () => {
    const counts: number[] = [];
    const page = (variables: AuditEventsQueryVariables, user: SignedIn) => t.execute(AuditEventCursorsDocument, variables, user.headers);
    for (const first of [1, 10, 100]) counts.push(await t.countStatements(() => page({ first }, admin)));
    const tenantCounts: number[] = [];
    for (const first of [1, 100]) tenantCounts.push(await t.countStatements(() => page({ first, filter: { tenantId: tenantA } }, auditor)));
    expect(new Set(counts).size).toBe(1);
    expect(new Set(tenantCounts).size).toBe(1);
    // Beyond resolving the viewer: the realm-admin (or tenant access) check, then the page.
    const viewer = await t.countStatements(() => t.execute(ViewerDocument, {}, admin.headers));
    expect(counts[0]).toBe(viewer + 2);
    expect(tenantCounts[0]).toBe(viewer + 2);
  });

  it('bad input is bad_request naming the field', async () => {
    const cases: Array<[AuditEventsQueryVariables, string]> = [
      [{ first: 101 }, 'first'],
      [{ first: -1 }, 'first'],
      [{ last: 101 }, 'last'],
      [{ first: 1, last: 1 }, 'last'],
      [{ after: 'abc' }, 'after'],
      [{ before: '-1' }, 'before'],
      [{ filter: { tenantId: 'not-a-uuid' } }, 'filter.tenantId'],
      [{ filter: { actorId: 'nobody' } }, 'filter.actorId'],
      [{ filter: { types: ['Not A Kind'] } }, 'filter.types.0'],
      [{ filter: { since: day(2).toISOString(), until: day(1).toISOString() } }, 'filter.until'],
    ];
    for (const [variables, field] of cases) {
      const { body } = await auditPage(variables);
      expect(body.errors?.[0]?.extensions, JSON.stringify(variables)).toMatchObject({ code: 'bad_request', field });
    }
  });

  it.skipIf(testDatabaseKind !== 'postgres')('PostgreSQL pages through indexes in position order: (tenant_id, position) for a tenant, position for the realm', async () => {
    const explain = (query: Prisma.Sql) =>
      t.app.db.prisma.$transaction(async (tx) => {
        await tx.$executeRawUnsafe('SET LOCAL enable_seqscan = off');
        const plan = await tx.$queryRaw<Array<{ 'QUERY PLAN': string }>>(Prisma.sql`EXPLAIN ${query}`);
        return plan.map((row) => row['QUERY PLAN']).join('\n');
      });
    const tenantPlan = await explain(auditEventsQuery({ tenantId: tenantA }, { after: '1' }, 20, false));
    expect(tenantPlan).toMatch(/Index Scan using events_tenant_id_position_idx on events/);
    expect(tenantPlan).not.toMatch(/Seq Scan|Sort/);
    const realmPlan = await explain(auditEventsQuery({ realmId }, { after: '1' }, 20, false));
    expect(realmPlan).toMatch(/Index Scan using events_position_key on events/);
    const typesPlan = await explain(auditEventsQuery({ realmId }, { after: '1', filter: { types: ['member.added'] } }, 20, false));
    expect(typesPlan).toMatch(/Index Scan using events_type_position_idx on events/);
    for (const plan of [realmPlan, typesPlan]) expect(plan).not.toMatch(/Seq Scan on events|Sort/);
  });
});
