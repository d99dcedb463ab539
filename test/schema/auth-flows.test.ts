import * as OTPAuth from 'otpauth';
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import {
  ChallengeFactorDocument,
  EnrollFactorDocument,
  ReauthenticateDocument,
  RequestPasswordRecoveryDocument,
  ResendConfirmationDocument,
  SendMagicLinkDocument,
  SendOtpDocument,
  SignInWithIdTokenDocument,
  SignUpDocument,
  UnenrollFactorDocument,
  UnlinkIdentityDocument,
  UpdateViewerDocument,
  VerifyFactorDocument,
  VerifyOtpDocument,
  ViewerDetailsDocument,
  ViewerDocument,
} from '../generated/graphql.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { lastMessage, uniqueEmail } from '../helpers/auth.js';
import { startOidcIssuer } from '../helpers/oidc-issuer.js';

let t: TestApp;
let idp: Awaited<ReturnType<typeof startOidcIssuer>>;
beforeAll(async () => {
  idp = await startOidcIssuer();
  t = await startTestApp({ env: { AUTH_OIDC_ISSUERS: JSON.stringify([{ provider: 'authentik', issuer: idp.issuer, audiences: ['idgraph-client'] }]) } });
});
afterAll(async () => {
  await t.close();
  await idp.close();
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

async function signedUp() {
  const email = uniqueEmail('flow');
  const { body } = await t.execute(SignUpDocument, { input: { email, password: 'correct-horse-1' } });
  return { email, token: body.data!.signUp.session!.accessToken, userId: body.data!.signUp.user!.id };
}

const totpCode = (secret: string) =>
  new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 }).generate();

describe('GraphQL: codes, links and recovery', () => {
  it('sendOtp then verifyOtp (EMAIL) signs in and mirrors the user', async () => {
    const email = uniqueEmail('otp');
    expect((await t.execute(SendOtpDocument, { input: { email } })).body.data?.sendOtp).toEqual({ accepted: true });
    const { code } = await lastMessage(t, email);
    const { body } = await t.execute(VerifyOtpDocument, { input: { email, token: code!, type: 'EMAIL' } });
    expect(body.errors).toBeUndefined();
    expect(body.data?.verifyOtp.user?.email).toBe(email);
    const wrong = await t.execute(VerifyOtpDocument, { input: { email, token: code!, type: 'EMAIL' } });
    expect(wrong.body.errors?.[0]?.extensions).toMatchObject({ code: 'invalid_otp', upstreamCode: 'otp_expired' });
  });

  it('sendMagicLink and requestPasswordRecovery answer the same for unknown addresses, and create nothing', async () => {
    const ghost = uniqueEmail('ghost');
    expect((await t.execute(SendMagicLinkDocument, { input: { email: ghost } })).body.data?.sendMagicLink).toEqual({ accepted: true });
    expect((await t.execute(RequestPasswordRecoveryDocument, { input: { email: ghost } })).body.data?.requestPasswordRecovery).toEqual({ accepted: true });
    expect(await t.app.db.prisma.authUser.count({ where: { email: ghost } })).toBe(0);
    const { email } = await signedUp();
    await t.execute(SendMagicLinkDocument, { input: { email } });
    expect((await lastMessage(t, email)).kind).toBe('magiclink');
  });

  it('resendConfirmation accepts (and sends nothing for confirmed addresses)', async () => {
    const { email } = await signedUp();
    const before = await t.app.db.prisma.authMessage.count({ where: { recipient: email } });
    expect((await t.execute(ResendConfirmationDocument, { input: { email, type: 'SIGNUP' } })).body.data?.resendConfirmation).toEqual({ accepted: true });
    expect(await t.app.db.prisma.authMessage.count({ where: { recipient: email } })).toBe(before);
  });
});

describe('GraphQL: the viewer’s own account', () => {
  it('updateViewer changes metadata and the mirrored display name; anonymous callers are refused', async () => {
    const { token, userId } = await signedUp();
    const { body } = await t.execute(UpdateViewerDocument, { input: { data: { name: 'Ada Lovelace' } } }, bearer(token));
    expect(body.data?.updateViewer.user).toMatchObject({ id: userId, displayName: 'Ada Lovelace' });
    const anonymous = await t.execute(UpdateViewerDocument, { input: { data: { name: 'x' } } });
    expect(anonymous.body.errors?.[0]?.extensions?.code).toBe('unauthenticated');
  });

  it('reauthenticate sends a nonce, over HTTP and over a real graphql-ws connection; anonymous is refused', async () => {
    const { token, email } = await signedUp();
    expect((await t.execute(ReauthenticateDocument, {}, bearer(token))).body.data?.reauthenticate).toEqual({ accepted: true });
    expect((await lastMessage(t, email)).kind).toBe('reauthentication');
    const client = createClient({ url: t.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization: `Bearer ${token}` } });
    const viaWs = await new Promise((resolve, reject) => {
      let data: unknown;
      client.subscribe({ query: 'mutation { reauthenticate { accepted } }' }, { next: (v) => (data = v.data), error: reject, complete: () => resolve(data) });
    });
    await client.dispose();
    expect(viaWs).toEqual({ reauthenticate: { accepted: true } });
    expect((await t.execute(ReauthenticateDocument)).body.errors?.[0]?.extensions?.code).toBe('unauthenticated');
  });

  it('viewer lists the user, factors and identities', async () => {
    const { token, userId, email } = await signedUp();
    const { body } = await t.execute(ViewerDetailsDocument, {}, bearer(token));
    expect(body.data?.viewer).toMatchObject({ userId, aal: 'AAL1', user: { id: userId, email }, factors: [] });
    expect(body.data?.viewer?.identities.map((i) => i.provider)).toEqual(['email']);
  });
});

describe('GraphQL: MFA', () => {
  it('enroll → challenge → verify gives an aal2 session; the aal1 token is revoked; unenroll at aal2 works', async () => {
    const { token } = await signedUp();
    const enrolled = await t.execute(EnrollFactorDocument, { input: { factorType: 'TOTP', friendlyName: 'phone' } }, bearer(token));
    expect(enrolled.body.errors).toBeUndefined();
    const { factor, totp } = enrolled.body.data!.enrollFactor;
    expect(factor).toMatchObject({ factorType: 'TOTP', status: 'UNVERIFIED', friendlyName: 'phone' });
    expect(totp?.qrCode).toMatch(/^<svg/);
    const challenge = await t.execute(ChallengeFactorDocument, { input: { factorId: factor.id } }, bearer(token));
    const challengeId = challenge.body.data!.challengeFactor.challengeId;
    const wrong = await t.execute(VerifyFactorDocument, { input: { factorId: factor.id, challengeId, code: '000000' === totpCode(totp!.secret) ? '111111' : '000000' } }, bearer(token));
    expect(wrong.body.errors?.[0]?.extensions).toMatchObject({ code: 'invalid_otp', upstreamCode: 'mfa_verification_failed' });
    const verified = await t.execute(VerifyFactorDocument, { input: { factorId: factor.id, challengeId, code: totpCode(totp!.secret) } }, bearer(token));
    expect(verified.body.errors).toBeUndefined();
    const aal2 = verified.body.data!.verifyFactor.session!.accessToken;
    const viewer = await t.execute(ViewerDetailsDocument, {}, bearer(aal2));
    expect(viewer.body.data?.viewer).toMatchObject({ aal: 'AAL2', factors: [{ id: factor.id, status: 'VERIFIED' }] });
    expect(viewer.body.data?.viewer?.mfaAt).toEqual(expect.any(String));
    expect((await t.execute(ViewerDocument, {}, bearer(token))).body.errors?.[0]?.extensions?.code).toBe('token_revoked');
    expect((await t.execute(UnenrollFactorDocument, { input: { factorId: factor.id } }, bearer(aal2))).body.data?.unenrollFactor).toEqual({ accepted: true });
  });

  it('signing in to an account with a verified factor reports mfa.required with the factors to challenge', async () => {
    const { token, email } = await signedUp();
    const { factor, totp } = (await t.execute(EnrollFactorDocument, { input: { factorType: 'TOTP' } }, bearer(token))).body.data!.enrollFactor;
    const challengeId = (await t.execute(ChallengeFactorDocument, { input: { factorId: factor.id } }, bearer(token))).body.data!.challengeFactor.challengeId;
    await t.execute(VerifyFactorDocument, { input: { factorId: factor.id, challengeId, code: totpCode(totp!.secret) } }, bearer(token));
    const { SignInDocument } = await import('../generated/graphql.js');
    const signIn = await t.execute(SignInDocument, { input: { email, password: 'correct-horse-1' } });
    expect(signIn.body.data?.signIn.mfa).toEqual({ required: true, challengeFactors: [{ id: factor.id, factorType: 'TOTP' }] });
  });

  it('MFA mutations refuse anonymous callers and another user’s factor', async () => {
    expect((await t.execute(EnrollFactorDocument, { input: { factorType: 'TOTP' } })).body.errors?.[0]?.extensions?.code).toBe('unauthenticated');
    const a = await signedUp();
    const b = await signedUp();
    const { factor } = (await t.execute(EnrollFactorDocument, { input: { factorType: 'TOTP' } }, bearer(a.token))).body.data!.enrollFactor;
    const foreign = await t.execute(ChallengeFactorDocument, { input: { factorId: factor.id } }, bearer(b.token));
    expect(foreign.body.errors?.[0]?.extensions).toMatchObject({ code: 'not_found', upstreamCode: 'mfa_factor_not_found' });
  });
});

describe('GraphQL: external identities', () => {
  it('signInWithIdToken exchanges an Authentik id_token; a bad one is provider_token_invalid', async () => {
    const email = uniqueEmail('idt');
    const token = await idp.idToken({ sub: `sub-${email}`, email, email_verified: true, nonce: idp.hashNonce('n-1') });
    const { body } = await t.execute(SignInWithIdTokenDocument, { input: { provider: 'authentik', token, nonce: 'n-1' } });
    expect(body.errors).toBeUndefined();
    expect(body.data?.signInWithIdToken.user?.email).toBe(email);
    const bad = await t.execute(SignInWithIdTokenDocument, { input: { provider: 'authentik', token: await idp.idToken({ sub: 'x', email }, { aud: 'other' }) } });
    expect(bad.body.errors?.[0]?.extensions?.code).toBe('provider_token_invalid');
  });

  it('unlinkIdentity refuses to remove the last identity', async () => {
    const { token } = await signedUp();
    const identities = (await t.execute(ViewerDetailsDocument, {}, bearer(token))).body.data!.viewer!.identities;
    const res = await t.execute(UnlinkIdentityDocument, { input: { identityId: identities[0]!.id } }, bearer(token));
    expect(res.body.errors?.[0]?.extensions).toMatchObject({ code: 'conflict', upstreamCode: 'single_identity_not_deletable' });
  });
});

describe('GraphQL: sessions and linked identities', () => {
  it('viewer.sessions lists the sessions; revokeSession ends another one and denies its token', async () => {
    const { SignInDocument, ViewerSessionsDocument, RevokeSessionDocument } = await import('../generated/graphql.js');
    const { token, email } = await signedUp();
    const other = (await t.execute(SignInDocument, { input: { email, password: 'correct-horse-1' } })).body.data!.signIn.session!.accessToken;
    const { body } = await t.execute(ViewerSessionsDocument, {}, bearer(token));
    const sessions = body.data!.viewer!.sessions;
    expect(sessions).toHaveLength(2);
    expect(sessions.filter((s) => s.current)).toHaveLength(1);
    const otherId = sessions.find((s) => !s.current)!.id;
    expect((await t.execute(RevokeSessionDocument, { input: { sessionId: otherId } }, bearer(token))).body.data?.revokeSession).toEqual({ accepted: true });
    expect((await t.execute(ViewerDocument, {}, bearer(other))).body.errors?.[0]?.extensions?.code).toBe('token_revoked');
    expect((await t.execute(ViewerDocument, {}, bearer(token))).body.data?.viewer).not.toBeNull();
  });

  it('revokeSession of someone else’s session is not_found, and anonymous is unauthenticated', async () => {
    const { RevokeSessionDocument, ViewerSessionsDocument } = await import('../generated/graphql.js');
    const a = await signedUp();
    const b = await signedUp();
    const bSession = (await t.execute(ViewerSessionsDocument, {}, bearer(b.token))).body.data!.viewer!.sessions[0]!.id;
    const refused = await t.execute(RevokeSessionDocument, { input: { sessionId: bSession } }, bearer(a.token));
    expect(refused.body.errors?.[0]?.extensions?.code).toBe('not_found');
    expect((await t.execute(ViewerDocument, {}, bearer(b.token))).body.data?.viewer).not.toBeNull();
    expect((await t.execute(RevokeSessionDocument, { input: { sessionId: bSession } })).body.errors?.[0]?.extensions?.code).toBe('unauthenticated');
  });

  it('linkIdentity adds an Authentik identity to the viewer', async () => {
    const { LinkIdentityDocument } = await import('../generated/graphql.js');
    const { token, userId } = await signedUp();
    const idToken = await idp.idToken({ sub: `link-${userId}`, email: uniqueEmail('linked') });
    const { body } = await t.execute(LinkIdentityDocument, { input: { provider: 'authentik', token: idToken } }, bearer(token));
    expect(body.data?.linkIdentity.user?.id).toBe(userId);
    const identities = (await t.execute(ViewerDetailsDocument, {}, bearer(token))).body.data!.viewer!.identities.map((i) => i.provider).sort();
    expect(identities).toEqual(['authentik', 'email']);
  });
});
