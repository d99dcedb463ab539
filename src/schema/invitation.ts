import type { Invitation, Membership } from '../generated/prisma/client.js';
import type { InvitationState } from '../services/invitations.js';
import { builder } from './builder.js';
import { NodeRef } from './node.js';
import { connectionType, fromListing } from './connections.js';
import { MembershipRef } from './membership.js';
import { referencedUser, UserRef } from './user.js';

const InvitationStatus = builder.enumType('InvitationStatus', {
  description: 'EXPIRED is a pending invitation past its expiresAt.',
  values: {
    PENDING: { value: 'pending' },
    ACCEPTED: { value: 'accepted' },
    REVOKED: { value: 'revoked' },
    EXPIRED: { value: 'expired' },
  } as const,
});

/** An invitation to join a tenant. Its token is never readable: only the invitee's email holds it. */
export const InvitationRef = builder.prismaObject('Invitation', {
  interfaces: [NodeRef],
  description: 'An invitation for an email address to join a tenant with a role of the realm catalog.',
  fields: (t) => ({
    id: t.exposeID('id'),
    email: t.exposeString('email', { description: 'Lowercased.' }),
    role: t.relation('role'),
    status: t.field({ type: InvitationStatus, resolve: (invitation, _args, ctx) => ctx.services.invitations.stateOf(invitation) }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    invitedBy: t.field({
      type: UserRef,
      nullable: true,
      description: 'The user who sent it (an API key’s owner for a key); null when that user is gone or the caller may not see them.',
      resolve: (invitation, _args, ctx) => referencedUser(ctx, invitation.invitedById),
    }),
  }),
});

const CreateInvitationInput = builder.inputType('CreateInvitationInput', {
  description: 'Who to invite to which tenant, with which role, for how long.',
  fields: (t) => ({
    tenantId: t.id({ required: true }),
    email: t.string({ required: true }),
    role: t.string({ required: true, description: 'A role name of the realm catalog; not owner (see transferTenantOwnership).' }),
    expiresInDays: t.int({ required: false, defaultValue: 7, description: '1 to 30; 7 by default.' }),
  }),
});
const RevokeInvitationInput = builder.inputType('RevokeInvitationInput', { description: 'The invitation to revoke.', fields: (t) => ({ invitationId: t.id({ required: true }) }) });
const AcceptInvitationInput = builder.inputType('AcceptInvitationInput', {
  description: 'The invitation to accept, by the token its email carried.',
  fields: (t) => ({ token: t.string({ required: true, description: 'The token from the invitation link.' }) }),
});

const CreateInvitationPayload = builder.objectRef<{ invitation: Invitation; token: string; delivered: boolean }>('CreateInvitationPayload').implement({
  description: 'The invitation, its token (shown once) and whether its email went out.',
  fields: (t) => ({
    invitation: t.field({ type: InvitationRef, resolve: (p) => p.invitation }),
    token: t.exposeString('token', { description: 'Shown once: only its hash is stored. The invitee gets it by email.' }),
    delivered: t.exposeBoolean('delivered', {
      description: 'Whether the email was handed to the mail service. When false the invitation still stands: pass the token on or revoke it.',
    }),
  }),
});
const RevokeInvitationPayload = builder.objectRef<{ invitation: Invitation }>('RevokeInvitationPayload').implement({
  description: 'The invitation, now REVOKED.',
  fields: (t) => ({ invitation: t.field({ type: InvitationRef, resolve: (p) => p.invitation }) }),
});
const AcceptInvitationPayload = builder.objectRef<{ invitation: Invitation; membership: Membership }>('AcceptInvitationPayload').implement({
  description: 'The accepted invitation and the membership it made.',
  fields: (t) => ({
    invitation: t.field({ type: InvitationRef, resolve: (p) => p.invitation }),
    membership: t.field({ type: MembershipRef, description: 'The viewer’s new membership.', resolve: (p) => p.membership }),
  }),
});

const InvitationConnection = connectionType(InvitationRef, 'Invitation');

builder.queryField('invitations', (t) =>
  t.prismaConnection(
    {
      type: 'Invitation',
      cursor: 'id',
      description: 'A tenant’s invitations, newest first. Needs invitations:manage in the tenant.',
      args: {
        tenantId: t.arg.id({ required: true, description: 'The tenant.' }),
        status: t.arg({ type: InvitationStatus, required: false, description: 'Only invitations in this state; all when omitted.' }),
      },
      ...fromListing((args: { tenantId: string | number; status?: InvitationState | null }, ctx) =>
        ctx.services.invitations.list({ tenantId: String(args.tenantId), status: args.status }, ctx.caller),
      ),
    },
    InvitationConnection,
  ),
);

builder.mutationFields((t) => ({
  createInvitation: t.field({
    type: CreateInvitationPayload,
    description: 'Invites an email address to a tenant and emails it a link. Replaces a pending invitation for the same address. Needs invitations:manage.',
    args: { input: t.arg({ type: CreateInvitationInput, required: true }) },
    resolve: (_r, { input }, ctx) => ctx.services.invitations.create({ ...input, tenantId: String(input.tenantId) }, ctx.caller),
  }),
  revokeInvitation: t.field({
    type: RevokeInvitationPayload,
    description: 'Revokes a pending invitation. Needs invitations:manage in its tenant.',
    args: { input: t.arg({ type: RevokeInvitationInput, required: true }) },
    resolve: async (_r, { input }, ctx) => ({
      invitation: await ctx.services.invitations.revoke({ invitationId: String(input.invitationId) }, ctx.caller),
    }),
  }),
  acceptInvitation: t.field({
    type: AcceptInvitationPayload,
    description: 'Joins the viewer to the tenant with the invited role. The viewer’s verified email must be the invited one.',
    args: { input: t.arg({ type: AcceptInvitationInput, required: true }) },
    resolve: (_r, { input }, ctx) => ctx.services.invitations.accept(input, ctx.caller),
  }),
}));
