import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AdminStatsDocument,
  CreateApiKeyDocument,
  CreateInvitationDocument,
  MembersDocument,
  RemoveMemberDocument,
  TenantsWithMembersDocument,
  UpdateMemberRoleDocument,
  UpdateUserStatusDocument,
  ViewerDocument,
} from '../generated/graphql.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { errorCode, errorOf } from '../helpers/errors.js';
import { builtinPermissions } from '../../src/services/permissions.js';
import { authClient } from '../helpers/auth.js';
import { realmFootprint, seedMember, seedRole, seedTenant, signIn, signInRealmAdmin, signUpUser, type SignedIn } from '../helpers/realm.js';

let t: TestApp;
let owner: SignedIn;
let manager: SignedIn;
let reader: SignedIn;
let outsider: SignedIn;
let admin: SignedIn;
let tenantId: string;
beforeAll(async () => {
  t = await startTestApp();
  [owner, manager, reader, outsider] = await Promise.all([signUpUser(t), signUpUser(t), signUpUser(t), signUpUser(t)]);
  admin = await signInRealmAdmin(t);
  await seedRole(t, 'manager', ['tenant:read', 'members:manage']);
  await seedRole(t, 'reader', ['tenant:read']);
  tenantId = (await seedTenant(t, owner.userId)).id;
  await seedMember(t, tenantId, manager.userId, 'manager');
  await seedMember(t, tenantId, reader.userId, 'reader');
});
afterAll(() => t.close());

const roleOf = async (tenant: string, userId: string) =>
  (await t.app.db.prisma.membership.findUnique({ where: { userId_tenantId: { userId, tenantId: tenant } }, include: { role: true } }))?.role.name ?? null;

describe('members', () => {
  it('tenant members list everyone with roles; contact details only for managers, the user, realm admins', async () => {
    const asReader = await t.execute(MembersDocument, { tenantId, first: 10 }, reader.headers);
    const rows = asReader.body.data!.members.edges.map((e) => e.node);
    expect(rows.map((r) => r.role.name).sort()).toEqual(['manager', 'owner', 'reader']);
    // The reader sees their own email, and not the others' (forbidden on those fields).
    expect(rows.find((r) => r.user.id === reader.userId)!.user.email).toBe(reader.email);
    expect(asReader.body.errors?.map((e) => e.extensions?.code)).toEqual(['forbidden', 'forbidden']);
    const asManager = await t.execute(MembersDocument, { tenantId, first: 10 }, manager.headers);
    expect(asManager.body.errors).toBeUndefined();
    expect(asManager.body.data!.members.edges.map((e) => e.node.user.email).sort()).toEqual([owner.email, manager.email, reader.email].sort());
    const asAdmin = await t.execute(MembersDocument, { tenantId, first: 10 }, admin.headers);
    expect(asAdmin.body.errors).toBeUndefined();
    expect(errorCode((await t.execute(MembersDocument, { tenantId, first: 10 }, outsider.headers)).body)).toBe('not_found');
    expect(errorCode((await t.execute(MembersDocument, { tenantId, first: 10 })).body)).toBe('unauthenticated');
  });

  it('tenants(first: 50) { members(first: 20) { user { email } role {...} } } runs a constant number of SQL statements', async () => {
    const seedTenants = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const tenant = await seedTenant(t, admin.userId);
        await seedMember(t, tenant.id, owner.userId, 'member');
        await seedMember(t, tenant.id, reader.userId, 'reader');
      }
    };
    const run = () => t.execute(TenantsWithMembersDocument, { first: 50, members: 20 }, admin.headers);
    await seedTenants(2);
    await run();
    const small = await t.countStatements(run);
    await seedTenants(10);
    const { body } = await run();
    expect(body.errors).toBeUndefined();
    expect(body.data!.tenants.edges.length).toBeGreaterThanOrEqual(12);
    const large = await t.countStatements(run);
    expect(large).toBe(small);
    expect(large).toBeLessThanOrEqual(6);
  });
});

describe('updateMemberRole', () => {
  it('members:manage changes a role and records member.role_changed', async () => {
    const { body } = await t.execute(UpdateMemberRoleDocument, { input: { tenantId, userId: reader.userId, role: 'manager' } }, manager.headers);
    expect(body.data!.updateMemberRole.membership.role.name).toBe('manager');
    const event = await t.app.db.prisma.event.findFirstOrThrow({ where: { tenantId, type: 'member.role_changed' }, orderBy: { position: 'desc' } });
    expect(event.payload).toEqual({ userId: reader.userId, from: 'reader', to: 'manager' });
    await t.execute(UpdateMemberRoleDocument, { input: { tenantId, userId: reader.userId, role: 'reader' } }, manager.headers);
  });

  it('refuses: owner via this path, unknown roles, non-members, callers without members:manage, outsiders; nothing is written', async () => {
    const before = await realmFootprint(t);
    const ask = async (input: Record<string, string>, who: SignedIn) =>
      (await t.execute(UpdateMemberRoleDocument, { input: { tenantId, ...input } as never }, who.headers)).body.errors?.[0]?.extensions;
    expect(await ask({ userId: reader.userId, role: 'owner' }, owner)).toMatchObject({ code: 'bad_request', reason: 'owner_via_transfer' });
    expect(await ask({ userId: reader.userId, role: 'ghost' }, owner)).toMatchObject({ code: 'not_found', field: 'role' });
    expect(await ask({ userId: outsider.userId, role: 'reader' }, owner)).toMatchObject({ code: 'not_found', field: 'userId' });
    expect(await ask({ userId: manager.userId, role: 'reader' }, reader)).toMatchObject({ code: 'forbidden' });
    expect(await ask({ userId: reader.userId, role: 'manager' }, outsider)).toMatchObject({ code: 'not_found' });
    expect(await ask({ userId: 'x', role: 'reader' }, owner)).toMatchObject({ code: 'bad_request', field: 'userId' });
    // An owner's membership is not a members:manage holder's to change: refused before last_owner is even considered.
    expect(await ask({ userId: owner.userId, role: 'member' }, manager)).toMatchObject({ code: 'forbidden', reason: 'owner_only' });
    expect(await ask({ userId: owner.userId, role: 'member' }, owner)).toMatchObject({ code: 'last_owner' });
    expect(await realmFootprint(t)).toEqual(before);
  });

  it.skipIf(process.env.IDGRAPH_TEST_DB !== 'postgres')('two parallel demotions of the last two owners: one succeeds, one is last_owner', async () => {
    const second = await signUpUser(t);
    const tenant = await seedTenant(t, owner.userId);
    await seedMember(t, tenant.id, second.userId, 'owner');
    const demote = (userId: string) => t.execute(UpdateMemberRoleDocument, { input: { tenantId: tenant.id, userId, role: 'member' } }, admin.headers);
    const results = await Promise.all([demote(owner.userId), demote(second.userId)]);
    expect(results.map((r) => errorCode(r.body) ?? 'ok').sort()).toEqual(['last_owner', 'ok']);
    expect(await t.app.db.prisma.membership.count({ where: { tenantId: tenant.id, role: { name: 'owner' } } })).toBe(1);
    // The tenant's owner is whoever kept the role.
    const kept = await t.app.db.prisma.membership.findFirstOrThrow({ where: { tenantId: tenant.id, role: { name: 'owner' } } });
    expect((await t.app.db.prisma.tenant.findUniqueOrThrow({ where: { id: tenant.id } })).ownerId).toBe(kept.userId);
  });
});

describe('removeMember', () => {
  it('members:manage removes a member; a member may leave; the last owner may not', async () => {
    const extra = await signUpUser(t);
    await seedMember(t, tenantId, extra.userId, 'reader');
    expect(errorCode((await t.execute(RemoveMemberDocument, { input: { tenantId, userId: extra.userId } }, reader.headers)).body)).toBe('forbidden');
    const removed = await t.execute(RemoveMemberDocument, { input: { tenantId, userId: extra.userId } }, manager.headers);
    expect(removed.body.data!.removeMember).toEqual({ tenantId, userId: extra.userId });
    expect(await roleOf(tenantId, extra.userId)).toBeNull();

    const leaver = await signUpUser(t);
    await seedMember(t, tenantId, leaver.userId, 'reader');
    const left = await t.execute(RemoveMemberDocument, { input: { tenantId, userId: leaver.userId } }, leaver.headers);
    expect(left.body.errors).toBeUndefined();
    const event = await t.app.db.prisma.event.findFirstOrThrow({ where: { tenantId, type: 'member.removed' }, orderBy: { position: 'desc' } });
    expect(event.payload).toMatchObject({ userId: leaver.userId, left: true });

    const before = await realmFootprint(t);
    expect(errorCode((await t.execute(RemoveMemberDocument, { input: { tenantId, userId: owner.userId } }, owner.headers)).body)).toBe('last_owner');
    expect(await realmFootprint(t)).toEqual(before);
  });
});

describe('updateUserStatus', () => {
  it('realm admins suspend a user: refused on the next request, at sign-in and at refresh (GraphQL and /auth/v1); reactivation restores access', async () => {
    const user = await signUpUser(t);
    const session = await signIn(t, user);
    const { body } = await t.execute(UpdateUserStatusDocument, { input: { userId: user.userId, status: 'SUSPENDED' } }, admin.headers);
    expect(body.data!.updateUserStatus.user.status).toBe('SUSPENDED');
    expect(errorCode((await t.execute(ViewerDocument, {}, session.headers)).body)).toBe('account_suspended');
    await expect(signIn(t, user)).rejects.toThrow(/account_suspended|user_banned/);
    const rest = await authClient(t).signInWithPassword({ email: user.email, password: user.password });
    expect(rest.error?.code).toBe('user_banned');
    // The ban ended the user's sessions at the provider: their refresh tokens are gone.
    const refreshed = await authClient(t).refreshSession({ refresh_token: session.refreshToken });
    expect(refreshed.error?.code).toBe('refresh_token_not_found');
    const event = await t.app.db.prisma.event.findFirstOrThrow({ where: { aggregateId: user.userId, type: 'user.status_changed' } });
    expect(event.payload).toEqual({ from: 'active', to: 'suspended' });

    await t.execute(UpdateUserStatusDocument, { input: { userId: user.userId, status: 'ACTIVE' } }, admin.headers);
    const again = await signIn(t, user);
    expect((await t.execute(ViewerDocument, {}, again.headers)).body.data?.viewer?.userId).toBe(user.userId);
  });

  it('deactivated users get account_deactivated', async () => {
    const user = await signUpUser(t);
    await t.execute(UpdateUserStatusDocument, { input: { userId: user.userId, status: 'DEACTIVATED' } }, admin.headers);
    expect(errorCode((await t.execute(ViewerDocument, {}, user.headers)).body)).toBe('account_deactivated');
  });

  it('only realm admins; not on themselves; unknown users not_found; nothing is written on refusal', async () => {
    const before = await realmFootprint(t);
    const ask = async (input: Record<string, string>, who?: SignedIn) =>
      errorCode((await t.execute(UpdateUserStatusDocument, { input: input as never }, who?.headers)).body);
    expect(await ask({ userId: reader.userId, status: 'SUSPENDED' }, owner)).toBe('forbidden');
    expect(await ask({ userId: reader.userId, status: 'SUSPENDED' })).toBe('unauthenticated');
    expect(await ask({ userId: admin.userId, status: 'SUSPENDED' }, admin)).toBe('forbidden');
    expect(await ask({ userId: '00000000-0000-4000-8000-000000000000', status: 'SUSPENDED' }, admin)).toBe('not_found');
    expect(await realmFootprint(t)).toEqual(before);
  });
});

describe('no grant beyond the granter', () => {
  // A caller is a signed-in user or the headers of an API key.
  type Who = SignedIn | Record<string, string>;
  const headersOf = (who: Who) => ('headers' in who ? (who as SignedIn).headers : (who as Record<string, string>));
  const setRole = (who: Who, tenant: string, userId: string, role: string) =>
    t.execute(UpdateMemberRoleDocument, { input: { tenantId: tenant, userId, role } }, headersOf(who));
  const remove = (who: Who, tenant: string, userId: string) => t.execute(RemoveMemberDocument, { input: { tenantId: tenant, userId } }, headersOf(who));
  let baseTenantId: string;

  beforeAll(async () => {
    await seedRole(t, 'full', [...builtinPermissions]);
    await seedRole(t, 'billing', ['tenant:read', 'billing:admin']);
    // members:manage and more, but not everything: the attacker's starting point.
    await seedRole(t, 'staff', ['tenant:read', 'members:manage', 'invitations:manage', 'apikeys:manage']);
    // A realm admin (tenant:write in the base admin tenant) that may not edit the catalog.
    await seedRole(t, 'operator', ['tenant:read', 'tenant:write', 'members:manage', 'invitations:manage']);
    baseTenantId = (await t.app.db.prisma.tenant.findFirstOrThrow({ where: { isBaseAdmin: true } })).id;
  });

  it('nobody raises their own role: a members:manage holder asking for a fuller role is own_role; nothing is written', async () => {
    const climber = await signUpUser(t);
    await seedMember(t, tenantId, climber.userId, 'manager');
    const before = await realmFootprint(t);
    expect(errorOf((await setRole(climber, tenantId, climber.userId, 'full')).body)).toMatchObject({
      code: 'forbidden',
      reason: 'own_role',
      field: 'role',
      permissions: expect.arrayContaining(['tenant:write', 'roles:manage', 'apikeys:manage']),
    });
    // A role of the realm's own strings is a raise too.
    expect(errorOf((await setRole(climber, tenantId, climber.userId, 'billing')).body)).toMatchObject({ reason: 'own_role', permissions: ['billing:admin'] });
    expect(await realmFootprint(t)).toEqual(before);
    expect(await roleOf(tenantId, climber.userId)).toBe('manager');
    // Going down is allowed: reader holds nothing manager lacks.
    expect((await setRole(climber, tenantId, climber.userId, 'reader')).body.errors).toBeUndefined();
    expect(await roleOf(tenantId, climber.userId)).toBe('reader');
  });

  it('a member with members:manage grants no role beyond their own permissions (built-in or the realm’s own); owners can', async () => {
    const target = await signUpUser(t);
    await seedMember(t, tenantId, target.userId, 'reader');
    const before = await realmFootprint(t);
    expect(errorOf((await setRole(manager, tenantId, target.userId, 'full')).body)).toMatchObject({
      code: 'forbidden',
      reason: 'role_exceeds_permissions',
      field: 'role',
      permissions: expect.arrayContaining(['tenant:write', 'apikeys:manage']),
    });
    expect(errorOf((await setRole(manager, tenantId, target.userId, 'billing')).body)).toMatchObject({ reason: 'role_exceeds_permissions', permissions: ['billing:admin'] });
    expect(await realmFootprint(t)).toEqual(before);
    // Within the manager's own permissions: allowed.
    expect((await setRole(manager, tenantId, target.userId, 'manager')).body.errors).toBeUndefined();
    // The owner holds every built-in permission and hands out the realm's own strings.
    expect((await setRole(owner, tenantId, target.userId, 'full')).body.errors).toBeUndefined();
    expect((await setRole(owner, tenantId, target.userId, 'billing')).body.errors).toBeUndefined();
    expect(await roleOf(tenantId, target.userId)).toBe('billing');
  });

  it('the attack end to end: members:manage, then a full role, then a tenant:write key, is refused at every step', async () => {
    const attacker = await signUpUser(t);
    const tenant = (await seedTenant(t, owner.userId)).id;
    await seedMember(t, tenant, attacker.userId, 'staff');
    expect(errorOf((await setRole(attacker, tenant, attacker.userId, 'full')).body)).toMatchObject({ reason: 'own_role' });
    const key = await t.execute(CreateApiKeyDocument, { input: { tenantId: tenant, displayName: 'x', scopes: ['tenant:write'] } }, attacker.headers);
    expect(errorOf(key.body)).toMatchObject({ code: 'forbidden', reason: 'role_exceeds_permissions', field: 'scopes', permissions: ['tenant:write'] });
    const invitation = await t.execute(CreateInvitationDocument, { input: { tenantId: tenant, email: `alt-${attacker.email}`, role: 'full' } }, attacker.headers);
    expect(errorOf(invitation.body)).toMatchObject({ code: 'forbidden', reason: 'role_exceeds_permissions' });
    expect(await roleOf(tenant, attacker.userId)).toBe('staff');
  });

  it('an owner’s membership is the owners’: members:manage alone cannot demote or remove an owner, even with two owners', async () => {
    const [first, second, staff] = await Promise.all([signUpUser(t), signUpUser(t), signUpUser(t)]);
    const tenant = (await seedTenant(t, first.userId)).id;
    await seedMember(t, tenant, second.userId, 'owner');
    await seedMember(t, tenant, staff.userId, 'staff');
    // An owner's API key with members:manage does not count as the owner in person either.
    const keyed = await t.execute(CreateApiKeyDocument, { input: { tenantId: tenant, displayName: 'k', scopes: ['tenant:read', 'members:manage'] } }, first.headers);
    const ownerKey = { authorization: `ApiKey ${keyed.body.data!.createApiKey.key}` };
    const before = await realmFootprint(t);
    for (const who of [staff, ownerKey]) {
      expect(errorOf((await setRole(who, tenant, second.userId, 'member')).body)).toMatchObject({ code: 'forbidden', reason: 'owner_only' });
      expect(errorOf((await remove(who, tenant, second.userId)).body)).toMatchObject({ code: 'forbidden', reason: 'owner_only' });
    }
    expect(await realmFootprint(t)).toEqual(before);
    expect(await roleOf(tenant, second.userId)).toBe('owner');
    // Allowed: an owner demotes the other owner; a realm admin removes an owner.
    expect((await setRole(first, tenant, second.userId, 'member')).body.errors).toBeUndefined();
    await t.app.db.prisma.membership.update({
      where: { userId_tenantId: { userId: second.userId, tenantId: tenant } },
      data: { role: { connect: { realmId_name: { realmId: await t.app.services.realms.defaultRealmId(), name: 'owner' } } } },
    });
    expect((await remove(admin, tenant, second.userId)).body.errors).toBeUndefined();
    expect(await roleOf(tenant, second.userId)).toBeNull();
  });

  it('in the realm’s base admin tenant, members:manage does not make anyone a realm admin', async () => {
    const [climber, accomplice, operator] = await Promise.all([signUpUser(t), signUpUser(t), signUpUser(t)]);
    await seedMember(t, baseTenantId, climber.userId, 'staff');
    await seedMember(t, baseTenantId, accomplice.userId, 'member');
    await seedMember(t, baseTenantId, operator.userId, 'operator');
    const before = await realmFootprint(t);
    expect(errorOf((await setRole(climber, baseTenantId, climber.userId, 'full')).body)).toMatchObject({ reason: 'own_role' });
    expect(errorOf((await setRole(climber, baseTenantId, accomplice.userId, 'full')).body)).toMatchObject({
      reason: 'role_exceeds_permissions',
      permissions: expect.arrayContaining(['tenant:write']),
    });
    // A realm admin without roles:manage gains no realm-wide power there either: in the base admin tenant their role is all they hold.
    expect(errorOf((await setRole(operator, baseTenantId, accomplice.userId, 'full')).body)).toMatchObject({
      reason: 'role_exceeds_permissions',
      permissions: expect.arrayContaining(['roles:manage', 'apikeys:manage']),
    });
    expect(await realmFootprint(t)).toEqual(before);
    for (const who of [climber, accomplice]) expect(errorCode((await t.execute(AdminStatsDocument, {}, who.headers)).body)).toBe('forbidden');
    expect((await t.execute(AdminStatsDocument, {}, operator.headers)).body.errors).toBeUndefined();
    // The base admin tenant's owner still grants realm administration.
    expect((await setRole(admin, baseTenantId, accomplice.userId, 'operator')).body.errors).toBeUndefined();
    expect((await t.execute(AdminStatsDocument, {}, accomplice.headers)).body.errors).toBeUndefined();
  });
});
