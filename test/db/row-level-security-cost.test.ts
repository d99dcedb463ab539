import { AsyncLocalStorage } from 'node:async_hooks';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runInTenantScope } from '../../src/db/tenant-scope.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { testDatabaseKind } from '../helpers/database.js';
import { seedTenant, signUpUser, type SignedIn } from '../helpers/realm.js';

// What row-level security costs per statement, and that making it cheap changed nothing it allows.
let t: TestApp;
let alice: SignedIn;
let bob: SignedIn;
let aliceTenant: string;
let bobTenant: string;
/** The connection's role and scope outside any caller's statement. */
let outside: { role: string; scope: string | null };
beforeAll(async () => {
  // One connection: what a scoped statement leaves on it, the next statement sees.
  t = await startTestApp({ env: { DATABASE_POOL_SIZE: '1' } });
  [alice, bob] = await Promise.all([signUpUser(t), signUpUser(t)]);
  aliceTenant = (await seedTenant(t, alice.userId)).id;
  bobTenant = (await seedTenant(t, bob.userId)).id;
  outside = await connectionState();
  expect(outside.role).not.toBe('idgraph_app');
});
afterAll(() => t.close());

/** The statement texts the pg driver is given while `fn` runs (its own async context only). */
async function sentToDriver(fn: () => Promise<unknown>): Promise<string[]> {
  const marker = new AsyncLocalStorage<string[]>();
  const query = pg.Client.prototype.query;
  pg.Client.prototype.query = function (this: pg.Client, config: unknown, ...rest: unknown[]) {
    const text = typeof config === 'string' ? config : (config as { text?: string }).text;
    marker.getStore()?.push(text ?? '');
    return (query as (...args: unknown[]) => unknown).call(this, config, ...rest);
  } as typeof query;
  try {
    const sent: string[] = [];
    await marker.run(sent, fn);
    return sent;
  } finally {
    pg.Client.prototype.query = query;
  }
}

const connectionState = async () =>
  (await t.app.db.prisma.$queryRawUnsafe<Array<{ role: string; scope: string | null }>>("SELECT current_user AS role, current_setting('idgraph.scope', true) AS scope"))[0]!;

describe('row-level security: cost per statement', () => {
  it.runIf(testDatabaseKind === 'postgres')('a lone statement in a caller’s scope reaches PostgreSQL in one round trip with its scope', async () => {
    const read = () => runInTenantScope(`user:${alice.userId}`, async () => t.app.db.prisma.membership.findMany({ select: { tenantId: true } }));
    await read(); // the connection prepares its scope statement once
    let rows: Array<{ tenantId: string }> = [];
    const sent = await sentToDriver(async () => (rows = await read()));
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatch(/FROM "public"\."memberships"/);
    // The scope held for it (the filter is the database's alone here), and ended with it.
    expect(rows.map((r) => r.tenantId)).toEqual([aliceTenant]);
    expect(await connectionState()).toEqual(outside);
  });

  it.runIf(testDatabaseKind === 'postgres')('without named statements too (DATABASE_STATEMENT_CACHE=0)', async () => {
    const unnamed = await startTestApp({ database: t.database, env: { DATABASE_POOL_SIZE: '1', DATABASE_STATEMENT_CACHE: '0' } });
    try {
      const state = async () =>
        (await unnamed.app.db.prisma.$queryRawUnsafe<Array<{ role: string; scope: string | null }>>(
          "SELECT current_user AS role, current_setting('idgraph.scope', true) AS scope",
        ))[0];
      const before = await state();
      const read = () => runInTenantScope(`user:${alice.userId}`, async () => unnamed.app.db.prisma.tenant.findMany({ select: { id: true } }));
      let rows: Array<{ id: string }> = [];
      const sent = await sentToDriver(async () => (rows = await read()));
      expect(sent).toHaveLength(1);
      expect(rows.map((r) => r.id)).toEqual([aliceTenant]);
      expect(await state()).toEqual(before);
    } finally {
      await unnamed.close();
    }
  });

  it('a scoped statement the database refuses leaves the connection usable and out of the scope', async () => {
    const role = await t.app.db.prisma.role.findFirstOrThrow({ where: { name: 'member' } });
    const insert = (tenantId: string) =>
      runInTenantScope(`user:${alice.userId}`, async () => t.app.db.prisma.membership.create({ data: { userId: alice.userId, tenantId, roleId: role.id } }));
    // Another tenant's row: refused by the policy. Her own again: refused by the unique key.
    await expect(insert(bobTenant)).rejects.toThrow(/row-level security/);
    expect(await connectionState()).toEqual(outside);
    await expect(insert(aliceTenant)).rejects.toThrow();
    expect(await connectionState()).toEqual(outside);
    const scoped = await runInTenantScope(`user:${alice.userId}`, async () => t.app.db.prisma.tenant.findMany({ select: { id: true } }));
    expect(scoped.map((r) => r.id)).toEqual([aliceTenant]);
  });

  it('each statement of a transaction sees the memberships as they are when it starts', async () => {
    const role = await t.app.db.prisma.role.findFirstOrThrow({ where: { name: 'member' } });
    const seen = await t.app.db.prisma.$transaction(async (tx) => {
      const visible = async () => (await tx.$queryRawUnsafe<Array<{ id: string }>>('SELECT id FROM tenants ORDER BY id')).map((r) => r.id);
      const scope = (value: string) => tx.$queryRawUnsafe(`SELECT set_config('idgraph.scope', '${value}', true)`);
      await tx.$executeRawUnsafe('SET LOCAL ROLE idgraph_app');
      await scope(`user:${alice.userId}`);
      const before = await visible();
      await scope('system');
      await tx.$executeRawUnsafe(
        `INSERT INTO memberships (id, user_id, tenant_id, role_id, updated_at) VALUES (gen_random_uuid(), '${alice.userId}', '${bobTenant}', '${role.id}', now())`,
      );
      await scope(`user:${alice.userId}`);
      const joined = await visible();
      await scope('system');
      await tx.$executeRawUnsafe(`DELETE FROM memberships WHERE user_id = '${alice.userId}' AND tenant_id = '${bobTenant}'`);
      await scope(`user:${alice.userId}`);
      const left = await visible();
      // Another scope in the same statement's place gets its own tenants, not the previous scope's.
      await scope(`user:${bob.userId}`);
      const bobs = await visible();
      return { before, joined, left, bobs };
    });
    expect(seen.before).toEqual([aliceTenant]);
    expect(seen.joined).toEqual([aliceTenant, bobTenant].sort());
    expect(seen.left).toEqual([aliceTenant]);
    expect(seen.bobs).toEqual([bobTenant]);
  });

  it.runIf(testDatabaseKind === 'postgres')('a statement over several tenant-scoped tables computes the scope’s tenants once', async () => {
    const computed = await t.app.db.prisma.$transaction(async (tx) => {
      await tx.$executeRawUnsafe("SET LOCAL track_functions = 'all'");
      await tx.$executeRawUnsafe('SET LOCAL ROLE idgraph_app');
      await tx.$queryRawUnsafe(`SELECT set_config('idgraph.scope', 'user:${alice.userId}', true)`);
      const rows = await tx.$queryRawUnsafe<Array<{ n: number }>>(
        `SELECT count(*)::int AS n FROM memberships m JOIN tenants t ON t.id = m.tenant_id
         WHERE EXISTS (SELECT 1 FROM session_tenants s WHERE s.tenant_id = t.id) OR EXISTS (SELECT 1 FROM api_keys k WHERE k.tenant_id = m.tenant_id)`,
      );
      expect(rows[0]!.n).toBeGreaterThanOrEqual(0);
      // The functions that read memberships as their owner: how often they ran for that statement.
      const calls = await tx.$queryRawUnsafe<Array<{ calls: number }>>(
        `SELECT coalesce(sum(s.calls), 0)::int AS calls FROM pg_stat_xact_user_functions s JOIN pg_proc p ON p.oid = s.funcid
         WHERE p.prosecdef AND p.proname LIKE 'idgraph%scope%'`,
      );
      return calls[0]!.calls;
    });
    expect(computed).toBe(1);
  });
});
