import * as OTPAuth from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProviderError } from '../../src/identity/errors.js';
import type { AccessTokenResponse, User } from '../../src/identity/types.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { lastMessage, uniqueEmail } from '../helpers/auth.js';
import { gotrueIdentityFor } from '../helpers/gotrue.js';

// The typed GoTrue client over real HTTP against a second idgraph, whose
// /auth/v1 is GoTrue-compatible (GOTRUE.md). Shapes only a real GoTrue gives
// (SSO, SAML, OAuth redirects, the legacy error body) are in gotrue-fixtures.test.ts.

let upstream: TestApp;
let gotrue: ReturnType<typeof gotrueIdentityFor>;
beforeAll(async () => {
  upstream = await startTestApp({ env: { AUTH_AUTOCONFIRM: 'true' } });
  gotrue = gotrueIdentityFor(upstream);
});
afterAll(async () => {
  await gotrue.close();
  await upstream.close();
});

const meta = { ip: '203.0.113.7', userAgent: 'vitest', requestId: 'req-gotrue-client-1' };
const password = 'correct-horse-1';

async function failure(promise: Promise<unknown>): Promise<ProviderError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ProviderError);
  return error as ProviderError;
}

async function signedUp(): Promise<{ email: string; session: AccessTokenResponse }> {
  const email = uniqueEmail('client');
  const session = (await gotrue.client.signup({ email, password, data: { name: 'Client' } }, meta)) as AccessTokenResponse;
  return { email, session };
}

const totpCode = (secret: string) =>
  new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 }).generate();

describe('GoTrue client: sign-up and the token grants', () => {
  it('signup answers a session when autoconfirmed; a second signup is user_already_exists (422)', async () => {
    const { email, session } = await signedUp();
    expect(session).toMatchObject({ token_type: 'bearer', expires_in: 3600, user: { email, user_metadata: { name: 'Client' } } });
    const again = await failure(gotrue.client.signup({ email, password }));
    expect([again.status, again.errorCode]).toEqual([422, 'user_already_exists']);
  });

  it('a weak password is 422 weak_password with its reasons', async () => {
    const weak = await failure(gotrue.client.signup({ email: uniqueEmail(), password: '123' }));
    expect([weak.status, weak.errorCode, weak.extra.weakPassword?.reasons]).toEqual([422, 'weak_password', ['length']]);
  });

  it('password grant; a wrong password is 400 invalid_credentials', async () => {
    const { email } = await signedUp();
    const session = await gotrue.client.tokenPassword({ email, password }, meta);
    expect(session.user.email).toBe(email);
    const wrong = await failure(gotrue.client.tokenPassword({ email, password: 'nope-nope' }));
    expect([wrong.status, wrong.errorCode, wrong.message]).toEqual([400, 'invalid_credentials', 'Invalid login credentials']);
  });

  it('refresh_token grant rotates; an unknown token is refresh_token_not_found; none is the OAuth-style invalid_request', async () => {
    const { session } = await signedUp();
    const next = await gotrue.client.tokenRefresh({ refresh_token: session.refresh_token });
    expect(next.refresh_token).not.toBe(session.refresh_token);
    const unknown = await failure(gotrue.client.tokenRefresh({ refresh_token: 'abcdefghijklmnop' }));
    expect([unknown.status, unknown.errorCode]).toEqual([400, 'refresh_token_not_found']);
    const missing = await failure(gotrue.client.tokenRefresh({} as { refresh_token: string }));
    expect([missing.status, missing.extra.oauth]).toEqual([400, 'invalid_request']);
  });

  it('pkce: /otp with a challenge → GET /verify 303 ?code= → pkce grant; the code works once (flow_state_not_found)', async () => {
    const { email } = await signedUp();
    const verifier = 'v'.repeat(50);
    const challenge = Buffer.from(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))).toString('base64url');
    expect(await gotrue.client.otp({ email, create_user: false, code_challenge: challenge, code_challenge_method: 's256' })).toEqual({});
    const token = new URL((await lastMessage(upstream, email)).link!).searchParams.get('token')!;
    const link = await gotrue.client.verifyLink({ token, type: 'magiclink' });
    expect(link.status).toBe(303);
    const code = new URL(link.location).searchParams.get('code')!;
    const session = await gotrue.client.tokenPkce({ auth_code: code, code_verifier: verifier });
    expect(session.user.email).toBe(email);
    const reused = await failure(gotrue.client.tokenPkce({ auth_code: code, code_verifier: verifier }));
    expect(reused.errorCode).toBe('flow_state_not_found');
  });

  it('id_token grant with an unknown provider fails OAuth-style', async () => {
    const error = await failure(gotrue.client.tokenIdToken({ provider: 'nobody', id_token: 'x.y.z' }));
    expect(error.status).toBe(400);
    expect(error.extra.oauth).toBeTruthy();
  });

  it('logout (204) ends the session: the token is then refused on user routes', async () => {
    const { session } = await signedUp();
    await gotrue.client.logout(session.access_token, 'local');
    const after = await failure(gotrue.client.getUser(session.access_token));
    expect([after.status, after.errorCode]).toEqual([403, 'session_not_found']);
  });
});

describe('GoTrue client: codes and links', () => {
  it('otp, magiclink, recover, resend answer {}, also otp with create_user:false for an unknown address', async () => {
    const { email } = await signedUp();
    expect(await gotrue.client.otp({ email })).toEqual({});
    expect(await gotrue.client.magiclink({ email })).toEqual({});
    expect(await gotrue.client.recover({ email: uniqueEmail('nobody') })).toEqual({});
    expect(await gotrue.client.resend({ email, type: 'signup' })).toEqual({});
    expect(await gotrue.client.otp({ email: uniqueEmail('ghost'), create_user: false })).toEqual({});
  });

  it('verify with the mailed code → session; a wrong code is 403 otp_expired', async () => {
    const { email } = await signedUp();
    await gotrue.client.otp({ email, create_user: false });
    const { code } = await lastMessage(upstream, email);
    const wrong = await failure(gotrue.client.verify({ type: 'email', email, token: code === '000000' ? '111111' : '000000' }));
    expect([wrong.status, wrong.errorCode]).toEqual([403, 'otp_expired']);
    const session = await gotrue.client.verify({ type: 'email', email, token: code! });
    expect(session.user.email).toBe(email);
  });

  it('GET /verify with a bad token redirects with the error in the fragment', async () => {
    const link = await gotrue.client.verifyLink({ token: 'not-a-token', type: 'magiclink' });
    expect(link.status).toBe(303);
    expect(new URLSearchParams(new URL(link.location).hash.slice(1)).get('error_code')).toBe('otp_expired');
  });
});

describe('GoTrue client: the user routes', () => {
  it('GET /user; PUT /user merges data; reauthenticate answers {}; a garbage token is 403 bad_jwt', async () => {
    const { email, session } = await signedUp();
    expect((await gotrue.client.getUser(session.access_token)).email).toBe(email);
    const updated = await gotrue.client.updateUser(session.access_token, { data: { plan: 'pro' } }, meta);
    expect(updated.user_metadata).toMatchObject({ name: 'Client', plan: 'pro' });
    expect(await gotrue.client.reauthenticate(session.access_token)).toEqual({});
    const bad = await failure(gotrue.client.getUser('garbage'));
    expect([bad.status, bad.errorCode]).toEqual([403, 'bad_jwt']);
  });

  it('DELETE /user/identities/{id}: the only identity is single_identity_not_deletable; an unknown one identity_not_found', async () => {
    const { session } = await signedUp();
    const only = session.user.identities[0]!;
    const single = await failure(gotrue.client.deleteIdentity(session.access_token, only.identity_id ?? only.id));
    expect(['single_identity_not_deletable', 'identity_not_found']).toContain(single.errorCode);
    const unknown = await failure(gotrue.client.deleteIdentity(session.access_token, crypto.randomUUID()));
    expect([unknown.status, unknown.errorCode]).toEqual([404, 'identity_not_found']);
  });

  it('factors: enroll, challenge, verify (aal2 session), unenroll; a wrong code is mfa_verification_failed', async () => {
    const { session } = await signedUp();
    const enrolled = await gotrue.client.enrollFactor(session.access_token, { factor_type: 'totp', friendly_name: 'app' });
    expect(enrolled.totp?.uri).toMatch(/^otpauth:\/\/totp\//);
    const challenge = await gotrue.client.challengeFactor(session.access_token, enrolled.id, {}, meta);
    expect(challenge).toMatchObject({ type: 'totp', id: expect.any(String), expires_at: expect.any(Number) });
    const wrong = await failure(gotrue.client.verifyFactor(session.access_token, enrolled.id, { challenge_id: challenge.id, code: '000000' }, meta));
    expect([wrong.status, wrong.errorCode]).toEqual([422, 'mfa_verification_failed']);
    const second = await gotrue.client.challengeFactor(session.access_token, enrolled.id, {}, meta);
    const aal2 = await gotrue.client.verifyFactor(session.access_token, enrolled.id, { challenge_id: second.id, code: totpCode(enrolled.totp!.secret) }, meta);
    expect(JSON.parse(Buffer.from(aal2.access_token.split('.')[1]!, 'base64url').toString()).aal).toBe('aal2');
    expect(await gotrue.client.unenrollFactor(aal2.access_token, enrolled.id)).toEqual({ id: enrolled.id });
    const gone = await failure(gotrue.client.unenrollFactor(aal2.access_token, enrolled.id));
    expect(gone.errorCode).toBe('mfa_factor_not_found');
  });
});

describe('GoTrue client: metadata', () => {
  it('settings, health, jwks and openid-configuration', async () => {
    expect(await gotrue.client.settings()).toMatchObject({ disable_signup: false, mailer_autoconfirm: true });
    expect(await gotrue.client.health()).toMatchObject({ name: 'GoTrue' });
    const { keys } = await gotrue.client.jwks();
    expect(keys[0]).toMatchObject({ kty: 'EC', use: 'sig' });
    expect(await gotrue.client.openidConfiguration()).toMatchObject({ issuer: 'http://localhost:4000/auth/v1' });
  });

  it('features the upstream has switched off answer 404 feature_disabled', async () => {
    const { session } = await signedUp();
    for (const call of [
      gotrue.client.authorize({ provider: 'github' }),
      gotrue.client.callback({ state: 'x', code: 'y' }),
      gotrue.client.sso({ domain: 'example.com' }),
      gotrue.client.samlMetadata(),
      gotrue.client.samlAcs({ SAMLResponse: 'PHNhbWw+' }),
      gotrue.client.authorizeIdentity(session.access_token, { provider: 'github' }),
    ]) {
      const error = await failure(call);
      expect([error.status, error.errorCode]).toEqual([404, 'feature_disabled']);
    }
  });
});

describe('GoTrue client: the admin API', () => {
  it('create, get, update, list (X-Total-Count, Link next), generate_link, invite, delete', async () => {
    const email = uniqueEmail('admin');
    const created = await gotrue.client.admin.createUser({ email, password, email_confirm: true, user_metadata: { name: 'A' } });
    expect(created.email).toBe(email);
    const exists = await failure(gotrue.client.admin.createUser({ email, password }));
    expect([exists.status, exists.errorCode]).toEqual([422, 'email_exists']);
    expect((await gotrue.client.admin.getUser(created.id)).id).toBe(created.id);
    expect((await gotrue.client.admin.updateUser(created.id, { user_metadata: { name: 'B' } })).user_metadata).toMatchObject({ name: 'B' });
    const page = await gotrue.client.admin.listUsers(1, 1);
    expect(page.users).toHaveLength(1);
    expect(page.total).toBeGreaterThan(1);
    expect(page.nextPage).toBe(2);
    const link = await gotrue.client.admin.generateLink({ type: 'magiclink', email });
    expect(link).toMatchObject({ email, verification_type: 'magiclink', action_link: expect.stringContaining('/verify?token=') });
    const invited = await gotrue.client.admin.invite({ email: uniqueEmail('invited') });
    expect(invited.invited_at).toBeTruthy();
    expect(await gotrue.client.admin.deleteUser(created.id)).toEqual({});
    const missing = await failure(gotrue.client.admin.getUser(created.id));
    expect([missing.status, missing.errorCode]).toEqual([404, 'user_not_found']);
  });

  it('admin factors: list and delete a user\'s factor', async () => {
    const { session } = await signedUp();
    const enrolled = await gotrue.client.enrollFactor(session.access_token, { factor_type: 'totp' });
    const factors = await gotrue.client.admin.listFactors(session.user.id);
    expect(factors.map((f) => f.id)).toEqual([enrolled.id]);
    expect((await gotrue.client.admin.deleteFactor(session.user.id, enrolled.id)).id).toBe(enrolled.id);
    expect(await gotrue.client.admin.listFactors(session.user.id)).toEqual([]);
  });

  it('an admin route with a user token is 403 not_admin; the service-role key is accepted', async () => {
    const { session } = await signedUp();
    const refused = await failure(gotrue.client.admin.authorize(session.access_token));
    expect([refused.status, refused.errorCode]).toEqual([403, 'not_admin']);
    await expect(gotrue.client.admin.authorize(upstream.apiKeys().serviceRole)).resolves.toBeUndefined();
  });
});

describe('GoTrue adapter (the IdentityProvider port)', () => {
  it('verifyLink turns a 303 with tokens into a session with its user; verifyAccessToken checks with GET /user', async () => {
    const { email } = await signedUp();
    const link = await gotrue.provider.admin.generateLink({ type: 'magiclink', email });
    const result = await gotrue.provider.verifyLink(String(link.hashed_token), 'magiclink', meta);
    expect('session' in result && (result.session.user as User).email).toBe(email);
    if (!('session' in result)) throw new Error('expected a session');
    const claims = await gotrue.provider.verifyAccessToken(result.session.access_token);
    expect(claims.email).toBe(email);
    const noToken = await failure(gotrue.provider.getUser(null));
    expect([noToken.status, noToken.errorCode]).toEqual([401, 'no_authorization']);
  });

  it('session listing has no GoTrue route: feature_disabled', async () => {
    const { session } = await signedUp();
    expect((await failure(gotrue.provider.listSessions(session.access_token))).errorCode).toBe('feature_disabled');
  });
});
