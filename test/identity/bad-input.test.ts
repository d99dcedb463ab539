import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { adminClient, authClient, lastMessage, signedInUser, uniqueEmail } from '../helpers/auth.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ env: { AUTH_UPDATE_PASSWORD_REQUIRE_REAUTHENTICATION: 'true' } });
});
afterAll(() => t.close());

const bodyRoutes = [
  ['POST', '/signup'],
  ['POST', '/token?grant_type=password'],
  ['POST', '/token?grant_type=refresh_token'],
  ['POST', '/token?grant_type=pkce'],
  ['POST', '/token?grant_type=id_token'],
  ['POST', '/otp'],
  ['POST', '/recover'],
  ['POST', '/resend'],
  ['POST', '/verify'],
  ['PUT', '/user'],
  ['POST', '/factors'],
  ['POST', '/admin/users'],
  ['POST', '/admin/generate_link'],
] as const;

describe('/auth/v1 bad input on every endpoint that takes a body', () => {
  for (const [method, path] of bodyRoutes) {
    it(`${method} ${path}: malformed JSON, wrong types and an empty object are 4xx with an error_code, never 5xx`, async () => {
      const { session } = await signedInUser(t);
      const bearer = path.startsWith('/admin') ? t.apiKeys().serviceRole : session.access_token;
      const before = await t.app.db.prisma.authUser.count();
      // An empty PUT /user is a valid no-op update, as in GoTrue.
      const bodies = ['{"email":', '"a string"', JSON.stringify({ email: 7, phone: true, password: 3, type: [], token: {} })];
      for (const body of path === '/user' ? bodies : [...bodies, '{}']) {
        const res = await fetch(`${t.url}/auth/v1${path}`, {
          method,
          headers: { apikey: t.apiKeys().anon, authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
          body,
        });
        expect(res.status, `${body} → ${res.status}`).toBeGreaterThanOrEqual(400);
        expect(res.status, body).toBeLessThan(500);
        const json = (await res.json()) as { error_code?: string; error?: string };
        expect(json.error_code ?? json.error, body).toEqual(expect.any(String));
      }
      expect(await t.app.db.prisma.authUser.count()).toBe(before);
    });
  }
});

describe('/auth/v1 tokens that must be refused', () => {
  it('an expired token and one signed by another idgraph are bad_jwt', async () => {
    const { user } = await signedInUser(t);
    const iat = Math.floor(Date.now() / 1000) - 7200;
    const expired = await t.app.engine!.keys.sign({ sub: user.id, aud: 'authenticated', role: 'authenticated', iat, exp: iat + 3600, session_id: crypto.randomUUID() });
    expect((await authClient(t).getUser(expired)).error).toMatchObject({ status: 403, code: 'bad_jwt' });
    const other = await startTestApp();
    try {
      const foreign = await signedInUser(other);
      expect((await authClient(t).getUser(foreign.session.access_token)).error).toMatchObject({ status: 403, code: 'bad_jwt' });
    } finally {
      await other.close();
    }
  });
});

describe('password change with reauthentication required', () => {
  it('an old session needs the nonce from /reauthenticate; a wrong nonce is refused', async () => {
    const { client, email, user } = await signedInUser(t);
    await t.app.db.prisma.authSession.updateMany({ where: { userId: user.id }, data: { createdAt: new Date(Date.now() - 25 * 3600 * 1000) } });
    expect((await client.updateUser({ password: 'next-password-1' })).error).toMatchObject({ status: 400, code: 'reauthentication_needed' });
    await client.reauthenticate();
    const { code } = await lastMessage(t, email);
    expect((await client.updateUser({ password: 'next-password-1', nonce: '000000' === code ? '111111' : '000000' })).error).toMatchObject({
      status: 422,
      code: 'reauthentication_not_valid',
    });
    await client.reauthenticate();
    const fresh = await lastMessage(t, email);
    expect((await client.updateUser({ password: 'next-password-1', nonce: fresh.code! })).error).toBeNull();
  });
});

describe('invitations through the admin API', () => {
  it('inviteUserByEmail sends an invite whose code signs the user in', async () => {
    const email = uniqueEmail('invitee');
    const { data, error } = await adminClient(t).inviteUserByEmail(email);
    expect(error).toBeNull();
    expect(data.user?.invited_at).toBeDefined();
    const { code, kind } = await lastMessage(t, email);
    expect(kind).toBe('invite');
    expect((await authClient(t).verifyOtp({ email, token: code!, type: 'invite' })).error).toBeNull();
  });
});
