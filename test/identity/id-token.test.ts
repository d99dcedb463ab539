import { AuthApiError } from '@supabase/auth-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { authClient, claimsOf, signedInUser, uniqueEmail } from '../helpers/auth.js';
import { startOidcIssuer } from '../helpers/oidc-issuer.js';

let t: TestApp;
let idp: Awaited<ReturnType<typeof startOidcIssuer>>;
beforeAll(async () => {
  idp = await startOidcIssuer();
  t = await startTestApp({
    env: { AUTH_OIDC_ISSUERS: JSON.stringify([{ provider: 'authentik', issuer: idp.issuer, audiences: ['idgraph-client'] }]) },
  });
});
afterAll(async () => {
  await t.close();
  await idp.close();
});

let subject = 0;
const nextSub = () => `authentik-user-${Date.now()}-${subject++}`;

describe('auth-js signInWithIdToken against a configured OIDC issuer (seed 001 token exchange)', () => {
  it('a valid id_token with a matching nonce creates the user and an oauth session', async () => {
    const email = uniqueEmail('sso');
    const token = await idp.idToken({ sub: nextSub(), email, email_verified: true, nonce: idp.hashNonce('raw-nonce') });
    const client = authClient(t);
    const { data, error } = await client.signInWithIdToken({ provider: 'authentik', token, nonce: 'raw-nonce' });
    expect(error).toBeNull();
    expect(data.user).toMatchObject({ email, app_metadata: { provider: 'authentik', providers: ['authentik'] } });
    expect(data.user?.email_confirmed_at).toBeDefined();
    expect(data.user?.identities?.map((i) => i.provider)).toEqual(['authentik']);
    const amr = claimsOf(data.session!.access_token).amr as Array<{ method: string; provider?: string }>;
    expect(amr[0]).toMatchObject({ method: 'oauth', provider: 'authentik' });
  });

  it('the same subject signs in to the same user again', async () => {
    const sub = nextSub();
    const email = uniqueEmail('again');
    const first = await authClient(t).signInWithIdToken({ provider: 'authentik', token: await idp.idToken({ sub, email, email_verified: true }) });
    const second = await authClient(t).signInWithIdToken({ provider: 'authentik', token: await idp.idToken({ sub, email, email_verified: true }) });
    expect(second.data.user?.id).toBe(first.data.user?.id);
  });

  const failures: Array<[string, () => Promise<{ token: string; nonce?: string }>, string]> = [
    ['a wrong audience', async () => ({ token: await idp.idToken({ sub: nextSub(), email: uniqueEmail() }, { aud: 'someone-else' }) }), 'Unacceptable audience in id_token'],
    ['an expired token', async () => ({ token: await idp.idToken({ sub: nextSub(), email: uniqueEmail() }, { iat: Math.floor(Date.now() / 1000) - 7200, expiresAt: Math.floor(Date.now() / 1000) - 3600 }) }), 'ID token has expired'],
    ['a wrong nonce', async () => ({ token: await idp.idToken({ sub: nextSub(), email: uniqueEmail(), nonce: idp.hashNonce('a') }), nonce: 'b' }), 'Nonces mismatch'],
    ['a nonce only on one side', async () => ({ token: await idp.idToken({ sub: nextSub(), email: uniqueEmail() }), nonce: 'raw' }), 'Passed nonce and nonce in id_token should either both exist or not.'],
    ['an unknown signing key', async () => ({ token: await idp.idToken({ sub: nextSub(), email: uniqueEmail() }, { unknownKey: true }) }), 'ID token was signed with an unknown key'],
  ];
  for (const [what, make, message] of failures) {
    it(`refuses ${what} with the OAuth-style 400 and creates nothing`, async () => {
      const before = await t.app.db.prisma.authUser.count();
      const { token, nonce } = await make();
      const { data, error } = await authClient(t).signInWithIdToken({ provider: 'authentik', token, nonce });
      expect(data.session).toBeNull();
      expect(error).toBeInstanceOf(AuthApiError);
      expect(error).toMatchObject({ status: 400, message });
      expect(await t.app.db.prisma.authUser.count()).toBe(before);
    });
  }

  it('an unconfigured provider is refused', async () => {
    const token = await idp.idToken({ sub: nextSub(), email: uniqueEmail() });
    const { error } = await authClient(t).signInWithIdToken({ provider: 'google', token });
    expect(error).toMatchObject({ status: 400, message: 'Provider "google" is not enabled for ID token sign-in' });
  });

  it('link_identity adds the issuer identity to the signed-in user; unlink removes it but never the last one', async () => {
    const { client, session, user } = await signedInUser(t);
    const token = await idp.idToken({ sub: nextSub(), email: uniqueEmail('linked') });
    const res = await fetch(`${t.url}/auth/v1/token?grant_type=id_token`, {
      method: 'POST',
      headers: { apikey: t.apiKeys().anon, authorization: `Bearer ${session.access_token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ provider: 'authentik', id_token: token, link_identity: true }),
    });
    expect(res.status).toBe(200);
    const { data } = await client.getUserIdentities();
    expect(data?.identities.map((i) => i.provider).sort()).toEqual(['authentik', 'email']);
    expect((await client.getUser()).data.user?.id).toBe(user.id);
    const authentik = data!.identities.find((i) => i.provider === 'authentik')!;
    expect((await client.unlinkIdentity(authentik)).error).toBeNull();
    const email = (await client.getUserIdentities()).data!.identities[0]!;
    expect((await client.unlinkIdentity(email)).error).toMatchObject({ status: 422, code: 'single_identity_not_deletable' });
  });

  it('caches the issuer JWKS instead of fetching it per sign-in', async () => {
    const before = idp.jwksRequests();
    for (let i = 0; i < 3; i++) {
      await authClient(t).signInWithIdToken({ provider: 'authentik', token: await idp.idToken({ sub: nextSub(), email: uniqueEmail() }) });
    }
    expect(idp.jwksRequests() - before).toBe(0);
  });
});
