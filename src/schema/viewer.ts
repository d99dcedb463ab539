import { builder } from './builder.js';

const AuthenticatorAssuranceLevel = builder.enumType('AuthenticatorAssuranceLevel', {
  values: { AAL1: { value: 'aal1' }, AAL2: { value: 'aal2' } } as const,
});

const ViewerRef = builder.objectRef<NonNullable<import('../auth/viewer.js').Viewer>>('Viewer').implement({
  description: 'The caller, as their access token describes them.',
  fields: (t) => ({
    userId: t.exposeID('userId'),
    sessionId: t.exposeID('sessionId', { nullable: true }),
    aal: t.expose('aal', { type: AuthenticatorAssuranceLevel }),
    mfaAt: t.expose('mfaAt', { type: 'DateTime', nullable: true, description: 'When the caller last passed MFA in this session.' }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime', description: 'When the access token expires.' }),
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
