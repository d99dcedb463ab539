import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateApiKeyDocument,
  ExchangeApiKeyDocument,
  RefreshSessionDocument,
  SignInDocument,
  SignOutDocument,
  SignUpDocument,
  SwitchTenantDocument,
  ViewerDocument,
} from '../generated/graphql.js';
import { SignJWT } from 'jose';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { claimsOf, uniqueEmail } from '../helpers/auth.js';
import { gotrueEnv, startGotruePair } from '../helpers/gotrue.js';
import { seedMember, seedTenant } from '../helpers/realm.js';

// The GraphQL authentication suite with provider=gotrue: every mutation goes
// through the GoTrue adapter over HTTP to the upstream; tokens are GoTrue's,
// verified against its JWKS; tenant claims come from idgraph's hook.

let pair: Awaited<ReturnType<typeof startGotruePair>>;
let t: TestApp;
beforeAll(async () => {
  pair = await startGotruePair({ upstream: { AUTH_REFRESH_TOKEN_REUSE_INTERVAL: '0' } });
  t = pair.proxy;
});
afterAll(() => pair.close());

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const password = 'correct-horse-1';

async function signedUp() {
  const email = uniqueEmail('gql-gotrue');
  const { body } = await t.execute(SignUpDocument, { input: { email, password } });
  expect(body.errors).toBeUndefined();
  return { email, payload: body.data!.signUp };
}

describe('GraphQL authentication through GoTrue', () => {
  it('uses the GoTrue adapter', () => {
    expect(t.app.identity.provider.kind).toBe('gotrue');
    expect(t.app.engine).toBeNull();
  });

  it('signUp returns GoTrue\'s session, mirrors the user and records user.signed_up', async () => {
    const { email, payload } = await signedUp();
    expect(payload.session).toMatchObject({ tokenType: 'BEARER', expiresIn: 3600 });
    expect(payload.user).toMatchObject({ email, status: 'ACTIVE' });
    expect(claimsOf(payload.session!.accessToken).iss).toBe('http://localhost:4000/auth/v1');
    const events = await t.app.db.prisma.event.findMany({ where: { aggregateId: payload.user!.id } });
    expect(events.map((e) => e.type)).toEqual(['user.signed_up']);
    // The user lives at GoTrue; idgraph keeps only its mirror.
    expect(await t.app.db.prisma.authUser.count({ where: { email } })).toBe(0);
    expect(await pair.upstream.app.db.prisma.authUser.count({ where: { email } })).toBe(1);
  });

  it('signIn returns a session usable as the viewer; a wrong password is invalid_credentials', async () => {
    const { email, payload: first } = await signedUp();
    const { body } = await t.execute(SignInDocument, { input: { email, password } });
    expect(body.errors).toBeUndefined();
    const viewer = await t.execute(ViewerDocument, {}, bearer(body.data!.signIn.session!.accessToken));
    expect(viewer.body.data?.viewer?.userId).toBe(first.user!.id);
    const types = (await t.app.db.prisma.event.findMany({ where: { aggregateId: first.user!.id }, orderBy: { position: 'asc' } })).map((e) => e.type);
    expect(types).toEqual(['user.signed_up', 'user.signed_in']);
    const wrong = await t.execute(SignInDocument, { input: { email, password: 'wrong-password' } });
    expect(wrong.body.errors?.[0]?.extensions).toMatchObject({ code: 'invalid_credentials', upstreamCode: 'invalid_credentials' });
  });

  it('weak password and a taken address keep GoTrue\'s codes', async () => {
    const weak = await t.execute(SignUpDocument, { input: { email: uniqueEmail(), password: '123' } });
    expect(weak.body.errors?.[0]?.extensions).toMatchObject({ code: 'weak_password', upstreamCode: 'weak_password', reasons: ['length'] });
    const { email } = await signedUp();
    const again = await t.execute(SignUpDocument, { input: { email, password } });
    expect(again.body.errors?.[0]?.extensions).toMatchObject({ code: 'email_exists', upstreamCode: 'user_already_exists' });
  });

  it('refreshSession rotates; reusing the old refresh token is unauthenticated', async () => {
    const { payload } = await signedUp();
    const old = payload.session!.refreshToken;
    const fresh = await t.execute(RefreshSessionDocument, { input: { refreshToken: old } });
    expect(fresh.body.data?.refreshSession.session?.refreshToken).not.toBe(old);
    const reused = await t.execute(RefreshSessionDocument, { input: { refreshToken: old } });
    expect(reused.body.errors?.[0]?.extensions).toMatchObject({ code: 'unauthenticated', upstreamCode: 'refresh_token_already_used' });
  });

  it('signOut ends the session at GoTrue and refuses the token in idgraph', async () => {
    const anonymous = await t.execute(SignOutDocument, { input: { scope: 'LOCAL' } });
    expect(anonymous.body.errors?.[0]?.extensions?.code).toBe('unauthenticated');
    const { payload } = await signedUp();
    const token = payload.session!.accessToken;
    expect((await t.execute(SignOutDocument, { input: { scope: 'LOCAL' } }, bearer(token))).body).toEqual({ data: { signOut: { scope: 'LOCAL' } } });
    expect((await t.execute(ViewerDocument, {}, bearer(token))).body.errors?.[0]?.extensions?.code).toBe('token_revoked');
    const refresh = await t.execute(RefreshSessionDocument, { input: { refreshToken: payload.session!.refreshToken } });
    expect(refresh.body.errors?.[0]?.extensions?.code).toBe('unauthenticated');
  });

  it('signOut GLOBAL refuses the tokens of the user\'s other sessions too, which idgraph cannot see at GoTrue', async () => {
    const { email, payload } = await signedUp();
    const other = await t.execute(SignInDocument, { input: { email, password } });
    const otherToken = other.body.data!.signIn.session!.accessToken;
    expect((await t.execute(ViewerDocument, {}, bearer(otherToken))).body.data?.viewer).not.toBeNull();
    // Tokens carry whole seconds (iat): sign out in a later second than they were issued.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const out = await t.execute(SignOutDocument, { input: { scope: 'GLOBAL' } }, bearer(payload.session!.accessToken));
    expect(out.body).toEqual({ data: { signOut: { scope: 'GLOBAL' } } });
    expect((await t.execute(ViewerDocument, {}, bearer(otherToken))).body.errors?.[0]?.extensions?.code).toBe('token_revoked');
    const again = await t.execute(SignInDocument, { input: { email, password } });
    expect((await t.execute(ViewerDocument, {}, bearer(again.body.data!.signIn.session!.accessToken))).body.data?.viewer).not.toBeNull();
  });

  it('a token from another issuer is refused', async () => {
    const other = await t.execute(ViewerDocument, {}, bearer('eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln'));
    expect(other.body.errors?.[0]?.extensions?.code).toBe('wrong_algorithm');
  });
});

describe('tenant claims through GoTrue\'s custom access token hook', () => {
  async function memberOf(count: number) {
    const { email, payload } = await signedUp();
    const userId = payload.user!.id;
    const tenants = [];
    for (let i = 0; i < count; i++) {
      const tenant = await seedTenant(t, userId, `Hooked ${uniqueEmail('t')}`);
      tenants.push(tenant);
    }
    return { email, userId, tenants };
  }

  it('a member of one tenant gets tenant_id and tenant_role in GoTrue\'s token', async () => {
    const { email, tenants } = await memberOf(1);
    const { body } = await t.execute(SignInDocument, { input: { email, password } });
    expect(claimsOf(body.data!.signIn.session!.accessToken)).toMatchObject({ tenant_id: tenants[0]!.id, tenant_role: 'owner' });
  });

  it('switchTenant: GoTrue re-mints with the chosen tenant; the asking token is revoked', async () => {
    const { email, userId, tenants } = await memberOf(2);
    const other = await seedTenant(t, (await signedUp()).payload.user!.id);
    await seedMember(t, other.id, userId, 'member');
    const first = (await t.execute(SignInDocument, { input: { email, password, tenantId: tenants[0]!.id } })).body.data!.signIn.session!;
    expect(claimsOf(first.accessToken)).toMatchObject({ tenant_id: tenants[0]!.id });
    const { body } = await t.execute(SwitchTenantDocument, { input: { tenantId: other.id, refreshToken: first.refreshToken } }, bearer(first.accessToken));
    expect(body.errors).toBeUndefined();
    expect(claimsOf(body.data!.switchTenant.session!.accessToken)).toMatchObject({ tenant_id: other.id, tenant_role: 'member' });
    expect((await t.execute(ViewerDocument, {}, bearer(first.accessToken))).body.errors?.[0]?.extensions?.code).toBe('token_revoked');
    expect((await t.execute(ViewerDocument, {}, bearer(body.data!.switchTenant.session!.accessToken))).body.data?.viewer?.userId).toBe(userId);
    const foreign = await seedTenant(t, (await signedUp()).payload.user!.id);
    const refused = await t.execute(
      SwitchTenantDocument,
      { input: { tenantId: foreign.id, refreshToken: body.data!.switchTenant.session!.refreshToken } },
      bearer(body.data!.switchTenant.session!.accessToken),
    );
    expect(refused.body.errors?.[0]?.extensions?.code).toBe('tenant_invalid');
  });
});

describe('GoTrue tokens idgraph verifies', () => {
  it('legacy HS256 with GOTRUE_JWT_SECRET; a token without jti can be denied alone (its hash names it)', async () => {
    const secret = 'legacy-jwt-secret-of-at-least-32-characters';
    const legacy = await startTestApp({ env: gotrueEnv(pair.upstream, { GOTRUE_JWT_SECRET: secret }) });
    try {
      const sessionId = crypto.randomUUID();
      const mint = (iat: number) =>
        new SignJWT({ aud: 'authenticated', role: 'authenticated', session_id: sessionId, aal: 'aal1', amr: [], email: '', phone: '', is_anonymous: false })
          .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
          .setSubject(crypto.randomUUID())
          .setIssuer('http://localhost:4000/auth/v1')
          .setIssuedAt(iat)
          .setExpirationTime(iat + 3600)
          .sign(new TextEncoder().encode(secret));
      const now = Math.floor(Date.now() / 1000);
      const [first, second] = [await mint(now), await mint(now - 1)];
      const viewer = await legacy.app.resolveViewer(`Bearer ${first}`);
      expect(viewer?.jti).toMatch(/^sha256:[0-9a-f]{32}$/);
      await legacy.app.revocations.revoke({ jti: viewer!.jti }, viewer!.expiresAt);
      await expect(legacy.app.resolveViewer(`Bearer ${first}`)).rejects.toMatchObject({ code: 'token_revoked' });
      expect((await legacy.app.resolveViewer(`Bearer ${second}`))?.sessionId).toBe(sessionId);
      const forged = await new SignJWT({ aud: 'authenticated' }).setProtectedHeader({ alg: 'HS256' }).setSubject('x').setExpirationTime('1h').sign(new TextEncoder().encode('another-secret-of-at-least-32-characters!'));
      await expect(legacy.app.resolveViewer(`Bearer ${forged}`)).rejects.toMatchObject({ code: 'bad_signature' });
    } finally {
      await legacy.close();
    }
  });
});

describe('API keys in front of GoTrue', () => {
  it('authenticate as ApiKey; exchangeApiKey is refused clearly (idgraph holds no signing key of its own)', async () => {
    const { payload } = await signedUp();
    const tenant = await seedTenant(t, payload.user!.id);
    const created = await t.execute(
      CreateApiKeyDocument,
      { input: { tenantId: tenant.id, displayName: 'machine', scopes: ['tenant:read'] } },
      bearer(payload.session!.accessToken),
    );
    const key = created.body.data!.createApiKey.key;
    const viewer = await t.execute(ViewerDocument, {}, { authorization: `ApiKey ${key}` });
    expect(viewer.body.data?.viewer?.userId).toBe(payload.user!.id);
    const exchange = await t.execute(ExchangeApiKeyDocument, { input: { key } });
    expect(exchange.body.errors?.[0]?.extensions).toMatchObject({ code: 'bad_request', reason: 'platform_tokens_unavailable' });
  });
});
