import { builder } from './builder.js';
import { NodeRef } from './node.js';
import { connectionType, fromListing } from './connections.js';

export const MembershipRef = builder.prismaObject('Membership', {
  interfaces: [NodeRef],
  description: 'A user in a tenant, with one role of the catalog.',
  fields: (t) => ({
    id: t.exposeID('id'),
    tenant: t.relation('tenant'),
    user: t.relation('user'),
    role: t.relation('role'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

export const MembershipConnection = connectionType(MembershipRef, 'Membership');

builder.queryField('members', (t) =>
  t.prismaConnection(
    {
      type: 'Membership',
      cursor: 'id',
      description: 'The members of a tenant (tenant:read).',
      args: { tenantId: t.arg.id({ required: true, description: 'The tenant.' }) },
      ...fromListing((args: { tenantId: string | number }, ctx) => ctx.services.members.list(ctx.caller, String(args.tenantId))),
    },
    MembershipConnection,
  ),
);

type Membership = import('../generated/prisma/client.js').Membership;
const MembershipPayload = builder.objectRef<{ membership: Membership }>('MembershipPayload').implement({
  description: 'The membership after the change.',
  fields: (t) => ({ membership: t.expose('membership', { type: MembershipRef }) }),
});
const RemoveMemberPayload = builder.objectRef<{ tenantId: string; userId: string }>('RemoveMemberPayload').implement({
  description: 'The tenant and user whose membership ended.',
  fields: (t) => ({ tenantId: t.exposeID('tenantId'), userId: t.exposeID('userId') }),
});

const UpdateMemberRoleInput = builder.inputType('UpdateMemberRoleInput', {
  description: 'The member and their new role.',
  fields: (t) => ({
    tenantId: t.id({ required: true }),
    userId: t.id({ required: true }),
    role: t.string({ required: true, description: 'A role of the catalog other than owner (see transferTenantOwnership).' }),
  }),
});
const RemoveMemberInput = builder.inputType('RemoveMemberInput', {
  description: 'The member to remove from the tenant.',
  fields: (t) => ({ tenantId: t.id({ required: true }), userId: t.id({ required: true }) }),
});

builder.mutationFields((t) => ({
  updateMemberRole: t.field({
    type: MembershipPayload,
    description: 'Needs members:manage. Demoting the last owner is last_owner.',
    args: { input: t.arg({ type: UpdateMemberRoleInput, required: true }) },
    resolve: async (_root, { input }, ctx) => ({ membership: await ctx.services.members.updateRole(input, ctx.caller) }),
  }),
  removeMember: t.field({
    type: RemoveMemberPayload,
    description: 'Needs members:manage, except to leave a tenant yourself. The last owner cannot leave.',
    args: { input: t.arg({ type: RemoveMemberInput, required: true }) },
    resolve: (_root, { input }, ctx) => ctx.services.members.remove(input, ctx.caller),
  }),
}));
