import { builder } from './builder.js';

/** A role of the realm's catalog. A federation entity. */
export const RoleRef = builder.prismaObject('Role', {
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
  resolveReference: (role, ctx) => (ctx.viewer ? ctx.prisma.role.findUnique({ where: { id: role.id } }) : null),
});

export const MembershipRef = builder.prismaObject('Membership', {
  fields: (t) => ({
    id: t.exposeID('id'),
    tenant: t.relation('tenant'),
    role: t.relation('role'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});
