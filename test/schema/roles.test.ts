import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminStatsDocument, CreateRoleDocument, DeleteRoleDocument, RenameRoleDocument, RolesDocument, UpdateRoleDocument } from '../generated/graphql.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { errorCode } from '../helpers/errors.js';
import { realmFootprint, seedMember, seedRole, seedTenant, signInRealmAdmin, signUpUser, type SignedIn } from '../helpers/realm.js';

let t: TestApp;
let admin: SignedIn;
let owner: SignedIn;
let roleManager: SignedIn;
beforeAll(async () => {
  t = await startTestApp();
  admin = await signInRealmAdmin(t);
  [owner, roleManager] = await Promise.all([signUpUser(t), signUpUser(t)]);
  // roles:manage over the realm without being a realm admin: a role of the base admin tenant.
  await seedRole(t, 'catalog_editor', ['roles:manage', 'tenant:read']);
  const base = await t.app.db.prisma.tenant.findFirstOrThrow({ where: { isBaseAdmin: true } });
  await seedMember(t, base.id, roleManager.userId, 'catalog_editor');
});
afterAll(() => t.close());

const create = (input: { name: string; displayName: string; permissions: string[] }, who = admin) => t.execute(CreateRoleDocument, { input }, who.headers);
const roleEvents = (roleId: string) => t.app.db.prisma.event.findMany({ where: { aggregateType: 'role', aggregateId: roleId }, orderBy: { position: 'asc' } });

describe('roles catalog', () => {
  it('any signed-in user reads the catalog, system roles first', async () => {
    const { body } = await t.execute(RolesDocument, {}, owner.headers);
    expect(body.data!.roles.slice(0, 2).map((r) => [r.name, r.system])).toEqual([
      ['member', true],
      ['owner', true],
    ]);
    expect(errorCode((await t.execute(RolesDocument, {})).body)).toBe('unauthenticated');
  });

  it('createRole: roles:manage over the realm; duplicates de-duplicated; role.created', async () => {
    const { body } = await create({ name: 'dispatch', displayName: 'Dispatch', permissions: ['tenant:read', 'tenant:read'] }, roleManager);
    const role = body.data!.createRole.role;
    expect(role).toMatchObject({ name: 'dispatch', permissions: ['tenant:read'] });
    expect((await roleEvents(role.id)).map((e) => e.type)).toEqual(['role.created']);
    // Realm admins define the realm's own permission strings.
    const custom = await create({ name: 'shipping', displayName: 'Shipping', permissions: ['orders:read', 'orders:read', 'tenant:read'] });
    expect(custom.body.data!.createRole.role).toMatchObject({ permissions: ['orders:read', 'tenant:read'] });
  });

  it('a roles:manage holder puts into a role only what they hold over the realm: no way to raise oneself through the catalog', async () => {
    const before = await realmFootprint(t);
    const refusal = (body: { errors?: readonly { extensions?: Record<string, unknown> }[] }) => body.errors?.[0]?.extensions;
    expect(refusal((await create({ name: 'root', displayName: 'Root', permissions: ['tenant:read', 'tenant:write'] }, roleManager)).body)).toMatchObject({
      code: 'forbidden',
      reason: 'role_exceeds_permissions',
      field: 'permissions',
      permissions: ['tenant:write'],
    });
    expect(refusal((await create({ name: 'orders', displayName: 'Orders', permissions: ['orders:read'] }, roleManager)).body)).toMatchObject({
      reason: 'role_exceeds_permissions',
      permissions: ['orders:read'],
    });
    // Their own role, in the base admin tenant: tenant:write there would make them a realm admin.
    const own = await t.execute(UpdateRoleDocument, { input: { name: 'catalog_editor', permissions: ['roles:manage', 'tenant:read', 'tenant:write'] } }, roleManager.headers);
    expect(refusal(own.body)).toMatchObject({ code: 'forbidden', reason: 'role_exceeds_permissions', permissions: ['tenant:write'] });
    expect(await realmFootprint(t)).toEqual(before);
    expect(errorCode((await t.execute(AdminStatsDocument, {}, roleManager.headers)).body)).toBe('forbidden');

    // Allowed: what they hold; keeping or dropping a permission they lack (only additions are grants).
    await create({ name: 'watcher', displayName: 'Watcher', permissions: ['tenant:read', 'audit:read'] });
    const kept = await t.execute(UpdateRoleDocument, { input: { name: 'watcher', displayName: 'Watchers', permissions: ['audit:read', 'tenant:read'] } }, roleManager.headers);
    expect(kept.body.errors).toBeUndefined();
    const dropped = await t.execute(UpdateRoleDocument, { input: { name: 'watcher', permissions: ['tenant:read'] } }, roleManager.headers);
    expect(dropped.body.data!.updateRole.role.permissions).toEqual(['tenant:read']);
    const readded = await t.execute(UpdateRoleDocument, { input: { name: 'watcher', permissions: ['tenant:read', 'audit:read'] } }, roleManager.headers);
    expect(refusal(readded.body)).toMatchObject({ reason: 'role_exceeds_permissions', permissions: ['audit:read'] });
    // The realm admin holds every built-in permission over the realm.
    expect((await t.execute(UpdateRoleDocument, { input: { name: 'watcher', permissions: ['tenant:read', 'audit:read', 'tenant:write'] } }, admin.headers)).body.errors).toBeUndefined();
  });

  it('createRole refuses: a taken name (role_exists), bad names and permissions by field, tenant owners, anonymous; nothing is written', async () => {
    await create({ name: 'taken', displayName: 'Taken', permissions: [] });
    const before = await realmFootprint(t);
    expect(errorCode((await create({ name: 'taken', displayName: 'Again', permissions: [] })).body)).toBe('role_exists');
    expect(errorCode((await create({ name: 'owner', displayName: 'Owner', permissions: [] })).body)).toBe('role_exists');
    const badName = await create({ name: 'Bad Name', displayName: 'x', permissions: [] });
    expect(badName.body.errors![0]!.extensions).toMatchObject({ code: 'bad_request', field: 'name' });
    const badPermission = await create({ name: 'ok', displayName: 'x', permissions: ['fine:read', 'NOT OK'] });
    expect(badPermission.body.errors![0]!.extensions).toMatchObject({ code: 'bad_request', field: 'permissions.1' });
    // Owning a tenant gives no say over the realm's catalog.
    await seedTenant(t, owner.userId);
    const afterSeed = await realmFootprint(t);
    expect(errorCode((await create({ name: 'sneaky', displayName: 'x', permissions: [] }, owner)).body)).toBe('forbidden');
    expect(errorCode((await t.execute(CreateRoleDocument, { input: { name: 'anon', displayName: 'x', permissions: [] } })).body)).toBe('unauthenticated');
    expect(await realmFootprint(t)).toEqual(afterSeed);
    expect(afterSeed.roles).toBe(before.roles);
  });

  it('updateRole changes permissions and display name; system roles are immutable', async () => {
    await create({ name: 'auditor', displayName: 'Auditor', permissions: ['audit:read'] });
    const { body } = await t.execute(UpdateRoleDocument, { input: { name: 'auditor', permissions: ['audit:read', 'tenant:read'] } }, admin.headers);
    expect(body.data!.updateRole.role).toEqual({ name: 'auditor', displayName: 'Auditor', permissions: ['audit:read', 'tenant:read'] });
    for (const name of ['owner', 'member']) {
      expect(errorCode((await t.execute(UpdateRoleDocument, { input: { name, permissions: [] } }, admin.headers)).body)).toBe('system_role_immutable');
    }
    expect(errorCode((await t.execute(UpdateRoleDocument, { input: { name: 'ghost', permissions: [] } }, admin.headers)).body)).toBe('not_found');
  });

  it('renameRole keeps every membership and pending invitation on the role, under the new name, in one transaction', async () => {
    const created = (await create({ name: 'sales', displayName: 'Sales', permissions: ['tenant:read'] })).body.data!.createRole.role;
    const tenant = await seedTenant(t, owner.userId);
    const member = await signUpUser(t);
    await seedMember(t, tenant.id, member.userId, 'sales');
    await t.app.db.prisma.invitation.create({
      data: { tenantId: tenant.id, email: 'new@example.com', roleId: created.id, tokenHash: `rename-${created.id}`, expiresAt: new Date(Date.now() + 86_400_000) },
    });
    const { body } = await t.execute(RenameRoleDocument, { input: { name: 'sales', newName: 'salesman' } }, admin.headers);
    expect(body.data!.renameRole.role).toEqual({ id: created.id, name: 'salesman' });
    const membership = await t.app.db.prisma.membership.findFirstOrThrow({ where: { userId: member.userId }, include: { role: true } });
    expect(membership.role.name).toBe('salesman');
    const invitation = await t.app.db.prisma.invitation.findFirstOrThrow({ where: { tenantId: tenant.id }, include: { role: true } });
    expect(invitation.role.name).toBe('salesman');
    expect((await roleEvents(created.id)).at(-1)).toMatchObject({ type: 'role.renamed', payload: { from: 'sales', to: 'salesman' } });
    expect(errorCode((await t.execute(RenameRoleDocument, { input: { name: 'salesman', newName: 'auditor' } }, admin.headers)).body)).toBe('role_exists');
    expect(errorCode((await t.execute(RenameRoleDocument, { input: { name: 'owner', newName: 'boss' } }, admin.headers)).body)).toBe('system_role_immutable');
  });

  it('deleteRole: role_in_use while attached; system roles immutable; an unused role goes with role.deleted', async () => {
    const used = (await create({ name: 'in_use', displayName: 'In use', permissions: [] })).body.data!.createRole.role;
    const tenant = await seedTenant(t, owner.userId);
    const member = await signUpUser(t);
    await seedMember(t, tenant.id, member.userId, 'in_use');
    const refused = await t.execute(DeleteRoleDocument, { input: { name: 'in_use' } }, admin.headers);
    expect(refused.body.errors![0]!.extensions).toMatchObject({ code: 'role_in_use', memberships: 1, invitations: 0 });
    expect(errorCode((await t.execute(DeleteRoleDocument, { input: { name: 'member' } }, admin.headers)).body)).toBe('system_role_immutable');
    expect(errorCode((await t.execute(DeleteRoleDocument, { input: { name: 'in_use' } }, owner.headers)).body)).toBe('forbidden');

    const unused = (await create({ name: 'unused', displayName: 'Unused', permissions: [] })).body.data!.createRole.role;
    const { body } = await t.execute(DeleteRoleDocument, { input: { name: 'unused' } }, admin.headers);
    expect(body.data!.deleteRole.role.name).toBe('unused');
    expect(await t.app.db.prisma.role.findUnique({ where: { id: unused.id } })).toBeNull();
    expect((await roleEvents(unused.id)).map((e) => e.type)).toEqual(['role.created', 'role.deleted']);
    expect(await t.app.db.prisma.role.findUnique({ where: { id: used.id } })).not.toBeNull();
  });
});
