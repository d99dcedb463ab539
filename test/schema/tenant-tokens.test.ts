import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RefreshSessionDocument, SignInDocument, SignUpDocument, SwitchTenantDocument, ViewerDocument, ViewerTenantDocument } from '../generated/graphql.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { claimsOf, uniqueEmail } from '../helpers/auth.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ env: { AUTH_SWITCH_TENANT_CLAIMS: 'department,plan' } });
});
afterAll(() => t.close());

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

async function member(tenantNames: string[], roleName = 'member') {
  const email = uniqueEmail('tenant');
  const { body } = await t.execute(SignUpDocument, { input: { email, password: 'correct-horse-1' } });
  const userId = body.data!.signUp.user!.id;
  const realm = await t.app.db.prisma.realm.findUniqueOrThrow({ where: { slug: 'default' }, include: { roles: true } });
  const role = realm.roles.find((r) => r.name === roleName)!;
  const tenants = [];
  for (const name of tenantNames) {
    const tenant = await t.app.db.prisma.tenant.create({ data: { realmId: realm.id, slug: `${name}-${userId.slice(0, 8)}`, displayName: name } });
    await t.app.db.prisma.membership.create({ data: { userId, tenantId: tenant.id, roleId: role.id } });
    tenants.push(tenant);
  }
  return { email, userId, tenants };
}

const signIn = (email: string, tenantId?: string) => t.execute(SignInDocument, { input: { email, password: 'correct-horse-1', tenantId } });

describe('tenant-scoped tokens', () => {
  it('a user in exactly one tenant gets its tenant_id and tenant_role by default', async () => {
    const { email, tenants } = await member(['Solo'], 'owner');
    const { body } = await signIn(email);
    const claims = claimsOf(body.data!.signIn.session!.accessToken);
    expect(claims).toMatchObject({ tenant_id: tenants[0]!.id, tenant_role: 'owner' });
    const viewer = await t.execute(ViewerTenantDocument, {}, bearer(body.data!.signIn.session!.accessToken));
    expect(viewer.body.data?.viewer).toMatchObject({ tenantRoleClaim: 'owner', activeTenant: { id: tenants[0]!.id, displayName: 'Solo' } });
  });

  it('a user in several tenants gets the list and no tenant claims, or the one asked for', async () => {
    const { email, tenants } = await member(['Alpha', 'Beta']);
    const plain = await signIn(email);
    expect(plain.body.data?.signIn.tenants.map((x) => x.displayName)).toEqual(['Alpha', 'Beta']);
    expect(claimsOf(plain.body.data!.signIn.session!.accessToken)).not.toHaveProperty('tenant_id');
    const scoped = await signIn(email, tenants[1]!.id);
    expect(claimsOf(scoped.body.data!.signIn.session!.accessToken)).toMatchObject({ tenant_id: tenants[1]!.id, tenant_role: 'member' });
  });

  it('signIn into a tenant the user does not belong to is tenant_invalid and leaves no session open', async () => {
    const { email, userId } = await member(['Mine']);
    const { tenants: others } = await member(['Theirs']);
    const before = await t.app.db.prisma.authSession.count({ where: { userId } });
    const { body } = await signIn(email, others[0]!.id);
    expect(body.errors?.[0]?.extensions?.code).toBe('tenant_invalid');
    expect(await t.app.db.prisma.authSession.count({ where: { userId } })).toBe(before);
  });

  it('switchTenant mints tokens for another membership; the asking token is revoked', async () => {
    const { email, tenants } = await member(['One', 'Two']);
    const first = (await signIn(email, tenants[0]!.id)).body.data!.signIn.session!;
    const { body } = await t.execute(SwitchTenantDocument, { input: { tenantId: tenants[1]!.id, refreshToken: first.refreshToken } }, bearer(first.accessToken));
    expect(body.errors).toBeUndefined();
    expect(claimsOf(body.data!.switchTenant.session!.accessToken)).toMatchObject({ tenant_id: tenants[1]!.id });
    expect((await t.execute(ViewerDocument, {}, bearer(first.accessToken))).body.errors?.[0]?.extensions?.code).toBe('token_revoked');
  });

  it('switchTenant to a foreign tenant is tenant_invalid; anonymous is unauthenticated', async () => {
    const { email, tenants } = await member(['Home', 'Away']);
    const { tenants: foreign } = await member(['Elsewhere']);
    const session = (await signIn(email, tenants[0]!.id)).body.data!.signIn.session!;
    const refused = await t.execute(SwitchTenantDocument, { input: { tenantId: foreign[0]!.id, refreshToken: session.refreshToken } }, bearer(session.accessToken));
    expect(refused.body.errors?.[0]?.extensions?.code).toBe('tenant_invalid');
    const anonymous = await t.execute(SwitchTenantDocument, { input: { tenantId: tenants[1]!.id, refreshToken: session.refreshToken } });
    expect(anonymous.body.errors?.[0]?.extensions?.code).toBe('unauthenticated');
  });

  it('switchTenant merges allowed customClaims for that tenant; refreshes keep them; switching again replaces them', async () => {
    const { email, tenants } = await member(['Shop', 'Lab']);
    const first = (await signIn(email, tenants[0]!.id)).body.data!.signIn.session!;
    const switched = await t.execute(
      SwitchTenantDocument,
      { input: { tenantId: tenants[1]!.id, refreshToken: first.refreshToken, customClaims: { department: 'research', plan: 3 } } },
      bearer(first.accessToken),
    );
    const session = switched.body.data!.switchTenant.session!;
    expect(claimsOf(session.accessToken)).toMatchObject({ tenant_id: tenants[1]!.id, department: 'research', plan: 3 });
    const refreshed = await t.execute(RefreshSessionDocument, { input: { refreshToken: session.refreshToken } });
    expect(claimsOf(refreshed.body.data!.refreshSession.session!.accessToken)).toMatchObject({ department: 'research', plan: 3 });
    const back = await t.execute(
      SwitchTenantDocument,
      { input: { tenantId: tenants[0]!.id, refreshToken: refreshed.body.data!.refreshSession.session!.refreshToken } },
      bearer(refreshed.body.data!.refreshSession.session!.accessToken),
    );
    const claims = claimsOf(back.body.data!.switchTenant.session!.accessToken);
    expect(claims).toMatchObject({ tenant_id: tenants[0]!.id });
    expect(claims).not.toHaveProperty('department');
  });

  it('customClaims outside AUTH_SWITCH_TENANT_CLAIMS, or not short scalars, are bad_request naming the claim; nothing changes', async () => {
    const { email, tenants } = await member(['North', 'South']);
    const session = (await signIn(email, tenants[0]!.id)).body.data!.signIn.session!;
    const sessionId = claimsOf(session.accessToken).session_id as string;
    for (const [customClaims, field] of [
      [{ role: 'service_role' }, 'customClaims.role'],
      [{ tenant_id: tenants[1]!.id }, 'customClaims.tenant_id'],
      [{ department: { nested: true } }, 'customClaims.department'],
      [{ department: 'x'.repeat(257) }, 'customClaims.department'],
      [['department'], 'customClaims'],
    ] as const) {
      const { body } = await t.execute(SwitchTenantDocument, { input: { tenantId: tenants[1]!.id, refreshToken: session.refreshToken, customClaims } }, bearer(session.accessToken));
      expect(body.errors?.[0]?.extensions, JSON.stringify(customClaims)).toMatchObject({ code: 'bad_request', field });
    }
    const stored = await t.app.db.prisma.sessionTenant.findUniqueOrThrow({ where: { sessionId } });
    expect(stored).toMatchObject({ tenantId: tenants[0]!.id, claims: {} });
    // The asking token was not revoked by a refused switch.
    expect((await t.execute(ViewerDocument, {}, bearer(session.accessToken))).body.errors).toBeUndefined();
  });

  it('refreshSession with a tenantId switches the session’s tenant', async () => {
    const { email, tenants } = await member(['Left', 'Right']);
    const session = (await signIn(email)).body.data!.signIn.session!;
    const { body } = await t.execute(RefreshSessionDocument, { input: { refreshToken: session.refreshToken, tenantId: tenants[1]!.id } });
    expect(claimsOf(body.data!.refreshSession.session!.accessToken)).toMatchObject({ tenant_id: tenants[1]!.id });
  });

  it('a membership that ends drops the tenant claims at the next refresh', async () => {
    const { email, userId, tenants } = await member(['Temp']);
    const session = (await signIn(email)).body.data!.signIn.session!;
    await t.app.db.prisma.membership.deleteMany({ where: { userId, tenantId: tenants[0]!.id } });
    const { body } = await t.execute(RefreshSessionDocument, { input: { refreshToken: session.refreshToken } });
    expect(claimsOf(body.data!.refreshSession.session!.accessToken)).not.toHaveProperty('tenant_id');
  });
});
