import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { claimsOf, uniqueEmail } from '../helpers/auth.js';
import { seedTenant, signIn, signUpUser, type SignedIn } from '../helpers/realm.js';

// signup_mode: users with a verified email join ALLOWLIST tenants of their domain,
// and an OPEN base admin tenant, when they sign up or in through GraphQL.

let t: TestApp;
let owner: SignedIn;
beforeAll(async () => {
  t = await startTestApp();
  owner = await signUpUser(t);
});
afterAll(() => t.close());

const membershipsOf = (userId: string) =>
  t.app.db.prisma.membership.findMany({ where: { userId }, include: { role: true, tenant: true }, orderBy: { createdAt: 'asc' } });
const domainEmail = (domain: string) => uniqueEmail('p').replace('example.com', domain);

describe('auto-provisioning', () => {
  it('an ALLOWLIST tenant gains a member from its allowed domain, whose tokens carry the tenant', async () => {
    const tenant = await seedTenant(t, owner.userId);
    await t.app.db.prisma.tenant.update({ where: { id: tenant.id }, data: { signupMode: 'allowlist', allowedDomains: ['acme.test'] } });
    const user = await signUpUser(t, domainEmail('acme.test'));
    const memberships = await membershipsOf(user.userId);
    expect(memberships.map((m) => [m.tenantId, m.role.name])).toEqual([[tenant.id, 'member']]);
    expect(claimsOf(user.accessToken)).toMatchObject({ tenant_id: tenant.id, tenant_role: 'member' });
    const event = await t.app.db.prisma.event.findFirstOrThrow({ where: { tenantId: tenant.id, type: 'member.added' } });
    expect(event.payload).toMatchObject({ userId: user.userId, via: 'auto_provision', domain: 'acme.test' });
    // Signing in again joins nothing twice.
    await signIn(t, user);
    expect(await membershipsOf(user.userId)).toHaveLength(1);
  });

  it('a verified domain of an ALLOWLIST tenant also admits its users; a pending one does not', async () => {
    const verified = await seedTenant(t, owner.userId);
    const pending = await seedTenant(t, owner.userId);
    const prisma = t.app.db.prisma;
    for (const [tenant, status] of [[verified, 'verified'], [pending, 'pending']] as const) {
      await prisma.tenant.update({ where: { id: tenant.id }, data: { signupMode: 'allowlist' } });
      await prisma.domain.create({ data: { tenantId: tenant.id, domain: status === 'verified' ? 'verified.test' : 'pending.test', method: 'dns_txt', challenge: `c-${status}`, status } });
    }
    const a = await signUpUser(t, domainEmail('verified.test'));
    const b = await signUpUser(t, domainEmail('pending.test'));
    expect((await membershipsOf(a.userId)).map((m) => m.tenantId)).toEqual([verified.id]);
    expect(await membershipsOf(b.userId)).toEqual([]);
  });

  it('CLOSED tenants admit nobody by domain; an OPEN base admin tenant admits everyone as member (not as admin)', async () => {
    const closed = await seedTenant(t, owner.userId);
    await t.app.db.prisma.tenant.update({ where: { id: closed.id }, data: { allowedDomains: ['closed.test'] } });
    const outsider = await signUpUser(t, domainEmail('closed.test'));
    expect(await membershipsOf(outsider.userId)).toEqual([]);

    const base = await t.app.db.prisma.tenant.update({ where: { realmId_slug: { realmId: closed.realmId, slug: 'admin' } }, data: { signupMode: 'open' } });
    const anyone = await signUpUser(t);
    expect((await membershipsOf(anyone.userId)).map((m) => [m.tenantId, m.role.name])).toEqual([[base.id, 'member']]);
    expect(await t.app.services.access.isRealmAdmin((await t.app.resolveViewer(`Bearer ${anyone.accessToken}`))!, base.realmId)).toBe(false);
    await t.app.db.prisma.tenant.update({ where: { id: base.id }, data: { signupMode: 'closed' } });
  });
});
