import type { Settings } from '../identity/types.js';
import { builder } from './builder.js';

const AuthSettings = builder.objectRef<Settings>('AuthSettings').implement({
  description: 'What the identity provider offers, for sign-in screens. Public.',
  fields: (t) => ({
    disableSignup: t.exposeBoolean('disable_signup'),
    emailAutoconfirm: t.exposeBoolean('mailer_autoconfirm'),
    phoneAutoconfirm: t.exposeBoolean('phone_autoconfirm'),
    mfaEnabled: t.boolean({ resolve: (s) => s.mfa_enabled ?? false }),
    providers: t.stringList({
      description: 'Enabled sign-in methods: email, phone and configured id_token issuers.',
      resolve: (s) => Object.entries(s.external).filter(([, on]) => on).map(([name]) => name),
    }),
  }),
});

builder.queryField('authSettings', (t) =>
  t.field({
    type: AuthSettings,
    description: 'The sign-in methods and sign-up rules of the identity provider, for sign-in screens. Public.',
    resolve: (_root, _args, ctx) => ctx.services.auth.settings(),
  }),
);
