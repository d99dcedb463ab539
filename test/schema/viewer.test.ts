import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignUpDocument, ViewerMembershipsDocument } from '../generated/graphql.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { uniqueEmail } from '../helpers/auth.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.close());

async function userWithTenants(count: number) {
  const { body } = await t.execute(SignUpDocument, { input: { email: uniqueEmail('members'), password: 'correct-horse-1' } });
  const userId = body.data!.signUp.user!.id;
  const realm = await t.app.db.prisma.realm.findUniqueOrThrow({ where: { slug: 'default' }, include: { roles: true } });
  const member = realm.roles.find((r) => r.name === 'member')!;
  for (let i = 0; i < count; i++) {
    const tenant = await t.app.db.prisma.tenant.create({ data: { realmId: realm.id, slug: `t-${userId.slice(0, 8)}-${i}`, displayName: `Tenant ${i}` } });
    await t.app.db.prisma.membership.create({ data: { userId, tenantId: tenant.id, roleId: member.id } });
  }
  return { userId, token: body.data!.signUp.session!.accessToken };
}

describe('viewer memberships', () => {
  it('lists the viewer’s tenants with their roles', async () => {
    const { token, userId } = await userWithTenants(2);
    const { body } = await t.execute(ViewerMembershipsDocument, {}, { authorization: `Bearer ${token}` });
    expect(body.errors).toBeUndefined();
    expect(body.data?.viewer?.user?.id).toBe(userId);
    expect(body.data?.viewer?.memberships.map((m) => [m.tenant.displayName, m.role.name])).toEqual([
      ['Tenant 0', 'member'],
      ['Tenant 1', 'member'],
    ]);
  });

  it('costs the same number of SQL statements for 1 tenant as for 50', async () => {
    const one = await userWithTenants(1);
    const fifty = await userWithTenants(50);
    const run = (token: string) => t.countStatements(() => t.execute(ViewerMembershipsDocument, {}, { authorization: `Bearer ${token}` }));
    const forOne = await run(one.token);
    const forFifty = await run(fifty.token);
    expect(forFifty).toBe(forOne);
    expect(forFifty).toBeLessThanOrEqual(3);
    const { body } = await t.execute(ViewerMembershipsDocument, {}, { authorization: `Bearer ${fifty.token}` });
    expect(body.data?.viewer?.memberships).toHaveLength(50);
  });
});
