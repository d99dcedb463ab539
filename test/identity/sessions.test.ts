import { AuthApiError, AuthSessionMissingError } from '@supabase/auth-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { authClient, claimsOf, signedInUser } from '../helpers/auth.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ env: { AUTH_REFRESH_TOKEN_REUSE_INTERVAL: '0' } });
});
afterAll(() => t.close());

describe('auth-js: sessions and refresh tokens', () => {
  it('refreshSession rotates the refresh token and keeps the session id', async () => {
    const { client, session } = await signedInUser(t);
    const { data, error } = await client.refreshSession({ refresh_token: session.refresh_token });
    expect(error).toBeNull();
    expect(data.session!.refresh_token).not.toBe(session.refresh_token);
    expect(claimsOf(data.session!.access_token).session_id).toBe(claimsOf(session.access_token).session_id);
    // The rotated-out token stored only as a hash.
    const stored = await t.app.db.prisma.authRefreshToken.findMany({ where: { userId: data.user!.id } });
    expect(stored.map((r) => r.tokenHash)).not.toContain(session.refresh_token);
  });

  it('reusing a rotated refresh token is refresh_token_already_used and ends the session', async () => {
    const { client, session } = await signedInUser(t);
    const { data: fresh } = await client.refreshSession({ refresh_token: session.refresh_token });
    const reuse = await authClient(t).refreshSession({ refresh_token: session.refresh_token });
    expect(reuse.error).toBeInstanceOf(AuthApiError);
    expect(reuse.error).toMatchObject({ status: 400, code: 'refresh_token_already_used' });
    // The family is revoked: even the newest token no longer works.
    const newest = await authClient(t).refreshSession({ refresh_token: fresh.session!.refresh_token });
    expect(newest.error).toMatchObject({ status: 400, code: 'refresh_token_not_found' });
  });

  it('within the reuse interval a rotated token still refreshes (two tabs at once): same session and user, a new token', async () => {
    const tabs = await startTestApp();
    try {
      const { client, session } = await signedInUser(tabs);
      const first = await client.refreshSession({ refresh_token: session.refresh_token });
      const second = await authClient(tabs).refreshSession({ refresh_token: session.refresh_token });
      expect(second.error).toBeNull();
      expect(second.data.session!.refresh_token).not.toBe(first.data.session!.refresh_token);
      expect(claimsOf(second.data.session!.access_token)).toMatchObject({
        session_id: claimsOf(session.access_token).session_id,
        sub: session.user.id,
        email: session.user.email,
      });
      expect(second.data.user!.identities!.map((i) => i.provider)).toEqual(['email']);
    } finally {
      await tabs.close();
    }
  });

  it('an unknown refresh token is refresh_token_not_found', async () => {
    const { error } = await authClient(t).refreshSession({ refresh_token: 'not-a-real-token-value' });
    expect(error).toMatchObject({ status: 400, code: 'refresh_token_not_found' });
  });

  it('signOut local ends this session only: its token then fails on /user', async () => {
    const first = await signedInUser(t);
    const second = authClient(t);
    await second.signInWithPassword({ email: first.email, password: first.password });
    const { error } = await first.client.signOut({ scope: 'local' });
    expect(error).toBeNull();
    const gone = await authClient(t).getUser(first.session.access_token);
    expect(gone.error).toBeInstanceOf(AuthSessionMissingError);
    expect((await second.getUser()).error).toBeNull();
  });

  it('signOut others keeps this session and ends the rest', async () => {
    const first = await signedInUser(t);
    const second = authClient(t);
    const { data: other } = await second.signInWithPassword({ email: first.email, password: first.password });
    await first.client.signOut({ scope: 'others' });
    expect((await first.client.getUser()).error).toBeNull();
    const ended = await authClient(t).getUser(other.session!.access_token);
    expect(ended.error).toBeInstanceOf(AuthSessionMissingError);
  });

  it('signOut global ends every session of the user', async () => {
    const first = await signedInUser(t);
    const second = authClient(t);
    const { data: other } = await second.signInWithPassword({ email: first.email, password: first.password });
    await first.client.signOut({ scope: 'global' });
    for (const token of [first.session.access_token, other.session!.access_token]) {
      expect((await authClient(t).getUser(token)).error).toBeInstanceOf(AuthSessionMissingError);
    }
    expect(await t.app.db.prisma.authSession.count({ where: { userId: first.user.id } })).toBe(0);
  });

  it('a token from another issuer or a garbage token is bad_jwt', async () => {
    const garbage = await authClient(t).getUser('not.a.jwt');
    expect(garbage.error).toMatchObject({ status: 403, code: 'bad_jwt' });
    const { session } = await signedInUser(t);
    const [header, payload] = session.access_token.split('.');
    const forged = `${header}.${payload}.${Buffer.from('x'.repeat(64)).toString('base64url')}`;
    expect((await authClient(t).getUser(forged)).error).toMatchObject({ status: 403, code: 'bad_jwt' });
  });

  it('getClaims verifies the ES256 token against the JWKS', async () => {
    const { client, user } = await signedInUser(t);
    const { data, error } = await client.getClaims();
    expect(error).toBeNull();
    expect(data?.claims.sub).toBe(user.id);
    expect(data?.header.alg).toBe('ES256');
    const jwks = await fetch(`${t.url}/auth/v1/.well-known/jwks.json`);
    expect(jwks.headers.get('cache-control')).toBe('public, max-age=600');
    const root = await fetch(`${t.url}/.well-known/jwks.json`);
    expect(await root.json()).toEqual(await jwks.json());
  });

  it('key rotation keeps the previous public key in the JWKS; old tokens still verify', async () => {
    const { client, session } = await signedInUser(t);
    const oldKid = JSON.parse(Buffer.from(session.access_token.split('.')[0]!, 'base64url').toString()).kid;
    const newKid = await t.app.engine!.keys.rotate();
    const { keys } = (await (await fetch(`${t.url}/auth/v1/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> };
    expect(keys.map((k) => k.kid).sort()).toEqual([oldKid, newKid].sort());
    expect((await client.getUser()).error).toBeNull();
    const refreshed = await client.refreshSession();
    expect(JSON.parse(Buffer.from(refreshed.data.session!.access_token.split('.')[0]!, 'base64url').toString()).kid).toBe(newKid);
  });

  it('the private signing key is stored unencrypted only without AUTH_KEY_ENCRYPTION_KEY', async () => {
    const rows = await t.app.db.prisma.authSigningKey.findMany();
    expect(rows.every((r) => r.privateJwk.startsWith('{'))).toBe(true);
    const sealed = await startTestApp({ env: { AUTH_KEY_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64') } });
    try {
      const stored = await sealed.app.db.prisma.authSigningKey.findMany();
      expect(stored.length).toBeGreaterThan(0);
      expect(stored.every((r) => r.privateJwk.startsWith('enc:v1:') && !r.privateJwk.includes('"d"'))).toBe(true);
      const signed = await signedInUser(sealed);
      expect((await signed.client.getUser()).error).toBeNull();
    } finally {
      await sealed.close();
    }
  });
});

describe('statements per token', () => {
  it('a refresh costs one SQL statement whatever the number of tenants the user belongs to (tenant claims in one)', async () => {
    const { client, user } = await signedInUser(t);
    const realmId = await t.app.services.realms.defaultRealmId();
    const member = await t.app.db.prisma.role.findUniqueOrThrow({ where: { realmId_name: { realmId, name: 'member' } } });
    const refreshCost = async () => {
      const { data } = await client.getSession();
      return t.countStatements(() => client.refreshSession({ refresh_token: data.session!.refresh_token }));
    };
    const alone = await refreshCost();
    for (let i = 0; i < 5; i++) {
      const tenant = await t.app.db.prisma.tenant.create({ data: { realmId, slug: `claims-${user.id.slice(0, 8)}-${i}`, displayName: `T${i}` } });
      await t.app.db.prisma.membership.create({ data: { userId: user.id, tenantId: tenant.id, roleId: member.id } });
    }
    expect(await refreshCost()).toBe(alone);
    // Rotation, the session and user read back and the tenant claims: one statement.
    expect(alone).toBe(1);
  });
});
