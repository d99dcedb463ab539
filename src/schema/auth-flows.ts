import { AuthPayload, MfaFactorRef } from './auth.js';
import { builder } from './builder.js';

// Code, link, recovery, profile, MFA and identity mutations. Each resolver hands
// its input to the auth service, which calls the identity provider.

const OtpType = builder.enumType('OtpType', {
  description: 'What a code or link sent by email or SMS was for (GoTrue’s verify types).',
  values: {
    SIGNUP: { value: 'signup' },
    INVITE: { value: 'invite' },
    MAGICLINK: { value: 'magiclink' },
    RECOVERY: { value: 'recovery' },
    EMAIL_CHANGE: { value: 'email_change' },
    SMS: { value: 'sms' },
    PHONE_CHANGE: { value: 'phone_change' },
    EMAIL: { value: 'email' },
  } as const,
});
const ResendType = builder.enumType('ResendType', {
  description: 'Which confirmation to resend.',
  values: { SIGNUP: { value: 'signup' }, EMAIL_CHANGE: { value: 'email_change' }, SMS: { value: 'sms' }, PHONE_CHANGE: { value: 'phone_change' } } as const,
});
const EnrollFactorType = builder.enumType('EnrollFactorType', { description: 'The kinds of factor enrollFactor can add.', values: { TOTP: { value: 'totp' }, PHONE: { value: 'phone' } } as const });

const AcceptedPayload = builder.objectRef<{ accepted: true }>('AcceptedPayload').implement({
  description: 'The request was taken. Answers are the same whether or not an account exists.',
  fields: (t) => ({ accepted: t.exposeBoolean('accepted') }),
});
const accepted = { accepted: true as const };

const SendOtpInput = builder.inputType('SendOtpInput', {
  description: 'Where to send a sign-in code: an email address or a phone number.',
  fields: (t) => ({
    email: t.string({ required: false }),
    phone: t.string({ required: false }),
    createUser: t.boolean({ required: false, defaultValue: true, description: 'Sign unknown addresses up (default true).' }),
  }),
});
const VerifyOtpInput = builder.inputType('VerifyOtpInput', {
  description: 'A code (or the token of a link) sent by email or SMS, and what it was for.',
  fields: (t) => ({
    email: t.string({ required: false }),
    phone: t.string({ required: false }),
    token: t.string({ required: true }),
    type: t.field({ type: OtpType, required: true }),
  }),
});
const EmailInput = builder.inputType('EmailInput', { description: 'An email address.', fields: (t) => ({ email: t.string({ required: true }) }) });
const ResendConfirmationInput = builder.inputType('ResendConfirmationInput', {
  description: 'Where to resend a confirmation code or link, and for what.',
  fields: (t) => ({
    email: t.string({ required: false }),
    phone: t.string({ required: false }),
    type: t.field({ type: ResendType, required: true, defaultValue: 'signup' }),
  }),
});
const UpdateViewerInput = builder.inputType('UpdateViewerInput', {
  description: 'What to change on the viewer’s account; omitted fields stay.',
  fields: (t) => ({
    email: t.string({ required: false }),
    phone: t.string({ required: false }),
    password: t.string({ required: false }),
    nonce: t.string({ required: false, description: 'The code from reauthenticate, when a password change needs it.' }),
    data: t.field({ type: 'JSON', required: false, description: 'Merged into user_metadata; null values delete keys.' }),
  }),
});
const SignInWithIdTokenInput = builder.inputType('SignInWithIdTokenInput', {
  description: 'An id_token from a configured OIDC issuer.',
  fields: (t) => ({
    provider: t.string({ required: true, description: 'A configured issuer name (AUTH_OIDC_ISSUERS).' }),
    token: t.string({ required: true }),
    nonce: t.string({ required: false, description: 'The raw nonce whose sha256 the id_token carries.' }),
    tenantId: t.id({ required: false }),
  }),
});
const EnrollFactorInput = builder.inputType('EnrollFactorInput', {
  description: 'The factor to enroll: TOTP (an authenticator app) or PHONE (codes by SMS to phone).',
  fields: (t) => ({
    factorType: t.field({ type: EnrollFactorType, required: true }),
    friendlyName: t.string({ required: false }),
    phone: t.string({ required: false }),
  }),
});
const FactorInput = builder.inputType('FactorInput', { description: 'One of the viewer’s MFA factors.', fields: (t) => ({ factorId: t.id({ required: true }) }) });
const VerifyFactorInput = builder.inputType('VerifyFactorInput', {
  description: 'The factor, the open challenge and the code it got.',
  fields: (t) => ({ factorId: t.id({ required: true }), challengeId: t.id({ required: true }), code: t.string({ required: true }) }),
});
const IdentityInput = builder.inputType('IdentityInput', { description: 'One of the viewer’s identities.', fields: (t) => ({ identityId: t.id({ required: true }) }) });
const SessionInput = builder.inputType('SessionInput', { description: 'One of the viewer’s sessions.', fields: (t) => ({ sessionId: t.id({ required: true }) }) });
const LinkIdentityInput = builder.inputType('LinkIdentityInput', {
  description: 'An id_token of an external identity to add to the viewer.',
  fields: (t) => ({
    provider: t.string({ required: true, description: 'A configured issuer name (AUTH_OIDC_ISSUERS).' }),
    token: t.string({ required: true, description: 'An id_token for the identity to add.' }),
    nonce: t.string({ required: false }),
  }),
});

const TotpEnrollment = builder.objectRef<{ qr_code: string; secret: string; uri: string }>('TotpEnrollment').implement({
  description: 'What an authenticator app needs: the secret, its otpauth URI and a QR code of it. Shown once.',
  fields: (t) => ({ qrCode: t.exposeString('qr_code'), secret: t.exposeString('secret'), uri: t.exposeString('uri') }),
});
interface Enrollment {
  id: string;
  type: string;
  friendly_name?: string;
  totp?: { qr_code: string; secret: string; uri: string };
}
const EnrollFactorPayload = builder.objectRef<Enrollment>('EnrollFactorPayload').implement({
  description: 'The enrolled factor, UNVERIFIED until a challenge on it is verified; for TOTP, the secret to scan.',
  fields: (t) => ({
    factor: t.field({
      type: MfaFactorRef,
      resolve: (e) => ({
        id: e.id,
        factor_type: e.type as 'totp' | 'phone',
        status: 'unverified' as const,
        friendly_name: e.friendly_name || undefined,
        phone: '',
        created_at: new Date().toISOString(),
        updated_at: new Date().toISOString(),
        last_challenged_at: null,
      }),
    }),
    totp: t.field({ type: TotpEnrollment, nullable: true, resolve: (e) => e.totp ?? null }),
  }),
});
const ChallengeFactorPayload = builder.objectRef<{ id: string; type: string; expires_at: number }>('ChallengeFactorPayload').implement({
  description: 'A challenge opened on a factor: answer it with verifyFactor before it expires.',
  fields: (t) => ({
    challengeId: t.exposeID('id'),
    expiresAt: t.field({ type: 'DateTime', description: 'When the challenge expires.', resolve: (c) => new Date(c.expires_at * 1000) }),
  }),
});
const UpdateViewerPayload = builder.objectRef<{ id: string }>('UpdateViewerPayload').implement({
  description: 'The viewer’s user after the change.',
  fields: (t) => ({
    user: t.prismaField({ type: 'User', nullable: true, resolve: (query, u, _args, ctx) => ctx.prisma.user.findUnique({ ...query, where: { id: u.id } }) }),
  }),
});

const signedIn = { authenticated: true } as const;

builder.mutationFields((t) => ({
  signInWithIdToken: t.field({
    type: AuthPayload,
    description: 'Exchanges an id_token from a configured OIDC issuer (Authentik, say) for an idgraph session.',
    args: { input: t.arg({ type: SignInWithIdTokenInput, required: true }) },
    resolve: (_r, { input }, ctx) =>
      ctx.services.auth.signInWithIdToken({ ...input, tenantId: input.tenantId ? String(input.tenantId) : null }, ctx.caller),
  }),
  sendOtp: t.field({
    type: AcceptedPayload,
    description: 'Sends a sign-in code by email or SMS (and signs unknown addresses up unless createUser is false). Answers the same whether or not an account exists.',
    args: { input: t.arg({ type: SendOtpInput, required: true }) },
    resolve: async (_r, { input }, ctx) => (await ctx.services.auth.sendOtp(input, ctx.caller), accepted),
  }),
  sendMagicLink: t.field({
    type: AcceptedPayload,
    description: 'Emails a sign-in link (and code); unknown addresses are not signed up.',
    args: { input: t.arg({ type: EmailInput, required: true }) },
    resolve: async (_r, { input }, ctx) => (await ctx.services.auth.sendMagicLink(input, ctx.caller), accepted),
  }),
  verifyOtp: t.field({
    type: AuthPayload,
    description: 'Signs in with a code or link token sent by email or SMS, for the purpose given by type.',
    args: { input: t.arg({ type: VerifyOtpInput, required: true }) },
    resolve: (_r, { input }, ctx) => ctx.services.auth.verifyOtp(input, ctx.caller),
  }),
  requestPasswordRecovery: t.field({
    type: AcceptedPayload,
    description: 'Emails a password recovery link. Answers the same whether or not an account exists.',
    args: { input: t.arg({ type: EmailInput, required: true }) },
    resolve: async (_r, { input }, ctx) => (await ctx.services.auth.requestPasswordRecovery(input, ctx.caller), accepted),
  }),
  resendConfirmation: t.field({
    type: AcceptedPayload,
    description: 'Sends the confirmation code or link of a sign-up or of an email or phone change again.',
    args: { input: t.arg({ type: ResendConfirmationInput, required: true }) },
    resolve: async (_r, { input }, ctx) => (await ctx.services.auth.resendConfirmation(input, ctx.caller), accepted),
  }),
  reauthenticate: t.field({
    type: AcceptedPayload,
    description: 'Sends the viewer a code (nonce) that a password change through updateViewer needs.',
    authScopes: signedIn,
    resolve: async (_r, _a, ctx) => (await ctx.services.auth.reauthenticate(ctx.caller), accepted),
  }),
  updateViewer: t.field({
    type: UpdateViewerPayload,
    description: 'Changes the viewer’s email, phone, password or user_metadata. A new email or phone may need confirming first (see resendConfirmation).',
    authScopes: signedIn,
    args: { input: t.arg({ type: UpdateViewerInput, required: true }) },
    resolve: (_r, { input }, ctx) =>
      ctx.services.auth.updateViewer({ ...input, data: (input.data as Record<string, unknown> | null | undefined) ?? null }, ctx.caller),
  }),
  enrollFactor: t.field({
    type: EnrollFactorPayload,
    description: 'Adds an MFA factor (TOTP or phone), unverified until a challenge on it is verified.',
    authScopes: signedIn,
    args: { input: t.arg({ type: EnrollFactorInput, required: true }) },
    resolve: (_r, { input }, ctx) => ctx.services.auth.enrollFactor(input, ctx.caller),
  }),
  challengeFactor: t.field({
    type: ChallengeFactorPayload,
    description: 'Opens a challenge on one of the viewer’s factors (sends the SMS for a phone factor).',
    authScopes: signedIn,
    args: { input: t.arg({ type: FactorInput, required: true }) },
    resolve: (_r, { input }, ctx) => ctx.services.auth.challengeFactor({ factorId: String(input.factorId) }, ctx.caller),
  }),
  verifyFactor: t.field({
    type: AuthPayload,
    description: 'Answers a challenge: the session reaches aal2 and new tokens are returned; the aal1 token is revoked.',
    authScopes: signedIn,
    args: { input: t.arg({ type: VerifyFactorInput, required: true }) },
    resolve: (_r, { input }, ctx) =>
      ctx.services.auth.verifyFactor({ factorId: String(input.factorId), challengeId: String(input.challengeId), code: input.code }, ctx.caller),
  }),
  unenrollFactor: t.field({
    type: AcceptedPayload,
    description: 'Removes one of the viewer’s factors; sessions that passed MFA with it drop to aal1.',
    authScopes: signedIn,
    args: { input: t.arg({ type: FactorInput, required: true }) },
    resolve: async (_r, { input }, ctx) => (await ctx.services.auth.unenrollFactor({ factorId: String(input.factorId) }, ctx.caller), accepted),
  }),
  linkIdentity: t.field({
    type: UpdateViewerPayload,
    description: 'Adds an external identity (an id_token of a configured issuer) to the viewer’s account.',
    authScopes: signedIn,
    args: { input: t.arg({ type: LinkIdentityInput, required: true }) },
    resolve: (_r, { input }, ctx) => ctx.services.auth.linkIdentity(input, ctx.caller),
  }),
  revokeSession: t.field({
    type: AcceptedPayload,
    description: 'Ends one of the viewer’s sessions; its tokens are refused from now on.',
    authScopes: signedIn,
    args: { input: t.arg({ type: SessionInput, required: true }) },
    resolve: async (_r, { input }, ctx) => (await ctx.services.auth.revokeSession({ sessionId: String(input.sessionId) }, ctx.caller), accepted),
  }),
  unlinkIdentity: t.field({
    type: AcceptedPayload,
    description: 'Removes an identity from the viewer’s account (not the last one).',
    authScopes: signedIn,
    args: { input: t.arg({ type: IdentityInput, required: true }) },
    resolve: async (_r, { input }, ctx) => (await ctx.services.auth.unlinkIdentity({ identityId: String(input.identityId) }, ctx.caller), accepted),
  }),
}));
