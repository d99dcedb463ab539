import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { adminClient, authClient, claimsOf, lastMessage, signedInUser, uniqueEmail } from '../helpers/auth.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.close());

describe('auth-js: one-time codes and links', () => {
  it('signInWithOtp signs up a new address and verifyOtp (email) signs it in with amr otp', async () => {
    const email = uniqueEmail('otp');
    const client = authClient(t);
    const sent = await client.signInWithOtp({ email });
    expect(sent.error).toBeNull();
    const { code, kind } = await lastMessage(t, email);
    expect(kind).toBe('signup');
    expect(code).toMatch(/^\d{6}$/);
    const { data, error } = await client.verifyOtp({ email, token: code!, type: 'email' });
    expect(error).toBeNull();
    expect(data.user?.email_confirmed_at).toBeDefined();
    expect((claimsOf(data.session!.access_token).amr as Array<{ method: string }>).map((a) => a.method)).toEqual(['otp']);
  });

  it('a confirmed user gets a magic link code; the stored token is the sha224 hash, never the code', async () => {
    const { email } = await signedInUser(t);
    await authClient(t).signInWithOtp({ email });
    const { code, kind, link } = await lastMessage(t, email);
    expect(kind).toBe('magiclink');
    const stored = await t.app.db.prisma.authOneTimeToken.findMany({ where: { relatesTo: email } });
    expect(stored.map((s) => s.tokenHash)).not.toContain(code);
    const { createHash } = await import('node:crypto');
    expect(stored.map((s) => s.tokenHash)).toContain(createHash('sha224').update(email + code).digest('hex'));
    expect(link).toContain(`token=${createHash('sha224').update(email + code).digest('hex')}`);
    const { error } = await authClient(t).verifyOtp({ email, token: code!, type: 'magiclink' });
    expect(error).toBeNull();
  });

  it('shouldCreateUser false answers unknown addresses as known ones, and creates and sends nothing', async () => {
    const email = uniqueEmail('nocreate');
    const { error } = await authClient(t).signInWithOtp({ email, options: { shouldCreateUser: false } });
    expect(error).toBeNull();
    await t.app.engine!.settled();
    expect(await t.app.db.prisma.authUser.count({ where: { email } })).toBe(0);
    expect(await t.app.db.prisma.authMessage.count({ where: { recipient: email } })).toBe(0);
  });

  it('a wrong code is otp_expired and does not consume the real one', async () => {
    const email = uniqueEmail('wrong');
    await authClient(t).signInWithOtp({ email });
    const { code } = await lastMessage(t, email);
    const wrong = await authClient(t).verifyOtp({ email, token: code === '000000' ? '111111' : '000000', type: 'email' });
    expect(wrong.error).toMatchObject({ status: 403, code: 'otp_expired' });
    expect((await authClient(t).verifyOtp({ email, token: code!, type: 'email' })).error).toBeNull();
  });

  it('resetPasswordForEmail answers the same for unknown addresses; recovery code lets the user set a new password', async () => {
    const { email } = await signedInUser(t);
    expect((await authClient(t).resetPasswordForEmail(uniqueEmail('ghost'))).error).toBeNull();
    expect((await authClient(t).resetPasswordForEmail(email)).error).toBeNull();
    const { code, kind } = await lastMessage(t, email);
    expect(kind).toBe('recovery');
    const client = authClient(t);
    const verified = await client.verifyOtp({ email, token: code!, type: 'recovery' });
    expect(verified.error).toBeNull();
    expect((await client.updateUser({ password: 'brand-new-pass-9' })).error).toBeNull();
    expect((await authClient(t).signInWithPassword({ email, password: 'brand-new-pass-9' })).error).toBeNull();
  });

  it('GET /verify redirects (303) with the session in the fragment, or the error', async () => {
    const { email } = await signedInUser(t);
    await authClient(t).signInWithOtp({ email });
    const { link } = await lastMessage(t, email);
    const ok = await fetch(link!, { redirect: 'manual' });
    expect(ok.status).toBe(303);
    const location = ok.headers.get('location')!;
    const fragment = new URLSearchParams(location.split('#')[1]);
    expect(fragment.get('access_token')).toBeTruthy();
    expect(fragment.get('refresh_token')).toBeTruthy();
    expect(fragment.get('type')).toBe('magiclink');
    const again = await fetch(link!, { redirect: 'manual' });
    expect(new URLSearchParams(again.headers.get('location')!.split('#')[1]).get('error_code')).toBe('otp_expired');
  });

  it('redirect_to is honoured only for the site or the allow list', async () => {
    const { email } = await signedInUser(t);
    await authClient(t).signInWithOtp({ email });
    const { link } = await lastMessage(t, email);
    const evil = await fetch(`${link!.split('&redirect_to')[0]}&redirect_to=${encodeURIComponent('https://evil.example/steal')}`, { redirect: 'manual' });
    expect(evil.headers.get('location')).not.toContain('evil.example');
  });
});

describe('auth-js: updating the user', () => {
  it('updateUser merges metadata, null deletes a key; app_metadata is refused', async () => {
    const { client } = await signedInUser(t);
    await client.updateUser({ data: { theme: 'dark', lang: 'en' } });
    const { data } = await client.updateUser({ data: { lang: null } });
    expect(data.user?.user_metadata).toMatchObject({ theme: 'dark' });
    expect(data.user?.user_metadata).not.toHaveProperty('lang');
  });

  it('a password change refuses the same password and ends the other sessions', async () => {
    const first = await signedInUser(t);
    const other = authClient(t);
    const { data: otherSession } = await other.signInWithPassword({ email: first.email, password: first.password });
    const same = await first.client.updateUser({ password: first.password });
    expect(same.error).toMatchObject({ status: 422, code: 'same_password' });
    expect((await first.client.updateUser({ password: 'changed-pass-3' })).error).toBeNull();
    expect((await authClient(t).getUser(otherSession.session!.access_token)).error?.name).toBe('AuthSessionMissingError');
    expect((await first.client.getUser()).error).toBeNull();
  });

  it('reauthenticate sends a nonce to the email', async () => {
    const { client, email } = await signedInUser(t);
    expect((await client.reauthenticate()).error).toBeNull();
    expect((await lastMessage(t, email)).kind).toBe('reauthentication');
  });

  it('a taken email is email_exists', async () => {
    const a = await signedInUser(t);
    const b = await signedInUser(t);
    const { error } = await b.client.updateUser({ email: a.email });
    expect(error).toMatchObject({ status: 422, code: 'email_exists' });
  });
});

describe('auth-js: email change with confirmation (autoconfirm off)', () => {
  let c: TestApp;
  beforeAll(async () => {
    c = await startTestApp({ env: { AUTH_AUTOCONFIRM: 'false' } });
  });
  afterAll(() => c.close());

  it('sets new_email, and the code from generate_link confirms it', async () => {
    const email = uniqueEmail('old');
    const created = await adminClient(c).createUser({ email, password: 'correct-horse-1', email_confirm: true });
    expect(created.error).toBeNull();
    const client = authClient(c);
    await client.signInWithPassword({ email, password: 'correct-horse-1' });
    const newEmail = uniqueEmail('new');
    const updated = await client.updateUser({ email: newEmail });
    expect(updated.data.user?.new_email).toBe(newEmail);
    expect(updated.data.user?.email).toBe(email);
    const link = await adminClient(c).generateLink({ type: 'email_change_new', email, newEmail });
    expect(link.error).toBeNull();
    const { data, error } = await client.verifyOtp({ email: newEmail, token: link.data.properties!.email_otp, type: 'email_change' });
    expect(error).toBeNull();
    expect(data.user?.email).toBe(newEmail);
    expect(data.user?.new_email).toBeUndefined();
  });
});

describe('auth-js: phone codes', () => {
  it('signInWithOtp with a phone sends an SMS code; verifyOtp type sms signs in', async () => {
    const client = authClient(t);
    const phone = `+1555${String(Date.now()).slice(-7)}`;
    const sent = await client.signInWithOtp({ phone });
    expect(sent.error).toBeNull();
    expect(sent.data.messageId).toEqual(expect.any(String));
    const { code, channel } = await lastMessage(t, phone);
    expect(channel).toBe('sms');
    const { data, error } = await client.verifyOtp({ phone, token: code!, type: 'sms' });
    expect(error).toBeNull();
    expect(data.user?.phone).toBe(phone.slice(1));
    expect(data.user?.phone_confirmed_at).toBeDefined();
  });

  it('resend for an unknown address answers {} and sends nothing', async () => {
    const email = uniqueEmail('resend');
    expect((await authClient(t).resend({ type: 'signup', email })).error).toBeNull();
    expect(await t.app.db.prisma.authMessage.count({ where: { recipient: email } })).toBe(0);
  });
});
