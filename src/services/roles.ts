import { z } from 'zod';
import { isUniqueViolation } from '../db/errors.js';
import { AppError, assertThat } from '../errors.js';
import type { EventStore, Tx } from '../events/store.js';
import type { Prisma, PrismaClient } from '../generated/prisma/client.js';
import { type AccessService, assertGrantable, type GrantAuthority } from './access.js';
import { type Caller, eventMetadata, requireViewer } from './caller.js';
import { fields, parseInput } from './input.js';
import { REALM_ADMIN_PERMISSION } from './permissions.js';
import type { RealmService } from './realms.js';

export interface RoleServiceDeps {
  db: PrismaClient;
  events: EventStore;
  access: AccessService;
  realms: RealmService;
}

const permissions = z.array(fields.permission).max(100, 'at most 100 permissions').transform((list) => [...new Set(list)]);
const createInput = z.object({ name: fields.roleName, displayName: fields.displayName, permissions });
const updateInput = z.object({ name: fields.roleName, displayName: fields.displayName.optional(), permissions: permissions.optional() });
const renameInput = z.object({ name: fields.roleName, newName: fields.roleName });
const deleteInput = z.object({ name: fields.roleName });

/**
 * The realm's role catalog. Reading it needs a signed-in caller; changing it
 * needs roles:manage over the realm (its base admin tenant). owner and member
 * are system roles and never change. A role gains only permissions its editor
 * holds over the realm (the realm's own strings: realm admins only), or editing
 * the role one holds would be a way to raise oneself.
 */
export function createRoleService({ db, events, access, realms }: RoleServiceDeps) {
  async function editable(tx: Tx, realmId: string, name: string) {
    const role = await tx.role.findUnique({ where: { realmId_name: { realmId, name } } });
    assertThat(role, 'not_found', `No role named "${name}" in the catalog.`, { field: 'name' });
    if (role.system) throw new AppError('system_role_immutable');
    return role;
  }

  async function manage(caller: Caller): Promise<{ realmId: string; authority: GrantAuthority }> {
    const realmId = await realms.defaultRealmId();
    const viewer = await access.requireRealmPermission(caller, realmId, 'roles:manage');
    const held = await access.realmPermissions(viewer, realmId);
    return { realmId, authority: { held, realmDefined: held.has(REALM_ADMIN_PERMISSION) } };
  }

  const roleEvent = (realmId: string, roleId: string, type: string, payload: Record<string, unknown>, caller: Caller) => ({
    aggregateType: 'role',
    aggregateId: roleId,
    type,
    realmId,
    payload,
    metadata: eventMetadata(caller),
  });

  return {
    async list<Q extends Omit<Prisma.RoleFindManyArgs, 'where' | 'orderBy'>>(caller: Caller, query: Q) {
      requireViewer(caller);
      return db.role.findMany({ ...query, where: { realmId: await realms.defaultRealmId() }, orderBy: [{ system: 'desc' }, { name: 'asc' }] });
    },

    async create(input: unknown, caller: Caller) {
      const data = parseInput(createInput, input);
      const { realmId, authority } = await manage(caller);
      assertGrantable(authority, data.permissions, 'permissions');
      try {
        return await db.$transaction(async (tx) => {
          const role = await tx.role.create({ data: { realmId, ...data } });
          await events.appendEvent(tx, roleEvent(realmId, role.id, 'role.created', { name: role.name, permissions: role.permissions }, caller));
          return role;
        });
      } catch (error) {
        if (isUniqueViolation(error)) throw new AppError('role_exists', undefined, { field: 'name' });
        throw error;
      }
    },

    /** Display name and permissions; members holding the role get the new permissions on their next request. */
    async update(input: unknown, caller: Caller) {
      const data = parseInput(updateInput, input);
      const { realmId, authority } = await manage(caller);
      return db.$transaction(async (tx) => {
        const role = await editable(tx, realmId, data.name);
        // Only what is added needs the editor's authority: dropping a permission grants nothing.
        assertGrantable(authority, (data.permissions ?? []).filter((p) => !role.permissions.includes(p)), 'permissions');
        const change = { ...(data.displayName ? { displayName: data.displayName } : {}), ...(data.permissions ? { permissions: data.permissions } : {}) };
        const updated = await tx.role.update({ where: { id: role.id }, data: change });
        await events.appendEvent(tx, roleEvent(realmId, role.id, 'role.updated', { name: role.name, changed: change }, caller));
        return updated;
      });
    },

    /**
     * Memberships and invitations refer to roles by id, so they follow the new
     * name in the same transaction; tokens carry it (tenant_role) from their next refresh.
     */
    async rename(input: unknown, caller: Caller) {
      const data = parseInput(renameInput, input);
      const { realmId } = await manage(caller);
      try {
        return await db.$transaction(async (tx) => {
          const role = await editable(tx, realmId, data.name);
          if (data.newName === 'owner' || data.newName === 'member') throw new AppError('role_exists', undefined, { field: 'newName' });
          const renamed = await tx.role.update({ where: { id: role.id }, data: { name: data.newName } });
          await events.appendEvent(tx, roleEvent(realmId, role.id, 'role.renamed', { from: data.name, to: data.newName }, caller));
          return renamed;
        });
      } catch (error) {
        if (isUniqueViolation(error)) throw new AppError('role_exists', undefined, { field: 'newName' });
        throw error;
      }
    },

    /** role_in_use while any membership or pending invitation names it. */
    async remove(input: unknown, caller: Caller) {
      const data = parseInput(deleteInput, input);
      const { realmId } = await manage(caller);
      return db.$transaction(async (tx) => {
        const role = await editable(tx, realmId, data.name);
        const [memberships, invitations] = await Promise.all([
          tx.membership.count({ where: { roleId: role.id } }),
          tx.invitation.count({ where: { roleId: role.id, status: 'pending' } }),
        ]);
        if (memberships + invitations > 0) throw new AppError('role_in_use', undefined, { memberships, invitations });
        // Accepted and revoked invitations keep no live reference worth a dangling key.
        await tx.invitation.deleteMany({ where: { roleId: role.id } });
        await tx.role.delete({ where: { id: role.id } });
        await events.appendEvent(tx, roleEvent(realmId, role.id, 'role.deleted', { name: role.name }, caller));
        return role;
      });
    },
  };
}

export type RoleService = ReturnType<typeof createRoleService>;
