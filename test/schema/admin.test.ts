import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventStore } from '../../src/events/store.js';
import { Prisma } from '../../src/generated/prisma/client.js';
import { adminSearchQuery } from '../../src/services/admin.js';
import { AdminSearchDocument, AdminStatsDocument, SignOutDocument, ViewerDocument } from '../generated/graphql.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { uniqueEmail } from '../helpers/auth.js';
import { testDatabaseKind } from '../helpers/database.js';
import { seedTenant, signInRealmAdmin, signUpUser, type SignedIn } from '../helpers/realm.js';

let t: TestApp;
let admin: SignedIn;
let owner: SignedIn;
let zelda: SignedIn;
let realmId: string;
let otherRealmId: string;

const prisma = () => t.app.db.prisma;
const store = createEventStore({ destinations: [] });
const seedEvent = (event: { realmId?: string | null; tenantId?: string | null; type: string }) =>
  prisma().$transaction((tx) => store.appendEvent(tx, { aggregateType: 'fixture', aggregateId: crypto.randomUUID(), ...event }));

beforeAll(async () => {
  t = await startTestApp();
  admin = await signInRealmAdmin(t);
  owner = await signUpUser(t);
  zelda = await signUpUser(t, uniqueEmail('zq'));
  await prisma().user.update({ where: { id: zelda.userId }, data: { displayName: 'Zelda Quartz' } });
  realmId = await t.app.services.realms.defaultRealmId();
  await seedTenant(t, owner.userId, 'Quartz Industries');
  await seedTenant(t, owner.userId, '%Percent Club');
  await seedTenant(t, owner.userId, 'Abc Corp');
  const deleted = await seedTenant(t, owner.userId, 'Quartz Deleted');
  await prisma().tenant.update({ where: { id: deleted.id }, data: { deletedAt: new Date() } });
  const other = await prisma().realm.create({ data: { slug: 'quartzite', displayName: 'Quartzite Realm' } });
  otherRealmId = other.id;
  await prisma().tenant.create({ data: { realmId: other.id, slug: 'quartz-elsewhere', displayName: 'Quartz Elsewhere' } });
});
afterAll(() => t.close());

const codeOf = (body: { errors?: ReadonlyArray<{ extensions?: Record<string, unknown> }> }) => body.errors?.[0]?.extensions?.code;
const stats = async () => {
  const { body } = await t.execute(AdminStatsDocument, {}, admin.headers);
  expect(body.errors).toBeUndefined();
  return body.data!.adminStats;
};

describe('adminStats', () => {
  it('counts realms, the realm’s live tenants, users, open sessions and the realm’s events of the last 24 hours', async () => {
    const now = new Date();
    const tenantIds = (await prisma().tenant.findMany({ where: { realmId }, select: { id: true } })).map((x) => x.id);
    const events = await prisma().event.findMany({ where: { occurredAt: { gt: new Date(now.getTime() - 24 * 3600 * 1000) } } });
    expect(await stats()).toEqual({
      realms: 2,
      // The base admin tenant and three live seeded ones; the deleted one and the other realm's do not count.
      tenants: 4,
      users: await prisma().user.count(),
      activeSessions: await prisma().authSession.count(),
      eventsLast24h: events.filter((e) => e.realmId === realmId || (e.tenantId && tenantIds.includes(e.tenantId)) || (!e.realmId && !e.tenantId))
        .length,
    });
  });

  it('follows changes: a new user and session, an ended or expired session, old and foreign events', async () => {
    const before = await stats();
    const newcomer = await signUpUser(t);
    const afterSignUp = await stats();
    expect(afterSignUp.users).toBe(before.users + 1);
    expect(afterSignUp.activeSessions).toBe(before.activeSessions! + 1);
    // user.signed_up is the realm's (an identity event)
    expect(afterSignUp.eventsLast24h).toBe(before.eventsLast24h + 1);

    await t.execute(SignOutDocument, { input: { scope: 'LOCAL' } }, newcomer.headers);
    const session = await prisma().authSession.findFirstOrThrow({ where: { userId: owner.userId } });
    await prisma().authSession.update({ where: { id: session.id }, data: { notAfter: new Date(Date.now() - 1000) } });
    expect((await stats()).activeSessions).toBe(before.activeSessions! - 1);

    const old = await seedEvent({ realmId, type: 'tenant.updated' });
    await prisma().event.update({ where: { id: old.id }, data: { occurredAt: new Date(Date.now() - 25 * 3600 * 1000) } });
    await seedEvent({ realmId: otherRealmId, type: 'realm.updated' });
    await seedEvent({ realmId, type: 'realm.updated' });
    // The sign-out's user.signed_out is the realm's too (an identity event), and so is the new realm.updated.
    expect((await stats()).eventsLast24h).toBe(afterSignUp.eventsLast24h + 2);
  });

  it('is one statement beyond the realm-admin check', async () => {
    const viewer = await t.countStatements(() => t.execute(ViewerDocument, {}, admin.headers));
    expect(await t.countStatements(() => t.execute(AdminStatsDocument, {}, admin.headers))).toBe(viewer + 2);
  });

  it('realm admins only: an ordinary user is forbidden, anonymous unauthenticated', async () => {
    expect(codeOf((await t.execute(AdminStatsDocument, {}, owner.headers)).body)).toBe('forbidden');
    expect(codeOf((await t.execute(AdminStatsDocument, {})).body)).toBe('unauthenticated');
  });
});

describe('adminSearch', () => {
  const search = async (q: string, first?: number) => {
    const { body } = await t.execute(AdminSearchDocument, { q, first }, admin.headers);
    expect(body.errors).toBeUndefined();
    return body.data!.adminSearch.map((hit) => [hit.kind, hit.title, hit.subtitle]);
  };

  it('prefix matches over realms, the realm’s live tenants and users, case-insensitive, realms first', async () => {
    const hits = [
      ['REALM', 'Quartzite Realm', 'quartzite'],
      ['TENANT', 'Quartz Industries', 'quartz-industries'],
    ];
    expect(await search('quartz')).toEqual(hits);
    expect(await search('  QUARTZ ')).toEqual(hits);
    // "Zelda Quartz" contains the word but does not start with it.
    expect((await search('quartz')).some(([kind]) => kind === 'USER')).toBe(false);
  });

  it('finds users by email and by display name, and names the hit', async () => {
    const { body } = await t.execute(AdminSearchDocument, { q: 'ZELDA' }, admin.headers);
    expect(body.data?.adminSearch).toEqual([{ kind: 'USER', id: zelda.userId, title: 'Zelda Quartz', subtitle: zelda.email }]);
    expect(await search(zelda.email.slice(0, 8))).toContainEqual(['USER', 'Zelda Quartz', zelda.email]);
    expect(await search('default')).toEqual([['REALM', 'Default realm', 'default']]);
    expect(await search('quartz-ind')).toEqual([['TENANT', 'Quartz Industries', 'quartz-industries']]);
  });

  it('LIKE wildcards in q match only themselves', async () => {
    expect(await search('%')).toEqual([['TENANT', '%Percent Club', 'percent-club']]);
    expect(await search('_')).toEqual([]);
    expect(await search('A_c')).toEqual([]);
    expect(await search('q%z')).toEqual([]);
    expect(await search('\\')).toEqual([]);
    expect(await search('abc')).toEqual([['TENANT', 'Abc Corp', 'abc-corp']]);
  });

  it('first limits the hits (default 20, at most 50)', async () => {
    expect(await search('q', 1)).toEqual([['REALM', 'Quartzite Realm', 'quartzite']]);
    for (let i = 0; i < 22; i += 1) await seedTenant(t, owner.userId, `Bulk ${String(i).padStart(2, '0')}`);
    expect(await search('bulk')).toHaveLength(20);
    expect(await search('bulk', 50)).toHaveLength(22);
  });

  it('bad input: q empty, blank or over 100 characters, first outside 1..50', async () => {
    for (const [q, first, field] of [
      ['', 20, 'q'],
      ['   ', 20, 'q'],
      ['x'.repeat(101), 20, 'q'],
      ['ok', 51, 'first'],
      ['ok', 0, 'first'],
    ] as const) {
      const { body } = await t.execute(AdminSearchDocument, { q, first }, admin.headers);
      expect(body.errors?.[0]?.extensions).toMatchObject({ code: 'bad_request', field });
    }
  });

  it('realm admins only: an ordinary user is forbidden, anonymous unauthenticated', async () => {
    expect(codeOf((await t.execute(AdminSearchDocument, { q: 'quartz' }, owner.headers)).body)).toBe('forbidden');
    expect(codeOf((await t.execute(AdminSearchDocument, { q: 'quartz' })).body)).toBe('unauthenticated');
  });

  it.skipIf(testDatabaseKind !== 'postgres')('PostgreSQL answers from the prefix and trigram indexes of every searched column', async () => {
    // Planner statistics for a realistic volume rather than a handful of rows.
    await prisma().$executeRaw`
      INSERT INTO users (id, email, display_name, updated_at)
      SELECT gen_random_uuid(), 'bulk-' || g || '@example.net', 'Person ' || g, now() FROM generate_series(1, 5000) g`;
    await prisma().$executeRaw`
      INSERT INTO tenants (id, realm_id, slug, display_name, updated_at)
      SELECT gen_random_uuid(), ${realmId}::uuid, 'org-' || g, 'Org ' || g, now() FROM generate_series(1, 5000) g`;
    await prisma().$executeRawUnsafe('ANALYZE users, tenants, realms');
    const plan = await prisma().$transaction(async (tx) => {
      await tx.$executeRawUnsafe('SET LOCAL enable_seqscan = off');
      return tx.$queryRaw<Array<{ 'QUERY PLAN': string }>>(Prisma.sql`EXPLAIN ${adminSearchQuery(realmId, 'Quartz', 20)}`);
    });
    const text = plan.map((row) => row['QUERY PLAN']).join('\n');
    for (const index of [
      'realms_slug_prefix_idx',
      'realms_display_name_trgm_idx',
      'tenants_slug_prefix_idx',
      'tenants_display_name_trgm_idx',
      'users_email_prefix_idx',
      'users_display_name_trgm_idx',
    ]) {
      expect(text).toMatch(new RegExp(`(Index Scan using|Bitmap Index Scan on) ${index}\\b`));
    }
    expect(text).not.toContain('Seq Scan');
  });
});
