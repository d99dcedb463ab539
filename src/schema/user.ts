import { builder } from './builder.js';
import type { GraphQLContext } from './context.js';

/** The user themself: the viewer, or whoever just signed in within this request. */
const self = (ctx: GraphQLContext, userId: string) => ctx.viewer?.userId === userId || ctx.caller.signedInUserId === userId;

export const UserStatus = builder.enumType('UserStatus', {
  values: { ACTIVE: { value: 'active' }, SUSPENDED: { value: 'suspended' }, DEACTIVATED: { value: 'deactivated' } } as const,
});

/** idgraph's mirror of an identity user; id is the provider's user id. A federation entity. */
export const UserRef = builder.prismaObject('User', {
  fields: (t) => ({
    id: t.exposeID('id'),
    // Contact details are the user's own, and realm admins'.
    email: t.exposeString('email', {
      nullable: true,
      authScopes: (user, _args, ctx) => (self(ctx, user.id) ? true : { realmAdmin: true }),
    }),
    phone: t.exposeString('phone', {
      nullable: true,
      authScopes: (user, _args, ctx) => (self(ctx, user.id) ? true : { realmAdmin: true }),
    }),
    displayName: t.exposeString('displayName', { nullable: true }),
    status: t.expose('status', { type: UserStatus }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

builder.asEntity(UserRef, {
  key: builder.selection<{ id: string }>('id'),
  resolveReference: (user, ctx) => ctx.prisma.user.findUnique({ where: { id: user.id } }),
});
