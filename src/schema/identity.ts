import type { Identity } from '../identity/types.js';
import { builder } from './builder.js';

export const IdentityRef = builder.objectRef<Identity>('Identity').implement({
  description: 'A way the user signs in: email, phone, or an external OIDC issuer.',
  fields: (t) => ({
    id: t.exposeID('identity_id'),
    provider: t.exposeString('provider'),
    email: t.exposeString('email', { nullable: true }),
    createdAt: t.field({ type: 'DateTime', resolve: (i) => new Date(i.created_at) }),
    lastSignInAt: t.field({ type: 'DateTime', nullable: true, resolve: (i) => (i.last_sign_in_at ? new Date(i.last_sign_in_at) : null) }),
  }),
});
