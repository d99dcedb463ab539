import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { adminClient, authClient, signedInUser, uniqueEmail } from '../helpers/auth.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.close());

describe('auth-js admin API with the service-role key', () => {
  it('createUser, getUserById, listUsers with paging headers, deleteUser', async () => {
    const admin = adminClient(t);
    const email = uniqueEmail('admin');
    const created = await admin.createUser({ email, password: 'correct-horse-1', email_confirm: true, user_metadata: { name: 'Ada' } });
    expect(created.error).toBeNull();
    expect(created.data.user).toMatchObject({ email, user_metadata: { name: 'Ada' } });
    expect(created.data.user?.email_confirmed_at).toBeDefined();
    expect((await authClient(t).signInWithPassword({ email, password: 'correct-horse-1' })).error).toBeNull();
    const got = await admin.getUserById(created.data.user!.id);
    expect(got.data.user?.id).toBe(created.data.user!.id);
    await admin.createUser({ email: uniqueEmail('admin2'), email_confirm: true });
    const page = await admin.listUsers({ page: 1, perPage: 1 });
    expect(page.error).toBeNull();
    expect(page.data.users).toHaveLength(1);
    expect((page.data as { total: number }).total).toBeGreaterThanOrEqual(2);
    expect((page.data as { nextPage: number | null }).nextPage).toBe(2);
    expect((await admin.deleteUser(created.data.user!.id)).error).toBeNull();
    expect((await admin.getUserById(created.data.user!.id)).error).toMatchObject({ status: 404, code: 'user_not_found' });
  });

  it('a duplicate email is email_exists', async () => {
    const email = uniqueEmail('dup');
    await adminClient(t).createUser({ email });
    expect((await adminClient(t).createUser({ email })).error).toMatchObject({ status: 422, code: 'email_exists' });
  });

  it('a ban ends the user’s sessions and refuses sign-in; lifting it restores access', async () => {
    const { user, email, password, session } = await signedInUser(t);
    expect((await adminClient(t).updateUserById(user.id, { ban_duration: '24h' })).error).toBeNull();
    expect((await authClient(t).getUser(session.access_token)).error).toBeTruthy();
    expect((await authClient(t).signInWithPassword({ email, password })).error).toMatchObject({ status: 400, code: 'user_banned' });
    await adminClient(t).updateUserById(user.id, { ban_duration: 'none' });
    expect((await authClient(t).signInWithPassword({ email, password })).error).toBeNull();
  });

  it('user and anon tokens are refused on admin routes (not_admin); no token is no_authorization', async () => {
    const { session } = await signedInUser(t);
    const asUser = authClient(t, t.apiKeys().anon);
    expect((await asUser.admin.listUsers()).error).toMatchObject({ status: 403, code: 'not_admin' });
    const raw = await fetch(`${t.url}/auth/v1/admin/users`, { headers: { apikey: t.apiKeys().anon, authorization: `Bearer ${session.access_token}` } });
    expect(raw.status).toBe(403);
    const none = await fetch(`${t.url}/auth/v1/admin/users`, { headers: { apikey: t.apiKeys().anon } });
    expect(((await none.json()) as { error_code: string }).error_code).toBe('no_authorization');
  });

  it('generate_link returns the email OTP and the action link; magiclink for an unknown email becomes signup', async () => {
    const email = uniqueEmail('link');
    const { data, error } = await adminClient(t).generateLink({ type: 'magiclink', email });
    expect(error).toBeNull();
    expect(data.properties?.verification_type).toBe('signup');
    expect(data.properties?.email_otp).toMatch(/^\d{6}$/);
    expect(data.properties?.action_link).toContain(`token=${data.properties?.hashed_token}`);
    expect((await authClient(t).verifyOtp({ email, token: data.properties!.email_otp, type: 'signup' })).error).toBeNull();
  });

  it('lists and deletes a user’s factors', async () => {
    const { client, user } = await signedInUser(t);
    const { data } = await client.mfa.enroll({ factorType: 'totp' });
    const listed = await adminClient(t).mfa.listFactors({ userId: user.id });
    expect(listed.data?.factors.map((f) => f.id)).toEqual([data!.id]);
    expect((await adminClient(t).mfa.deleteFactor({ userId: user.id, id: data!.id })).error).toBeNull();
    expect((await adminClient(t).mfa.listFactors({ userId: user.id })).data?.factors).toEqual([]);
  });
});
