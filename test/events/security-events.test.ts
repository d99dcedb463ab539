import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import {
  ChallengeFactorDocument,
  EnrollFactorDocument,
  RevokeSessionDocument,
  SignOutDocument,
  UnenrollFactorDocument,
  UpdateViewerDocument,
  VerifyFactorDocument,
  VerifyOtpDocument,
  ViewerSessionsDocument,
} from '../generated/graphql.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { adminClient, authClient, claimsOf, lastMessage, uniqueEmail } from '../helpers/auth.js';
import { seedTenant, signIn, signInRealmAdmin, type SignedIn } from '../helpers/realm.js';
import { overHttp as overHttpOn, securityWatch, totpCode } from '../helpers/security-events.js';

// Sessions ended, factors enrolled or removed, credentials changed: each action on each surface (GraphQL over
// real HTTP, @supabase/auth-js against /auth/v1, its admin API) appends one event of its type on the user's
// aggregate, which the user's own viewerSecurityEvents stream delivers live and nobody else's does.

let t: TestApp;
let streams: Awaited<ReturnType<typeof securityWatch>>;
const password = 'correct-horse-1';

beforeAll(async () => {
  // Without autoconfirm, email and phone changes wait for a code: both the request and the confirmation show.
  t = await startTestApp({ env: { SUBSCRIPTION_RECHECK_SECONDS: '1', AUTH_AUTOCONFIRM: 'false' } });
  streams = await securityWatch(t, await newUser());
});
afterEach(() => streams.dispose());
afterAll(async () => {
  await streams.close();
  await t.close();
});

/** A confirmed user (created through the admin API), signed in through GraphQL. */
async function newUser(): Promise<SignedIn> {
  const email = uniqueEmail('security');
  const { error } = await adminClient(t).createUser({ email, password, email_confirm: true });
  if (error) throw error;
  return signIn(t, { email, password });
}

/** A user's auth-js client, signed in (a session of its own). */
async function authJsSession(user: { email: string }): Promise<ReturnType<typeof authClient>> {
  const client = authClient(t);
  const { error } = await client.signInWithPassword({ email: user.email, password });
  if (error) throw error;
  return client;
}

const watch = (user: SignedIn) => streams.watch(user);
const expectRecordedOnce: typeof streams.expectRecordedOnce = (...args) => streams.expectRecordedOnce(...args);
const overHttp = <R, V extends Record<string, unknown>>(document: TypedDocumentNode<R, V>, variables: V, accessToken: string) =>
  overHttpOn(t, document, variables, accessToken);

describe('GraphQL mutations (real HTTP)', () => {
  it.each(['LOCAL', 'OTHERS', 'GLOBAL'] as const)('signOut %s: user.signed_out with its scope', async (scope) => {
    const user = await newUser();
    const stream = await watch(user);
    await overHttp(SignOutDocument, { input: { scope } }, user.accessToken);
    await expectRecordedOnce(user, stream, 'user.signed_out', {
      actor: 'user',
      payload: { scope: scope.toLowerCase() },
      secrets: [user.accessToken, user.refreshToken, password],
    });
  });

  it('revokeSession: user.session_revoked naming the session', async () => {
    const user = await newUser();
    const stream = await watch(user);
    const other = await signIn(t, user);
    const sessions = (await overHttp(ViewerSessionsDocument, {}, user.accessToken)).viewer!.sessions;
    const otherSessionId = claimsOf(other.accessToken).session_id as string;
    expect(sessions.map((s) => s.id)).toContain(otherSessionId);
    await overHttp(RevokeSessionDocument, { input: { sessionId: otherSessionId } }, user.accessToken);
    await expectRecordedOnce(user, stream, 'user.session_revoked', {
      actor: 'user',
      payload: { sessionId: otherSessionId },
      secrets: [other.accessToken, other.refreshToken],
    });
  });

  it('a factor verified for the first time is enrolled once (a later sign-in step is not); unenrolling removes it', async () => {
    const user = await newUser();
    const stream = await watch(user);
    const { factor, totp } = (await overHttp(EnrollFactorDocument, { input: { factorType: 'TOTP', friendlyName: 'phone' } }, user.accessToken)).enrollFactor;
    const verify = async (accessToken: string, offsetSeconds: number) => {
      const { challengeId } = (await overHttp(ChallengeFactorDocument, { input: { factorId: factor.id } }, accessToken)).challengeFactor;
      const code = totpCode(totp!.secret, offsetSeconds);
      const session = (await overHttp(VerifyFactorDocument, { input: { factorId: factor.id, challengeId, code } }, accessToken)).verifyFactor.session!;
      return { code, session };
    };
    const first = await verify(user.accessToken, 0);
    const enrolledSecrets = [totp!.secret, totp!.uri, first.code, first.session.accessToken, first.session.refreshToken];
    await expectRecordedOnce(user, stream, 'user.factor_enrolled', { actor: 'user', payload: { factorId: factor.id, factorType: 'totp' }, secrets: enrolledSecrets });

    // A second verification (a new aal2 step on another session) is a sign-in step, not an enrollment.
    const again = await verify((await signIn(t, user)).accessToken, 30);
    expect(await t.app.db.prisma.event.count({ where: { aggregateId: user.userId, type: 'user.factor_enrolled' } })).toBe(1);

    // Reaching aal2 ended the sessions below it, the watcher's among them: watch again.
    const rewatched = await watch(user);
    await overHttp(UnenrollFactorDocument, { input: { factorId: factor.id } }, again.session.accessToken);
    await expectRecordedOnce(user, rewatched, 'user.factor_unenrolled', {
      actor: 'user',
      payload: { factorId: factor.id, factorType: 'totp' },
      secrets: [...enrolledSecrets, again.code],
    });
  });

  it('updateViewer: a password change; an email change requested, then confirmed with its code', async () => {
    const user = await newUser();
    const stream = await watch(user);
    const newPassword = 'another-horse-2';
    await overHttp(UpdateViewerDocument, { input: { password: newPassword } }, user.accessToken);
    await expectRecordedOnce(user, stream, 'user.password_changed', { actor: 'user', secrets: [newPassword, password] });

    // The password change ended the watcher's session: watch again.
    const again = await watch({ ...user, password: newPassword });
    const newEmail = uniqueEmail('moved');
    await overHttp(UpdateViewerDocument, { input: { email: newEmail } }, user.accessToken);
    await expectRecordedOnce(user, again, 'user.email_change_requested', { actor: 'user', secrets: [] });
    const { code } = await lastMessage(t, newEmail);
    const confirmed = (await overHttp(VerifyOtpDocument, { input: { email: newEmail, token: code!, type: 'EMAIL_CHANGE' } }, user.accessToken)).verifyOtp;
    await expectRecordedOnce(user, again, 'user.email_changed', { actor: 'user', secrets: [code!, confirmed.session!.accessToken, confirmed.session!.refreshToken] });
  });

  it('updateViewer: a phone change requested, then confirmed with its code', async () => {
    const user = await newUser();
    const stream = await watch(user);
    const phone = `+1555${String(Date.now()).slice(-7)}`;
    await overHttp(UpdateViewerDocument, { input: { phone } }, user.accessToken);
    await expectRecordedOnce(user, stream, 'user.phone_change_requested', { actor: 'user', secrets: [] });
    const { code } = await lastMessage(t, phone);
    await overHttp(VerifyOtpDocument, { input: { phone, token: code!, type: 'PHONE_CHANGE' } }, user.accessToken);
    await expectRecordedOnce(user, stream, 'user.phone_changed', { actor: 'user', secrets: [code!] });
  });
});

describe('@supabase/auth-js against /auth/v1', () => {
  it.each(['local', 'others', 'global'] as const)('signOut %s: user.signed_out with its scope', async (scope) => {
    const user = await newUser();
    const stream = await watch(user);
    const client = await authJsSession(user);
    const { data } = await client.getSession();
    const { error } = await client.signOut({ scope });
    expect(error).toBeNull();
    await expectRecordedOnce(user, stream, 'user.signed_out', {
      actor: 'user',
      payload: { scope },
      secrets: [data.session!.access_token, data.session!.refresh_token, password],
    });
  });

  it('mfa: enroll then verify is enrolled once; unenroll removes it', async () => {
    const user = await newUser();
    const stream = await watch(user);
    const client = await authJsSession(user);
    const { data: enrolled, error } = await client.mfa.enroll({ factorType: 'totp', friendlyName: 'phone app' });
    expect(error).toBeNull();
    const secret = (enrolled as { totp: { secret: string } }).totp.secret;
    const code = totpCode(secret);
    const { error: verifyError } = await client.mfa.challengeAndVerify({ factorId: enrolled!.id, code });
    expect(verifyError).toBeNull();
    const secrets = [secret, code, (await client.getSession()).data.session!.access_token];
    await expectRecordedOnce(user, stream, 'user.factor_enrolled', { actor: 'user', payload: { factorId: enrolled!.id, factorType: 'totp' }, secrets });

    // Reaching aal2 ended the sessions below it, the watcher's among them: watch again.
    const rewatched = await watch(user);
    const { error: unenrollError } = await client.mfa.unenroll({ factorId: enrolled!.id });
    expect(unenrollError).toBeNull();
    await expectRecordedOnce(user, rewatched, 'user.factor_unenrolled', { actor: 'user', payload: { factorId: enrolled!.id }, secrets });
  });

  it('a password reset through recovery: the new password is recorded as changed', async () => {
    const user = await newUser();
    const stream = await watch(user);
    const client = authClient(t);
    await client.resetPasswordForEmail(user.email);
    const { code } = await lastMessage(t, user.email);
    const { error } = await client.verifyOtp({ email: user.email, token: code!, type: 'recovery' });
    expect(error).toBeNull();
    const newPassword = 'recovered-horse-3';
    expect((await client.updateUser({ password: newPassword })).error).toBeNull();
    await expectRecordedOnce(user, stream, 'user.password_changed', { actor: 'user', secrets: [code!, newPassword, password] });
  });

  it('an email change: requested, then confirmed', async () => {
    const user = await newUser();
    const stream = await watch(user);
    const client = await authJsSession(user);
    const newEmail = uniqueEmail('moved-js');
    expect((await client.updateUser({ email: newEmail })).error).toBeNull();
    await expectRecordedOnce(user, stream, 'user.email_change_requested', { actor: 'user', secrets: [] });
    const { code } = await lastMessage(t, newEmail);
    expect((await client.verifyOtp({ email: newEmail, token: code!, type: 'email_change' })).error).toBeNull();
    await expectRecordedOnce(user, stream, 'user.email_changed', { actor: 'user', secrets: [code!] });
  });

  it('the admin API: a sign-out, a factor deletion, a password, an email and a ban, all without the admin as actor', async () => {
    const user = await newUser();
    let stream = await watch(user);
    const admin = adminClient(t);
    const client = await authJsSession(user);
    const { data: session } = await client.getSession();
    expect((await admin.signOut(session.session!.access_token, 'local')).error).toBeNull();
    await expectRecordedOnce(user, stream, 'user.sessions_revoked', {
      actor: 'admin',
      payload: { scope: 'local', reason: 'admin_sign_out' },
      secrets: [session.session!.access_token, t.apiKeys().serviceRole],
    });
    expect(await t.app.db.prisma.event.count({ where: { aggregateId: user.userId, type: 'user.signed_out' } })).toBe(0);

    const enrolledClient = await authJsSession(user);
    const { data: enrolled } = await enrolledClient.mfa.enroll({ factorType: 'totp' });
    const secret = (enrolled as { totp: { secret: string } }).totp.secret;
    expect((await enrolledClient.mfa.challengeAndVerify({ factorId: enrolled!.id, code: totpCode(secret) })).error).toBeNull();
    // Reaching aal2 ended the sessions below it, the watcher's among them: watch again.
    stream = await watch(user);
    expect((await admin.mfa.deleteFactor({ userId: user.userId, id: enrolled!.id })).error).toBeNull();
    await expectRecordedOnce(user, stream, 'user.factor_unenrolled', { actor: 'admin', payload: { factorId: enrolled!.id }, secrets: [secret] });

    const newPassword = 'admin-set-horse-4';
    const newEmail = uniqueEmail('admin-moved');
    expect((await admin.updateUserById(user.userId, { password: newPassword, email: newEmail })).error).toBeNull();
    await expectRecordedOnce(user, stream, 'user.password_changed', { actor: 'admin', secrets: [newPassword] });
    await expectRecordedOnce(user, stream, 'user.email_changed', { actor: 'admin', secrets: [newPassword] });

    expect((await admin.updateUserById(user.userId, { ban_duration: '1h' })).error).toBeNull();
    await expectRecordedOnce(user, stream, 'user.sessions_revoked', { actor: 'admin', payload: { scope: 'global', reason: 'banned' }, secrets: [newPassword] });
  });
});

describe('auditEvents', () => {
  it('shows security events to the realm admin with their actor and address, and not to a tenant’s audit:read holder', async () => {
    const user = await newUser();
    await overHttp(SignOutDocument, { input: { scope: 'OTHERS' } }, user.accessToken);
    const event = await t.app.db.prisma.event.findFirstOrThrow({ where: { aggregateId: user.userId, type: 'user.signed_out' } });
    const audit = async (accessToken: string, filter: Record<string, unknown> | null) => {
      const response = await fetch(`${t.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${accessToken}` },
        body: JSON.stringify({
          query: 'query ($filter: AuditEventFilter) { auditEvents(last: 100, filter: $filter) { edges { node { position type ip } } } }',
          variables: { filter },
        }),
      });
      return (await response.json()) as { data?: { auditEvents: { edges: Array<{ node: { position: string; type: string; ip: string | null } }> } }; errors?: Array<{ extensions: { code: string } }> };
    };
    const admin = await signInRealmAdmin(t);
    const page = await audit(admin.accessToken, null);
    expect(page.errors, JSON.stringify(page.errors)).toBeUndefined();
    const seen = page.data!.auditEvents.edges.map((e) => e.node);
    expect(seen.find((n) => n.position === event.position.toString())).toMatchObject({ type: 'user.signed_out', ip: expect.stringMatching(/127\.0\.0\.1/) });

    // A tenant auditor reads their tenant's events: a user's account events belong to no tenant.
    const auditor = await newUser();
    const tenantId = (await seedTenant(t, auditor.userId)).id;
    const asOwner = await signIn(t, auditor, tenantId);
    const tenantPage = await audit(asOwner.accessToken, { tenantId });
    expect(tenantPage.errors).toBeUndefined();
    expect(tenantPage.data!.auditEvents.edges.some((e) => e.node.position === event.position.toString())).toBe(false);
    // And the user themself is no realm admin.
    expect((await audit(user.accessToken, null)).errors?.[0]?.extensions.code).toBe('forbidden');
  });
});
