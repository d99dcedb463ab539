import { builder } from './builder.js';

/** A tenant of the realm. A federation entity. */
export const TenantRef = builder.prismaObject('Tenant', {
  fields: (t) => ({
    id: t.exposeID('id'),
    slug: t.exposeString('slug'),
    displayName: t.exposeString('displayName'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

builder.asEntity(TenantRef, {
  key: builder.selection<{ id: string }>('id'),
  // Entity references resolve only for callers who may see the tenant.
  resolveReference: (tenant, ctx) =>
    ctx.viewer
      ? ctx.prisma.tenant.findFirst({ where: { id: tenant.id, deletedAt: null, memberships: { some: { userId: ctx.viewer.userId } } } })
      : null,
});
