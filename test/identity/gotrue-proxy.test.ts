import * as OTPAuth from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AddOriginDocument, RemoveOriginDocument, SignInDocument } from '../generated/graphql.js';
import { signInRealmAdmin } from '../helpers/realm.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { authClient, claimsOf, uniqueEmail } from '../helpers/auth.js';
import { gotrueEnv, json, startStubServer } from '../helpers/gotrue.js';

// idgraph in proxy mode: its /auth/v1 streams to GoTrue (here a second idgraph,
// GoTrue-compatible) and @supabase/auth-js is the client, as in production.

let upstream: TestApp;
let proxy: TestApp;
beforeAll(async () => {
  upstream = await startTestApp();
  // Its own bootstrap admin: the upstream already holds admin@idgraph.local.
  proxy = await startTestApp({ env: { ...gotrueEnv(upstream), BOOTSTRAP_ADMIN_EMAIL: 'proxy-admin@idgraph.local' } });
});
afterAll(async () => {
  await proxy.close();
  await upstream.close();
});

const totp = (secret: string) => new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 }).generate();
const eventsOf = async (userId: string) =>
  (await proxy.app.db.prisma.event.findMany({ where: { aggregateId: userId }, orderBy: { position: 'asc' } })).map((e) => e.type);

describe('auth-js through idgraph in front of GoTrue', () => {
  it('publishes GoTrue\'s keys as its own', () => {
    expect(proxy.apiKeys()).toEqual(upstream.apiKeys());
    expect(proxy.app.identity.provider.kind).toBe('gotrue');
  });

  it('sign up, sign in, refresh, sign out; idgraph mirrors the user and appends events after each answer', async () => {
    const client = authClient(proxy);
    const email = uniqueEmail('proxy');
    const signUp = await client.signUp({ email, password: 'correct-horse-1', options: { data: { name: 'Proxied' } } });
    expect(signUp.error).toBeNull();
    const userId = signUp.data.user!.id;
    await expect.poll(() => proxy.app.db.prisma.user.findUnique({ where: { id: userId } })).toMatchObject({ email, displayName: 'Proxied' });

    const signIn = await client.signInWithPassword({ email, password: 'correct-horse-1' });
    expect(signIn.error).toBeNull();
    const refreshed = await client.refreshSession();
    expect(refreshed.error).toBeNull();
    expect(refreshed.data.session!.refresh_token).not.toBe(signIn.data.session!.refresh_token);
    expect((await client.getUser()).data.user?.email).toBe(email);
    await expect.poll(() => eventsOf(userId)).toEqual(['user.signed_up', 'user.signed_in']);

    // The token GoTrue minted is accepted by idgraph's GraphQL (verified against GoTrue's JWKS).
    const viewer = await fetch(`${proxy.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${refreshed.data.session!.access_token}` },
      body: JSON.stringify({ query: '{ viewer { userId } }' }),
    });
    expect(((await viewer.json()) as { data: { viewer: { userId: string } } }).data.viewer.userId).toBe(userId);

    expect((await client.signOut()).error).toBeNull();
    const { error } = await authClient(proxy).refreshSession({ refresh_token: refreshed.data.session!.refresh_token });
    expect(error?.status).toBe(400);
    // GoTrue ended the session; idgraph's GraphQL refuses its access token from then on, not only when it expires.
    const viewerCode = async () => {
      const res = await fetch(`${proxy.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${refreshed.data.session!.access_token}` },
        body: JSON.stringify({ query: '{ viewer { userId } }' }),
      });
      return ((await res.json()) as { errors?: Array<{ extensions: { code: string } }> }).errors?.[0]?.extensions.code;
    };
    await expect.poll(viewerCode).toBe('token_revoked');
  });

  it('a global sign-out through the proxy ends every session\'s access at idgraph; a sign-in afterwards is accepted', async () => {
    const email = uniqueEmail('proxy-global');
    const laptop = authClient(proxy);
    expect((await laptop.signUp({ email, password: 'correct-horse-1' })).error).toBeNull();
    const phone = authClient(proxy);
    const phoneToken = (await phone.signInWithPassword({ email, password: 'correct-horse-1' })).data.session!.access_token;
    const viewerCode = async (token: string) => {
      const res = await fetch(`${proxy.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: '{ viewer { userId } }' }),
      });
      const body = (await res.json()) as { data?: { viewer: { userId: string } | null }; errors?: Array<{ extensions: { code: string } }> };
      return body.errors?.[0]?.extensions.code ?? (body.data?.viewer ? 'ok' : 'anonymous');
    };
    expect(await viewerCode(phoneToken)).toBe('ok');
    // Tokens carry whole seconds (iat): the sign-out comes in a later second than the phone's token.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect((await laptop.signOut({ scope: 'global' })).error).toBeNull();
    await expect.poll(() => viewerCode(phoneToken)).toBe('token_revoked');
    const again = (await authClient(proxy).signInWithPassword({ email, password: 'correct-horse-1' })).data.session!.access_token;
    expect(await viewerCode(again)).toBe('ok');
  });

  it('a sign-out of the other sessions leaves the signed-out caller\'s own token valid', async () => {
    const email = uniqueEmail('proxy-others');
    const first = authClient(proxy);
    expect((await first.signUp({ email, password: 'correct-horse-1' })).error).toBeNull();
    const { data } = await first.signInWithPassword({ email, password: 'correct-horse-1' });
    expect((await first.signOut({ scope: 'others' })).error).toBeNull();
    const claims = claimsOf(data.session!.access_token) as { session_id: string };
    // Nothing recorded for the caller's session: wait for the answer's recording to have run, then check.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await proxy.app.db.prisma.revokedToken.count({ where: { key: `sid:${claims.session_id}` } })).toBe(0);
    expect((await first.getUser()).data.user?.email).toBe(email);
  });

  it('MFA: enroll, challenge and verify a TOTP factor → aal2', async () => {
    const client = authClient(proxy);
    await client.signUp({ email: uniqueEmail('mfa'), password: 'correct-horse-1' });
    const enrolled = await client.mfa.enroll({ factorType: 'totp', friendlyName: 'app' });
    expect(enrolled.error).toBeNull();
    const factorId = enrolled.data!.id;
    const secret = (enrolled.data as { totp: { secret: string } }).totp.secret;
    const verified = await client.mfa.challengeAndVerify({ factorId, code: totp(secret) });
    expect(verified.error).toBeNull();
    expect(claimsOf(verified.data!.access_token).aal).toBe('aal2');
    const aal = await client.mfa.getAuthenticatorAssuranceLevel();
    expect(aal.data?.currentLevel).toBe('aal2');
    expect((await client.mfa.unenroll({ factorId })).error).toBeNull();
  });

  it('GoTrue\'s errors come back unchanged (status, body, version header)', async () => {
    const { error } = await authClient(proxy).signInWithPassword({ email: uniqueEmail('ghost'), password: 'wrong-password' });
    expect(error).toMatchObject({ status: 400, code: 'invalid_credentials', message: 'Invalid login credentials' });
    const raw = await fetch(`${proxy.url}/auth/v1/token?grant_type=password`, {
      method: 'POST',
      headers: { apikey: proxy.apiKeys().anon, 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'x@example.com', password: 'nope' }),
    });
    expect(raw.status).toBe(400);
    expect(await raw.json()).toEqual({ code: 400, error_code: 'invalid_credentials', msg: 'Invalid login credentials' });
  });

  it('the JWKS, health and a 303 from GET /verify pass through', async () => {
    const jwks = await fetch(`${proxy.url}/.well-known/jwks.json`);
    expect(jwks.headers.get('cache-control')).toBe('public, max-age=600');
    expect(await jwks.json()).toEqual(await (await fetch(`${upstream.url}/auth/v1/.well-known/jwks.json`)).json());
    expect(await (await fetch(`${proxy.url}/auth/v1/health`)).json()).toMatchObject({ name: 'GoTrue' });
    const link = await fetch(`${proxy.url}/auth/v1/verify?token=bad&type=magiclink`, { redirect: 'manual' });
    expect(link.status).toBe(303);
    expect(link.headers.get('location')).toContain('error_code=otp_expired');
  });
});

describe('the proxy\'s request to GoTrue', () => {
  it('carries method, path, query, body and headers; adds apikey and X-Forwarded-For; the answer returns as is', async () => {
    const stub = await startStubServer((_req, res) => {
      res.writeHead(201, { 'content-type': 'text/plain', 'x-custom': 'kept', 'set-cookie': ['a=1', 'b=2'] });
      res.end('raw answer');
    });
    const app = await startTestApp({ env: gotrueEnv(stub.asUpstream) });
    try {
      const answer = await fetch(`${app.url}/auth/v1/some/path?x=1&y=two`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', authorization: 'Bearer user-token', 'x-forwarded-for': '6.6.6.6', 'x-request-id': 'req-proxy-1' },
        body: '{"a":1}',
      });
      expect([answer.status, await answer.text(), answer.headers.get('x-custom'), answer.headers.getSetCookie()]).toEqual([201, 'raw answer', 'kept', ['a=1', 'b=2']]);
      const sent = stub.requests.find((r) => r.url.startsWith('/auth/v1/some/path'))!;
      expect(sent).toMatchObject({ method: 'PUT', url: '/auth/v1/some/path?x=1&y=two', body: '{"a":1}' });
      // The client-supplied X-Forwarded-For is replaced by the peer address.
      expect(sent.headers).toMatchObject({ authorization: 'Bearer user-token', apikey: stub.asUpstream.apiKeys().anon, 'x-forwarded-for': '127.0.0.1', 'x-request-id': 'req-proxy-1' });
    } finally {
      await app.close();
      await stub.close();
    }
  });

  it('the body limit holds in front of GoTrue: a larger body is 413 and never reaches it', async () => {
    const stub = await startStubServer((_req, res) => json(res, 200, {}));
    const app = await startTestApp({ env: gotrueEnv(stub.asUpstream, { BODY_LIMIT_BYTES: '1024' }) });
    try {
      const before = stub.requests.length;
      const big = await fetch(`${app.url}/auth/v1/signup`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ data: 'x'.repeat(2048) }) });
      expect(big.status).toBe(413);
      expect(stub.requests.length).toBe(before);
    } finally {
      await app.close();
      await stub.close();
    }
  });

  it('a GoTrue that died: /auth/v1 answers 503 upstream_unavailable in GoTrue\'s shape, GraphQL signIn too, and nothing is written locally', async () => {
    // Up while idgraph starts (the bootstrap admin exists already), gone afterwards.
    const stub = await startStubServer((_req, res) => json(res, 422, { code: 422, error_code: 'email_exists', msg: 'exists' }));
    const app = await startTestApp({ env: gotrueEnv(stub.asUpstream, { GOTRUE_RETRIES: '0' }) });
    await stub.close();
    try {
      expect(app.app.isReady()).toBe(true);
      const before = [await app.app.db.prisma.user.count(), await app.app.db.prisma.event.count()];
      const started = performance.now();
      const rest = await fetch(`${app.url}/auth/v1/token?grant_type=password`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-supabase-api-version': '2024-01-01' },
        body: JSON.stringify({ email: 'a@example.com', password: 'x' }),
      });
      expect(rest.status).toBe(503);
      expect(await rest.json()).toMatchObject({ code: 'upstream_unavailable' });
      const gql = await app.execute(SignInDocument, { input: { email: 'a@example.com', password: 'correct-horse-1' } });
      expect(gql.body.errors?.[0]?.extensions).toMatchObject({ code: 'upstream_unavailable' });
      expect(performance.now() - started).toBeLessThan(1000);
      expect([await app.app.db.prisma.user.count(), await app.app.db.prisma.event.count()]).toEqual(before);
    } finally {
      await app.close();
    }
  });
});

describe('the realm origin allowlist in front of GoTrue', () => {
  it('a browser call from an origin not on the list is refused in GoTrue’s shape and never reaches GoTrue; listed origins and servers pass', async () => {
    const admin = await signInRealmAdmin(proxy);
    expect((await proxy.execute(AddOriginDocument, { input: { origin: 'app.example.com' } }, admin.headers)).body.errors).toBeUndefined();
    try {
      const token = (headers: Record<string, string>) =>
        fetch(`${proxy.url}/auth/v1/token?grant_type=password`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', apikey: upstream.apiKeys().anon, ...headers },
          body: JSON.stringify({ email: uniqueEmail('origin'), password: 'wrong-password-1' }),
        });
      const refused = await token({ origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' });
      expect(refused.status).toBe(403);
      expect(await refused.json()).toMatchObject({ error_code: 'realm_origin_mismatch' });
      // GoTrue itself answers the others (invalid_credentials: the address does not exist).
      for (const headers of [{ origin: 'https://app.example.com', 'sec-fetch-site': 'cross-site' }, {}] as Array<Record<string, string>>) {
        const passed = await token(headers);
        expect(passed.status).toBe(400);
        expect(await passed.json()).toMatchObject({ error_code: 'invalid_credentials' });
      }
      const preflight = await fetch(`${proxy.url}/auth/v1/token`, { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
      expect(preflight.status).toBeLessThan(400);
    } finally {
      await proxy.execute(RemoveOriginDocument, { input: { origin: 'app.example.com' } }, admin.headers);
    }
  });
});
