import type { SessionInfo } from '../identity/provider.js';
import { builder } from './builder.js';

export const SessionRef = builder.objectRef<SessionInfo>('Session').implement({
  description: 'A signed-in session of the viewer (a device or browser).',
  fields: (t) => ({
    id: t.exposeID('id'),
    aal: t.field({ type: 'String', resolve: (s) => s.aal.toUpperCase() }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    refreshedAt: t.expose('refreshedAt', { type: 'DateTime', nullable: true }),
    ip: t.exposeString('ip', { nullable: true }),
    userAgent: t.exposeString('userAgent', { nullable: true }),
    current: t.boolean({ resolve: (s, _args, ctx) => s.id === ctx.viewer?.sessionId }),
  }),
});
