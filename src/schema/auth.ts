import type { Factor } from '../identity/types.js';
import type { AuthResult } from '../services/auth.js';
import { builder } from './builder.js';

const FactorType = builder.enumType('FactorType', {
  description: 'The kind of an MFA factor.',
  values: { TOTP: { value: 'totp' }, PHONE: { value: 'phone' }, WEBAUTHN: { value: 'webauthn' } } as const,
});
const FactorStatus = builder.enumType('FactorStatus', {
  description: 'UNVERIFIED until a challenge on the factor is verified once.',
  values: { UNVERIFIED: { value: 'unverified' }, VERIFIED: { value: 'verified' } } as const,
});
/** How to send a token: `Authorization: Bearer <token>` (OAuth's token_type, "bearer" on the wire). */
export const TokenType = builder.enumType('TokenType', {
  description: 'How to present a token: BEARER is `Authorization: Bearer <token>`.',
  values: { BEARER: { value: 'bearer' } } as const,
});
export const SignOutScope = builder.enumType('SignOutScope', {
  description: 'LOCAL ends this session, GLOBAL every session of the user, OTHERS every session but this one.',
  values: { LOCAL: { value: 'local' }, GLOBAL: { value: 'global' }, OTHERS: { value: 'others' } } as const,
});

export const MfaFactorRef = builder.objectRef<Factor>('MfaFactor').implement({
  description: 'A second factor of the viewer (TOTP app or phone).',
  fields: (t) => ({
    id: t.exposeID('id'),
    factorType: t.expose('factor_type', { type: FactorType }),
    status: t.expose('status', { type: FactorStatus }),
    friendlyName: t.exposeString('friendly_name', { nullable: true }),
    createdAt: t.field({ type: 'DateTime', resolve: (f) => new Date(f.created_at) }),
  }),
});

type SessionShape = NonNullable<AuthResult['session']>;

const AuthSession = builder.objectRef<SessionShape>('AuthSession').implement({
  description: 'Tokens for the signed-in user. Keep the refresh token secret; it rotates on every refresh.',
  fields: (t) => ({
    accessToken: t.exposeString('access_token'),
    refreshToken: t.exposeString('refresh_token'),
    expiresIn: t.exposeInt('expires_in', { description: 'Seconds until the access token expires, as OAuth gives it.' }),
    expiresAt: t.field({ type: 'DateTime', description: 'When the access token expires.', resolve: (s) => new Date(s.expires_at * 1000) }),
    tokenType: t.expose('token_type', { type: TokenType }),
  }),
});

const MfaRequirement = builder.objectRef<Factor[]>('MfaRequirement').implement({
  description: 'Whether the session must still pass MFA, and the factors it can use.',
  fields: (t) => ({
    required: t.boolean({ resolve: (factors) => factors.length > 0 }),
    challengeFactors: t.field({ type: [MfaFactorRef], resolve: (factors) => factors }),
  }),
});

export const AuthPayload = builder.objectRef<AuthResult>('AuthPayload').implement({
  description: 'The result of a sign-in, sign-up, refresh or MFA step: the session (when there is one), its user and their tenants.',
  fields: (t) => ({
    session: t.field({ type: AuthSession, nullable: true, description: 'Null while a sign-up awaits confirmation.', resolve: (r) => r.session }),
    user: t.prismaField({
      type: 'User',
      nullable: true,
      resolve: (query, r, _args, ctx) => (r.session && r.user ? ctx.prisma.user.findUnique({ ...query, where: { id: r.user.id } }) : null),
    }),
    tenants: t.prismaField({
      type: ['Tenant'],
      description: 'The tenants the user belongs to.',
      resolve: (query, r, _args, ctx) =>
        r.session ? ctx.prisma.tenant.findMany({ ...query, where: { id: { in: r.tenants.map((m) => m.id) } }, orderBy: { createdAt: 'asc' } }) : [],
    }),
    mfa: t.field({
      type: MfaRequirement,
      description: 'When required, the session is aal1: challenge and verify a factor to reach aal2.',
      resolve: (r) => r.challengeFactors,
    }),
  }),
});

const SignUpInput = builder.inputType('SignUpInput', {
  description: 'A new account: an email or a phone, a password, and optional user_metadata.',
  fields: (t) => ({
    email: t.string({ required: false }),
    phone: t.string({ required: false }),
    password: t.string({ required: true }),
    data: t.field({ type: 'JSON', required: false, description: 'user_metadata for the new user.' }),
  }),
});

const SignInInput = builder.inputType('SignInInput', {
  description: 'Credentials: an email or a phone, and the password.',
  fields: (t) => ({
    email: t.string({ required: false }),
    phone: t.string({ required: false }),
    password: t.string({ required: true }),
    tenantId: t.id({ required: false, description: 'Act in this tenant (tenant_invalid unless a member).' }),
  }),
});

const RefreshSessionInput = builder.inputType('RefreshSessionInput', {
  description: 'The refresh token to exchange (it rotates), optionally switching tenant.',
  fields: (t) => ({
    refreshToken: t.string({ required: true }),
    tenantId: t.id({ required: false, description: 'Switch the session to this tenant.' }),
  }),
});

const SwitchTenantInput = builder.inputType('SwitchTenantInput', {
  description: 'The tenant the session should act in.',
  fields: (t) => ({
    tenantId: t.id({ required: true }),
    refreshToken: t.string({ required: true, description: 'The session’s refresh token: the new tokens are minted from it.' }),
    customClaims: t.field({
      type: 'JSON',
      required: false,
      description: 'Claims merged into the new tokens while the session acts in this tenant: names from AUTH_SWITCH_TENANT_CLAIMS, short scalar values.',
    }),
  }),
});

const SignOutInput = builder.inputType('SignOutInput', {
  description: 'Which sessions to end.',
  fields: (t) => ({ scope: t.field({ type: SignOutScope, required: true, defaultValue: 'local' }) }),
});

const SignOutPayload = builder.objectRef<{ scope: 'local' | 'global' | 'others' }>('SignOutPayload').implement({
  description: 'The sessions that were ended.',
  fields: (t) => ({ scope: t.expose('scope', { type: SignOutScope }) }),
});

builder.mutationFields((t) => ({
  signUp: t.field({
    type: AuthPayload,
    description: 'Creates an account with an email or phone and a password. The session is null while the address awaits confirmation (none is needed when the provider autoconfirms).',
    args: { input: t.arg({ type: SignUpInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      ctx.services.auth.signUp({ ...input, data: (input.data as Record<string, unknown> | null | undefined) ?? null }, ctx.caller),
  }),
  signIn: t.field({
    type: AuthPayload,
    description: 'Signs in with a password. With mfa.required, the session is aal1 until verifyFactor; with tenantId, the tokens act in that tenant.',
    args: { input: t.arg({ type: SignInInput, required: true }) },
    resolve: (_root, { input }, ctx) => ctx.services.auth.signIn({ ...input, tenantId: input.tenantId ? String(input.tenantId) : null }, ctx.caller),
  }),
  switchTenant: t.field({
    type: AuthPayload,
    authScopes: { authenticated: true },
    description: 'New tokens whose tenant_id / tenant_role name another tenant the viewer belongs to.',
    args: { input: t.arg({ type: SwitchTenantInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      ctx.services.auth.switchTenant({ tenantId: String(input.tenantId), refreshToken: input.refreshToken, customClaims: input.customClaims }, ctx.caller),
  }),
  refreshSession: t.field({
    type: AuthPayload,
    description: 'Exchanges a refresh token for new tokens; the refresh token rotates, and reusing an old one ends the session.',
    args: { input: t.arg({ type: RefreshSessionInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      ctx.services.auth.refreshSession({ ...input, tenantId: input.tenantId ? String(input.tenantId) : null }, ctx.caller),
  }),
  signOut: t.field({
    type: SignOutPayload,
    description: 'Ends this session, every session of the user (GLOBAL) or every other one (OTHERS); their tokens are refused from now on.',
    authScopes: { authenticated: true },
    args: { input: t.arg({ type: SignOutInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      await ctx.services.auth.signOut(input.scope, ctx.caller);
      return { scope: input.scope };
    },
  }),
}));
