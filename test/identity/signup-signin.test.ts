import { AuthApiError, AuthWeakPasswordError } from '@supabase/auth-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { authClient, claimsOf, lastMessage, uniqueEmail } from '../helpers/auth.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.close());

describe('auth-js: sign-up and password sign-in (autoconfirm on)', () => {
  it('signUp returns a session with GoTrue-shaped user and claims (amr password, aal1)', async () => {
    const client = authClient(t);
    const email = uniqueEmail('Signup').toUpperCase();
    const { data, error } = await client.signUp({ email, password: 'correct-horse-1', options: { data: { plan: 'pro' } } });
    expect(error).toBeNull();
    expect(data.session).not.toBeNull();
    expect(data.user).toMatchObject({
      email: email.toLowerCase(),
      aud: 'authenticated',
      role: 'authenticated',
      phone: '',
      app_metadata: { provider: 'email', providers: ['email'] },
      user_metadata: { plan: 'pro', email_verified: true },
      is_anonymous: false,
    });
    expect(data.user!.identities).toHaveLength(1);
    expect(data.user!.identities![0]).toMatchObject({ provider: 'email', id: data.user!.id, user_id: data.user!.id });
    const claims = claimsOf(data.session!.access_token);
    expect(claims).toMatchObject({
      sub: data.user!.id,
      aud: 'authenticated',
      role: 'authenticated',
      aal: 'aal1',
      email: email.toLowerCase(),
      phone: '',
      is_anonymous: false,
      session_id: expect.any(String),
      jti: expect.any(String),
      iss: expect.stringMatching(/\/auth\/v1$/),
    });
    expect((claims.amr as Array<{ method: string }>)[0]!.method).toBe('password');
    expect(data.session!.expires_in).toBe(3600);
  });

  it('a user created at /auth/v1 is mirrored into idgraph’s users with its user.signed_up event, in the same transaction', async () => {
    const email = uniqueEmail();
    const { data } = await authClient(t).signUp({ email, password: 'correct-horse-1', options: { data: { name: 'Ann' } } });
    const mirrored = await t.app.db.prisma.user.findUniqueOrThrow({ where: { id: data.user!.id } });
    expect(mirrored).toMatchObject({ email, displayName: 'Ann', status: 'active' });
    const events = await t.app.db.prisma.event.findMany({ where: { aggregateId: data.user!.id } });
    expect(events.map((e) => e.type)).toEqual(['user.signed_up']);
    // A refused sign-up mirrors nothing.
    const before = await t.app.db.prisma.user.count();
    await authClient(t).signUp({ email, password: 'correct-horse-1' });
    expect(await t.app.db.prisma.user.count()).toBe(before);
  });

  it('signInWithPassword then getUser', async () => {
    const email = uniqueEmail();
    await authClient(t).signUp({ email, password: 'correct-horse-1' });
    const client = authClient(t);
    const { data, error } = await client.signInWithPassword({ email, password: 'correct-horse-1' });
    expect(error).toBeNull();
    const { data: got, error: getError } = await client.getUser();
    expect(getError).toBeNull();
    expect(got.user?.id).toBe(data.user!.id);
    expect(got.user?.last_sign_in_at).toBeDefined();
  });

  it('a wrong password and an unknown user get the same invalid_credentials answer', async () => {
    const email = uniqueEmail();
    await authClient(t).signUp({ email, password: 'correct-horse-1' });
    const wrong = await authClient(t).signInWithPassword({ email, password: 'wrong-password' });
    const unknown = await authClient(t).signInWithPassword({ email: uniqueEmail('nobody'), password: 'wrong-password' });
    for (const { error } of [wrong, unknown]) {
      expect(error).toBeInstanceOf(AuthApiError);
      expect(error).toMatchObject({ status: 400, code: 'invalid_credentials', message: 'Invalid login credentials' });
    }
  });

  it('a second sign-up of the same address is user_already_exists; nothing else is written', async () => {
    const email = uniqueEmail();
    await authClient(t).signUp({ email, password: 'correct-horse-1' });
    const before = await t.app.db.prisma.authUser.count();
    const { error } = await authClient(t).signUp({ email, password: 'another-pass-2' });
    expect(error).toBeInstanceOf(AuthApiError);
    expect(error).toMatchObject({ status: 422, code: 'user_already_exists' });
    expect(await t.app.db.prisma.authUser.count()).toBe(before);
  });

  it('a short password is AuthWeakPasswordError with reasons; one over 72 characters is refused', async () => {
    const short = await authClient(t).signUp({ email: uniqueEmail(), password: '123' });
    expect(short.error).toBeInstanceOf(AuthWeakPasswordError);
    expect(short.error).toMatchObject({ status: 422, code: 'weak_password', reasons: ['length'] });
    const long = await authClient(t).signUp({ email: uniqueEmail(), password: 'x'.repeat(73) });
    expect(long.error).toMatchObject({ status: 422, code: 'validation_failed' });
  });

  it('stores the password as argon2id with OWASP parameters', async () => {
    const email = uniqueEmail();
    await authClient(t).signUp({ email, password: 'correct-horse-1' });
    const row = await t.app.db.prisma.authUser.findUniqueOrThrow({ where: { email } });
    expect(row.passwordHash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  });

  it('phone sign-up stores the number without + and signs in with it', async () => {
    const client = authClient(t);
    const { data, error } = await client.signUp({ phone: '+1 555 010 2030', password: 'correct-horse-1' });
    expect(error).toBeNull();
    expect(data.user?.phone).toBe('15550102030');
    expect(claimsOf(data.session!.access_token).phone).toBe('15550102030');
    const again = await authClient(t).signInWithPassword({ phone: '+15550102030', password: 'correct-horse-1' });
    expect(again.error).toBeNull();
    const bad = await authClient(t).signUp({ phone: '0123', password: 'correct-horse-1' });
    expect(bad.error).toMatchObject({ status: 400, code: 'validation_failed' });
  });
});

describe('auth-js: sign-up with confirmation (autoconfirm off)', () => {
  let c: TestApp;
  beforeAll(async () => {
    c = await startTestApp({ env: { AUTH_AUTOCONFIRM: 'false' } });
  });
  afterAll(() => c.close());

  it('signUp returns a user and no session; the emailed code confirms and signs in', async () => {
    const client = authClient(c);
    const email = uniqueEmail();
    const { data, error } = await client.signUp({ email, password: 'correct-horse-1' });
    expect(error).toBeNull();
    expect(data.session).toBeNull();
    expect(data.user?.email_confirmed_at).toBeUndefined();
    expect(data.user?.confirmation_sent_at).toBeDefined();
    const blocked = await client.signInWithPassword({ email, password: 'correct-horse-1' });
    expect(blocked.error).toMatchObject({ status: 400, code: 'email_not_confirmed' });
    const message = await lastMessage(c, email);
    expect(message.kind).toBe('signup');
    const verified = await client.verifyOtp({ email, token: message.code!, type: 'signup' });
    expect(verified.error).toBeNull();
    expect(verified.data.user?.email_confirmed_at).toBeDefined();
    expect((claimsOf(verified.data.session!.access_token).amr as Array<{ method: string }>)[0]!.method).toBe('otp');
    const reused = await client.verifyOtp({ email, token: message.code!, type: 'signup' });
    expect(reused.error).toMatchObject({ status: 403, code: 'otp_expired' });
  });

  it('a repeated sign-up of a confirmed address does not reveal that it exists', async () => {
    const email = uniqueEmail();
    const client = authClient(c);
    await client.signUp({ email, password: 'correct-horse-1' });
    const { code } = await lastMessage(c, email);
    await client.verifyOtp({ email, token: code!, type: 'signup' });
    const again = await authClient(c).signUp({ email, password: 'correct-horse-1' });
    expect(again.error).toBeNull();
    expect(again.data.session).toBeNull();
    expect(again.data.user?.email).toBe(email);
    const real = await c.app.db.prisma.authUser.findUniqueOrThrow({ where: { email } });
    expect(again.data.user?.id).not.toBe(real.id);
  });
});

describe('secrets stay out of the log', () => {
  it('no password, access token, refresh token or code appears in any log line', async () => {
    const client = authClient(t);
    const email = uniqueEmail('quiet');
    const { data } = await client.signUp({ email, password: 'log-me-not-123' });
    await client.refreshSession();
    await client.signInWithOtp({ email });
    const { code } = await lastMessage(t, email);
    const text = t.logs.text();
    expect(text.length).toBeGreaterThan(0);
    for (const secret of ['log-me-not-123', data.session!.access_token, data.session!.refresh_token, code!]) {
      expect(text).not.toContain(secret);
    }
  });
});
