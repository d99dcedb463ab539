import { MfaFactorRef } from './auth.js';
import { builder } from './builder.js';
import { IdentityRef } from './identity.js';
import { AuthenticatorAssuranceLevel, SessionRef } from './session.js';

const ViewerRef = builder.objectRef<NonNullable<import('../auth/viewer.js').Viewer>>('Viewer').implement({
  description: 'The caller, as their access token describes them.',
  fields: (t) => ({
    userId: t.exposeID('userId'),
    sessionId: t.exposeID('sessionId', { nullable: true }),
    aal: t.expose('aal', { type: AuthenticatorAssuranceLevel }),
    mfaAt: t.expose('mfaAt', { type: 'DateTime', nullable: true, description: 'When the caller last passed MFA in this session.' }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime', description: 'When the access token expires.' }),
    user: t.prismaField({
      type: 'User',
      nullable: true,
      resolve: (query, viewer, _args, ctx) => ctx.prisma.user.findUnique({ ...query, where: { id: viewer.userId } }),
    }),
    activeTenant: t.prismaField({
      type: 'Tenant',
      nullable: true,
      description: 'The tenant the access token acts in (tenant_id), while the viewer is still a member.',
      resolve: (query, viewer, _args, ctx) =>
        viewer.tenantId
          ? ctx.prisma.tenant.findFirst({ ...query, where: { id: viewer.tenantId, deletedAt: null, memberships: { some: { userId: viewer.userId } } } })
          : null,
    }),
    tenantRoleClaim: t.exposeString('tenantRole', {
      nullable: true,
      description:
        'The tenant_role claim of the access token: the role name in the active tenant when the token was minted (it changes on the next refresh). The current role is memberships { role }.',
    }),
    memberships: t.prismaField({
      type: ['Membership'],
      description: 'The tenants the viewer belongs to, with their role in each (an API key sees only its own tenant).',
      resolve: (query, viewer, _args, ctx) =>
        ctx.prisma.membership.findMany({
          ...query,
          where: { userId: viewer.userId, tenant: { deletedAt: null }, ...(viewer.apiKey ? { tenantId: viewer.apiKey.tenantId } : {}) },
          orderBy: { createdAt: 'asc' },
        }),
    }),
    sessions: t.field({
      type: [SessionRef],
      resolve: (_viewer, _args, ctx) => ctx.services.auth.sessions(ctx.caller),
    }),
    factors: t.field({
      type: [MfaFactorRef],
      resolve: async (_viewer, _args, ctx) => (await ctx.services.auth.providerUser(ctx.caller)).factors ?? [],
    }),
    identities: t.field({
      type: [IdentityRef],
      resolve: async (_viewer, _args, ctx) => (await ctx.services.auth.providerUser(ctx.caller)).identities,
    }),
  }),
});

builder.queryField('viewer', (t) =>
  t.field({
    type: ViewerRef,
    nullable: true,
    description: 'The authenticated caller; null for anonymous requests.',
    resolve: (_root, _args, ctx) => ctx.viewer,
  }),
);
