import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RefreshSessionDocument, SignInDocument, SignOutDocument, SignUpDocument, ViewerDocument } from '../generated/graphql.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { authClient, uniqueEmail } from '../helpers/auth.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.close());

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

async function signedUp() {
  const email = uniqueEmail('gql');
  const { body } = await t.execute(SignUpDocument, { input: { email, password: 'correct-horse-1' } });
  expect(body.errors).toBeUndefined();
  return { email, payload: body.data!.signUp };
}

describe('GraphQL authentication: signUp, signIn, refreshSession, signOut', () => {
  it('signUp returns a session, mirrors the user and records user.signed_up', async () => {
    const { email, payload } = await signedUp();
    expect(payload.session).toMatchObject({ tokenType: 'BEARER', expiresIn: 3600 });
    expect(payload.user).toMatchObject({ email, status: 'ACTIVE', phone: null });
    expect(payload.tenants).toEqual([]);
    expect(payload.mfa).toEqual({ required: false, challengeFactors: [] });
    const mirrored = await t.app.db.prisma.user.findUniqueOrThrow({ where: { id: payload.user!.id } });
    expect(mirrored.email).toBe(email);
    const events = await t.app.db.prisma.event.findMany({ where: { aggregateId: payload.user!.id } });
    expect(events.map((e) => e.type)).toEqual(['user.signed_up']);
    expect(JSON.stringify(events[0]!.payload)).not.toContain('correct-horse-1');
  });

  it('signIn returns a session usable as the viewer; the event is user.signed_in', async () => {
    const { email, payload: first } = await signedUp();
    const { body } = await t.execute(SignInDocument, { input: { email, password: 'correct-horse-1' } });
    expect(body.errors).toBeUndefined();
    const viewer = await t.execute(ViewerDocument, {}, bearer(body.data!.signIn.session!.accessToken));
    expect(viewer.body.data?.viewer?.userId).toBe(first.user!.id);
    const types = (await t.app.db.prisma.event.findMany({ where: { aggregateId: first.user!.id }, orderBy: { position: 'asc' } })).map((e) => e.type);
    expect(types).toEqual(['user.signed_up', 'user.signed_in']);
  });

  it('a wrong password and an unknown address get the same invalid_credentials error', async () => {
    const { email } = await signedUp();
    const wrong = await t.execute(SignInDocument, { input: { email, password: 'wrong-password' } });
    const unknown = await t.execute(SignInDocument, { input: { email: uniqueEmail('ghost'), password: 'wrong-password' } });
    for (const { body } of [wrong, unknown]) {
      expect(body.data ?? null).toBeNull();
      expect(body.errors?.[0]).toMatchObject({
        message: 'Invalid login credentials.',
        extensions: { code: 'invalid_credentials', upstreamCode: 'invalid_credentials' },
      });
    }
  });

  it('validation: both or neither of email and phone is bad_request; a weak password is weak_password with reasons', async () => {
    const both = await t.execute(SignInDocument, { input: { email: uniqueEmail(), phone: '+15551234567', password: 'x' } });
    expect(both.body.errors?.[0]?.extensions?.code).toBe('bad_request');
    const weak = await t.execute(SignUpDocument, { input: { email: uniqueEmail(), password: '123' } });
    expect(weak.body.errors?.[0]?.extensions).toMatchObject({ code: 'weak_password', upstreamCode: 'weak_password', reasons: ['length'] });
  });

  it('a second sign-up of an address is email_exists', async () => {
    const { email } = await signedUp();
    const again = await t.execute(SignUpDocument, { input: { email, password: 'correct-horse-1' } });
    expect(again.body.errors?.[0]?.extensions).toMatchObject({ code: 'email_exists', upstreamCode: 'user_already_exists' });
  });

  it('refreshSession rotates; reusing the old refresh token is unauthenticated', async () => {
    const reuseOff = await startTestApp({ env: { AUTH_REFRESH_TOKEN_REUSE_INTERVAL: '0' } });
    try {
      const signUp = await reuseOff.execute(SignUpDocument, { input: { email: uniqueEmail(), password: 'correct-horse-1' } });
      const old = signUp.body.data!.signUp.session!.refreshToken;
      const fresh = await reuseOff.execute(RefreshSessionDocument, { input: { refreshToken: old } });
      expect(fresh.body.data?.refreshSession.session?.refreshToken).not.toBe(old);
      const reused = await reuseOff.execute(RefreshSessionDocument, { input: { refreshToken: old } });
      expect(reused.body.errors?.[0]?.extensions).toMatchObject({ code: 'unauthenticated', upstreamCode: 'refresh_token_already_used' });
    } finally {
      await reuseOff.close();
    }
  });

  it('signOut needs a signed-in caller (deny path) and then refuses the token everywhere (allow path)', async () => {
    const anonymous = await t.execute(SignOutDocument, { input: { scope: 'LOCAL' } });
    expect(anonymous.body.errors?.[0]?.extensions?.code).toBe('unauthenticated');
    const { payload } = await signedUp();
    const token = payload.session!.accessToken;
    const out = await t.execute(SignOutDocument, { input: { scope: 'LOCAL' } }, bearer(token));
    expect(out.body).toEqual({ data: { signOut: { scope: 'LOCAL' } } });
    expect((await t.execute(ViewerDocument, {}, bearer(token))).body.errors?.[0]?.extensions?.code).toBe('token_revoked');
    expect((await authClient(t).getUser(token)).error?.name).toBe('AuthSessionMissingError');
  });

  it('another user cannot read a user’s email through the entity (deny path)', async () => {
    const { payload: mine } = await signedUp();
    const { payload: theirs } = await signedUp();
    const query = `query($reps: [_Any!]!) { _entities(representations: $reps) { ... on User { id email } } }`;
    const res = await t.app.yoga.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...bearer(mine.session!.accessToken) },
      body: JSON.stringify({ query, variables: { reps: [{ __typename: 'User', id: theirs.user!.id }, { __typename: 'User', id: mine.user!.id }] } }),
    });
    const body = (await res.json()) as { data: { _entities: Array<{ id: string; email: string | null } | null> }; errors?: unknown[] };
    // Sharing no tenant, the other user does not resolve at all; the caller's own entity carries their email.
    expect(body).toEqual({ data: { _entities: [null, { id: mine.user!.id, email: mine.user!.email }] } });
  });
});

describe('authSettings', () => {
  it('describes the provider to anonymous callers', async () => {
    const res = await t.app.yoga.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ authSettings { disableSignup emailAutoconfirm phoneAutoconfirm mfaEnabled providers } }' }),
    });
    expect(await res.json()).toEqual({
      data: { authSettings: { disableSignup: false, emailAutoconfirm: true, phoneAutoconfirm: true, mfaEnabled: true, providers: ['email', 'phone'] } },
    });
  });
});
