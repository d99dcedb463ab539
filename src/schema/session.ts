import type { SessionInfo } from '../identity/provider.js';
import { builder } from './builder.js';

export const AuthenticatorAssuranceLevel = builder.enumType('AuthenticatorAssuranceLevel', {
  description: 'How strongly a session was authenticated: AAL1 a first factor (password, link, code), AAL2 also a second factor (MFA).',
  values: { AAL1: { value: 'aal1' }, AAL2: { value: 'aal2' } } as const,
});

export const SessionRef = builder.objectRef<SessionInfo>('Session').implement({
  description: 'A signed-in session of the viewer (a device or browser).',
  fields: (t) => ({
    id: t.exposeID('id'),
    aal: t.expose('aal', { type: AuthenticatorAssuranceLevel }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    refreshedAt: t.expose('refreshedAt', { type: 'DateTime', nullable: true }),
    ip: t.exposeString('ip', { nullable: true }),
    userAgent: t.exposeString('userAgent', { nullable: true }),
    current: t.boolean({ resolve: (s, _args, ctx) => s.id === ctx.viewer?.sessionId }),
  }),
});
