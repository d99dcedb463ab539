import { builder } from './builder.js';
import { NodeRef } from './node.js';
import type { GraphQLContext } from './context.js';

/** The user themself: the viewer, or whoever just signed in within this request. */
const self = (ctx: GraphQLContext, userId: string) => ctx.viewer?.userId === userId || ctx.caller.signedInUserId === userId;

// Matches no user: the filter below then selects nothing.
const NO_USER = '00000000-0000-0000-0000-000000000000';

/**
 * Contact details are the user's own, visible to whoever manages members of a
 * tenant the user belongs to, and to realm admins. The user row comes with at
 * most one of the user's memberships in a tenant the caller manages (a
 * field-level select inside the same statement), so listing members costs no
 * extra query and no more rows.
 */
const contactSelect = (_args: object, ctx: GraphQLContext) => {
  const callerId = ctx.viewer && !ctx.viewer.apiKey ? ctx.viewer.userId : NO_USER;
  return {
    memberships: {
      where: { tenant: { deletedAt: null, memberships: { some: { userId: callerId, role: { permissions: { has: 'members:manage' } } } } } },
      select: { tenantId: true },
      take: 1,
    },
  };
};
/**
 * A user another object names (an inviter, an actor), as the caller may see them: null otherwise.
 * Batched per request: a page of references costs one statement, contact fields' select included.
 */
export const referencedUser = (ctx: GraphQLContext, userId: string | null | undefined) =>
  userId ? ctx.services.references.user(ctx.caller, userId, contactSelect({}, ctx)) : null;

const contactScopes = (user: { id: string; memberships: { tenantId: string }[] }, _args: object, ctx: GraphQLContext) =>
  self(ctx, user.id) || user.memberships.length > 0 ? true : { realmAdmin: true };

export const UserStatus = builder.enumType('UserStatus', {
  description: 'ACTIVE users may sign in; SUSPENDED and DEACTIVATED users may not.',
  values: { ACTIVE: { value: 'active' }, SUSPENDED: { value: 'suspended' }, DEACTIVATED: { value: 'deactivated' } } as const,
});

/** idgraph's mirror of an identity user; id is the provider's user id. A federation entity. */
export const UserRef = builder.prismaObject('User', {
  description: 'A person with an account. Contact details are shown only to themself, to whoever manages members of a tenant they are in, and to realm admins. A federation entity.',
  interfaces: [NodeRef],
  fields: (t) => ({
    id: t.exposeID('id'),
    email: t.string({ nullable: true, select: contactSelect, authScopes: contactScopes, resolve: (user) => user.email }),
    phone: t.string({ nullable: true, select: contactSelect, authScopes: contactScopes, resolve: (user) => user.phone }),
    displayName: t.exposeString('displayName', { nullable: true }),
    status: t.expose('status', { type: UserStatus }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

builder.asEntity(UserRef, {
  key: builder.selection<{ id: string }>('id'),
  // Only for callers who may read the user elsewhere (null otherwise, as for a missing entity).
  resolveReference: (user, ctx) => ctx.services.references.user(ctx.caller, user.id, contactSelect({}, ctx)),
});

type User = import('../generated/prisma/client.js').User;
const UpdateUserStatusInput = builder.inputType('UpdateUserStatusInput', {
  description: 'The user and their new status.',
  fields: (t) => ({ userId: t.id({ required: true }), status: t.field({ type: UserStatus, required: true }) }),
});

builder.mutationField('updateUserStatus', (t) =>
  t.field({
    type: builder.objectRef<{ user: User }>('UpdateUserStatusPayload').implement({
      description: 'The user after the change.',
      fields: (f) => ({ user: f.expose('user', { type: UserRef }) }),
    }),
    description:
      'Realm admins. SUSPENDED and DEACTIVATED users are refused (account_suspended / account_deactivated) from their next request, and cannot sign in or refresh.',
    args: { input: t.arg({ type: UpdateUserStatusInput, required: true }) },
    resolve: async (_root, { input }, ctx) => ({ user: await ctx.services.members.updateUserStatus(input, ctx.caller) }),
  }),
);
