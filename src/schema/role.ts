import { builder } from './builder.js';
import { NodeRef } from './node.js';

/** A role of the realm's catalog. A federation entity. */
export const RoleRef = builder.prismaObject('Role', {
  description: 'A role of the realm catalog: a name and the permissions it grants to members who hold it. A federation entity.',
  interfaces: [NodeRef],
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    displayName: t.exposeString('displayName'),
    permissions: t.exposeStringList('permissions'),
    system: t.exposeBoolean('system', { description: 'owner and member: cannot be changed or deleted.' }),
  }),
});

builder.asEntity(RoleRef, {
  key: builder.selection<{ id: string }>('id'),
  resolveReference: (role, ctx) => ctx.services.references.role(ctx.caller, role.id),
});

builder.queryField('roles', (t) =>
  t.prismaField({
    type: ['Role'],
    description: 'The realm’s role catalog: system roles first, then by name.',
    resolve: (query, _root, _args, ctx) => ctx.services.roles.list(ctx.caller, query),
  }),
);

type Role = import('../generated/prisma/client.js').Role;
const RolePayload = builder.objectRef<{ role: Role }>('RolePayload').implement({
  description: 'The role after the change.',
  fields: (t) => ({ role: t.expose('role', { type: RoleRef }) }),
});
const rolePayload = async (role: Promise<Role>) => ({ role: await role });

const CreateRoleInput = builder.inputType('CreateRoleInput', {
  description: 'A new role of the realm catalog.',
  fields: (t) => ({
    name: t.string({ required: true, description: 'Lowercase, starts with a letter; what tokens carry as tenant_role.' }),
    displayName: t.string({ required: true }),
    permissions: t.stringList({ required: true, description: 'resource:action strings, e.g. members:manage or invoices:approve.' }),
  }),
});
const UpdateRoleInput = builder.inputType('UpdateRoleInput', {
  description: 'The role to change and its new display name or permissions.',
  fields: (t) => ({
    name: t.string({ required: true }),
    displayName: t.string({ required: false }),
    permissions: t.stringList({ required: false, description: 'Replaces the role’s permissions.' }),
  }),
});
const RenameRoleInput = builder.inputType('RenameRoleInput', {
  description: 'The role to rename and its new name.',
  fields: (t) => ({ name: t.string({ required: true }), newName: t.string({ required: true }) }),
});
const RoleNameInput = builder.inputType('RoleNameInput', { description: 'A role, by name.', fields: (t) => ({ name: t.string({ required: true }) }) });

builder.mutationFields((t) => ({
  createRole: t.field({
    type: RolePayload,
    description: 'Needs roles:manage over the realm. role_exists for a taken name.',
    args: { input: t.arg({ type: CreateRoleInput, required: true }) },
    resolve: (_root, { input }, ctx) => rolePayload(ctx.services.roles.create(input, ctx.caller)),
  }),
  updateRole: t.field({
    type: RolePayload,
    description: 'Needs roles:manage. System roles are system_role_immutable.',
    args: { input: t.arg({ type: UpdateRoleInput, required: true }) },
    resolve: (_root, { input }, ctx) => rolePayload(ctx.services.roles.update(input, ctx.caller)),
  }),
  renameRole: t.field({
    type: RolePayload,
    description: 'Needs roles:manage. Members and invitations keep the role under its new name.',
    args: { input: t.arg({ type: RenameRoleInput, required: true }) },
    resolve: (_root, { input }, ctx) => rolePayload(ctx.services.roles.rename(input, ctx.caller)),
  }),
  deleteRole: t.field({
    type: RolePayload,
    description: 'Needs roles:manage. role_in_use while members or pending invitations hold it.',
    args: { input: t.arg({ type: RoleNameInput, required: true }) },
    resolve: (_root, { input }, ctx) => rolePayload(ctx.services.roles.remove(input, ctx.caller)),
  }),
}));
