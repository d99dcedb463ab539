import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MembersDocument } from '../generated/graphql.js';
import { runInTenantScope } from '../../src/db/tenant-scope.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { seedMember, seedTenant, signInRealmAdmin, signUpUser, type SignedIn } from '../helpers/realm.js';

// Row-level security is the second guard: what a service forgot to filter, the database still refuses.
let t: TestApp;
let alice: SignedIn;
let bob: SignedIn;
let aliceTenant: string;
let bobTenant: string;
beforeAll(async () => {
  t = await startTestApp();
  [alice, bob] = await Promise.all([signUpUser(t), signUpUser(t)]);
  aliceTenant = (await seedTenant(t, alice.userId)).id;
  bobTenant = (await seedTenant(t, bob.userId)).id;
});
afterAll(() => t.close());

const tenantTables = ['tenants', 'memberships', 'invitations', 'api_keys', 'domains', 'otps', 'session_tenants'];

/** Runs `sql` as the application role, in a transaction where `setup` ran first (the scope, or nothing). */
async function asAppRole<T>(sql: string, setup?: string): Promise<T> {
  return t.app.db.prisma.$transaction(async (tx) => {
    await tx.$executeRawUnsafe('SET LOCAL ROLE idgraph_app');
    // idgraph's own connections default to the 'system' scope: clear it, so only `setup` decides.
    await tx.$queryRawUnsafe("SELECT set_config('idgraph.scope', '', true)");
    if (setup) await tx.$queryRawUnsafe(setup);
    return tx.$queryRawUnsafe<T>(sql);
  });
}

const count = async (table: string, setup?: string) =>
  (await asAppRole<Array<{ n: number }>>(`SELECT count(*)::int AS n FROM ${table}`, setup))[0]!.n;

describe('row-level security', () => {
  it('the application role without a scope sees no tenant row and writes none', async () => {
    expect(await count('tenants', "SELECT set_config('idgraph.scope', 'system', true)")).toBeGreaterThanOrEqual(2);
    expect(await count('memberships', "SELECT set_config('idgraph.scope', 'system', true)")).toBeGreaterThanOrEqual(2);
    for (const table of tenantTables) expect({ table, rows: await count(table) }).toEqual({ table, rows: 0 });
    // A scope that is not one of idgraph's forms is no scope.
    expect(await count('tenants', "SELECT set_config('idgraph.scope', 'user:not-a-uuid', true)")).toBe(0);
    const role = await t.app.db.prisma.role.findFirstOrThrow({ where: { name: 'member' } });
    await expect(
      asAppRole(`INSERT INTO memberships (id, user_id, tenant_id, role_id) VALUES (gen_random_uuid(), '${alice.userId}', '${bobTenant}', '${role.id}')`),
    ).rejects.toThrow(/row-level security/);
    const roles = await asAppRole<Array<{ bypass: boolean }>>("SELECT rolbypassrls AS bypass FROM pg_roles WHERE rolname = 'idgraph_app'");
    expect(roles).toEqual([{ bypass: false }]);
  });

  it('a user scope sees its own tenants only; a realm admin scope sees the realm', async () => {
    const visible = (scope: string) =>
      asAppRole<Array<{ id: string }>>('SELECT id FROM tenants', `SELECT set_config('idgraph.scope', '${scope}', true)`).then((rows) =>
        rows.map((r) => r.id),
      );
    expect(await visible(`user:${alice.userId}`)).toContain(aliceTenant);
    expect(await visible(`user:${alice.userId}`)).not.toContain(bobTenant);
    expect(await visible(`key:${bobTenant}:${alice.userId}`)).toEqual([]);
    expect(await visible(`key:${aliceTenant}:${alice.userId}`)).toEqual([aliceTenant]);
    const admin = await signInRealmAdmin(t);
    expect((await visible(`user:${admin.userId}`)).sort()).toEqual(expect.arrayContaining([aliceTenant, bobTenant]));
  });

  it('a query that lost its tenant filter still returns only the scope’s rows', async () => {
    const all = await t.app.db.prisma.membership.findMany({ select: { tenantId: true } });
    expect(new Set(all.map((m) => m.tenantId))).toContain(bobTenant);
    const aliceTenants = (await t.app.db.prisma.membership.findMany({ where: { userId: alice.userId }, select: { tenantId: true } })).map((m) => m.tenantId);
    expect(aliceTenants).toContain(aliceTenant);
    const scoped = await runInTenantScope(`user:${alice.userId}`, async () => t.app.db.prisma.membership.findMany({ select: { tenantId: true } }));
    expect(new Set(scoped.map((m) => m.tenantId))).toEqual(new Set(aliceTenants));
    // Inside an interactive transaction too.
    const inTransaction = await runInTenantScope(`user:${alice.userId}`, async () =>
      t.app.db.prisma.$transaction((tx) => tx.tenant.findMany({ select: { id: true } })),
    );
    expect(new Set(inTransaction.map((r) => r.id))).toEqual(new Set(aliceTenants));
    expect(inTransaction.map((r) => r.id)).not.toContain(bobTenant);
  });

  it('a GraphQL resolver whose service dropped the tenant filter cannot read another tenant', async () => {
    await seedMember(t, bobTenant, (await signUpUser(t)).userId, 'member');
    const members = t.app.services.members;
    const list = members.list;
    // The defect simulated: the service reads memberships with no tenant condition at all.
    members.list = (async () => ({
      page: (query: object) => t.app.db.prisma.membership.findMany(query as never),
      count: () => t.app.db.prisma.membership.count(),
    })) as unknown as typeof list;
    try {
      const { body } = await t.execute(MembersDocument, { tenantId: aliceTenant, first: 50 }, alice.headers);
      const userIds = body.data!.members.edges.map((e) => e.node.user.id);
      expect(userIds).toEqual([alice.userId]);
      expect(userIds).not.toContain(bob.userId);
    } finally {
      members.list = list;
    }
  });
});
