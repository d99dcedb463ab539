import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTailedEvents } from '../../src/events/log-tail.js';
import { type AuditEventRow, type AuditEventsRequest, type AuditScope, auditEventsQuery, eventInScope } from '../../src/services/audit.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { seedTenant, signUpUser } from '../helpers/realm.js';
import { appendEvents } from '../helpers/subscriptions.js';

let t: TestApp;
let scopes: Array<[string, AuditScope]>;
let filters: Array<[string, AuditEventsRequest['filter']]>;

// Live subscribers filter the events the tail read once for all of them, in memory; replays and the query
// filter in SQL. Both must keep exactly the same events, or a subscriber would see more live than it may read.
beforeAll(async () => {
  t = await startTestApp();
  const [u1, u2] = await Promise.all([signUpUser(t), signUpUser(t)]);
  const realmId = await t.app.services.realms.defaultRealmId();
  const tenantA = (await seedTenant(t, u1.userId)).id;
  const tenantB = (await seedTenant(t, u2.userId)).id;
  const other = await t.app.db.prisma.realm.create({ data: { slug: 'other-scope', displayName: 'Other' } });
  const otherTenant = (await t.app.db.prisma.tenant.create({ data: { realmId: other.id, slug: 'elsewhere', displayName: 'Elsewhere' } })).id;
  const early = new Date(Date.UTC(2020, 0, 1));
  await appendEvents(t, 2, { type: 'scope.tenant', realmId, tenantId: tenantA, metadata: { actorId: u1.userId } });
  // A tenant event recorded without its realm is the realm's through the tenant.
  await appendEvents(t, 1, { type: 'scope.tenant', tenantId: tenantB, metadata: { actorId: u2.userId } });
  await appendEvents(t, 1, { type: 'scope.realm', realmId, metadata: { actorId: u1.userId } });
  await appendEvents(t, 1, { type: 'scope.orphan' });
  await appendEvents(t, 1, { type: 'scope.other', realmId: other.id, tenantId: otherTenant });
  await appendEvents(t, 1, { type: 'scope.other', realmId: other.id });
  await t.app.db.prisma.event.updateMany({ where: { type: 'scope.realm' }, data: { occurredAt: early } });
  scopes = [
    ['realm', { realmId }],
    ['other realm', { realmId: other.id }],
    ['tenant A', { tenantId: tenantA }],
    ['tenant of another realm', { tenantId: otherTenant }],
    ['user 1', { userId: u1.userId }],
  ];
  filters = [
    ['none', undefined],
    ['actor', { actorId: u1.userId }],
    ['types', { types: ['scope.tenant', 'user.signed_up'] }],
    ['since', { since: new Date(Date.UTC(2021, 0, 1)) }],
    ['until', { until: new Date(Date.UTC(2021, 0, 1)) }],
  ];
});
afterAll(() => t.close());

describe('eventInScope', () => {
  it('keeps exactly the events auditEventsQuery returns, for every scope and filter', async () => {
    const all = await readTailedEvents(t.app.db, 0n, 10_000);
    let compared = 0;
    for (const [scopeName, scope] of scopes) {
      for (const [filterName, filter] of filters) {
        const bySql = await t.app.db.prisma.$queryRaw<AuditEventRow[]>(auditEventsQuery(scope, { filter }, 10_000, false));
        const inMemory = all.filter((event) => eventInScope(scope, filter, event));
        expect(inMemory.map((e) => e.id), `${scopeName}, filter ${filterName}`).toEqual(bySql.map((e) => e.id));
        compared += bySql.length;
      }
    }
    expect(compared).toBeGreaterThan(20);
  });
});
