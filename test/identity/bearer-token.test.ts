import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ViewerDocument } from '../generated/graphql.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { claimsOf, signedInUser } from '../helpers/auth.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.close());

/** Every /auth/v1 route that acts on the Bearer token's user. */
const bearerRoutes: Array<{ method: string; path: string; json?: unknown }> = [
  { method: 'GET', path: '/user' },
  { method: 'PUT', path: '/user', json: { data: { forged: true } } },
  { method: 'GET', path: '/reauthenticate' },
  { method: 'POST', path: '/factors', json: { factor_type: 'totp' } },
  { method: 'DELETE', path: `/user/identities/${randomUUID()}` },
  { method: 'POST', path: '/logout?scope=global' },
];

function call(route: { method: string; path: string; json?: unknown }, token: string) {
  return fetch(`${t.url}/auth/v1${route.path}`, {
    method: route.method,
    headers: { apikey: t.apiKeys().anon, authorization: `Bearer ${token}`, ...(route.json ? { 'content-type': 'application/json' } : {}) },
    body: route.json ? JSON.stringify(route.json) : undefined,
  });
}

describe('/auth/v1 checks a Bearer token as GraphQL does', () => {
  it('a token signed with the real key but with forged claims is refused on every route, changing nothing', async () => {
    const { session, user } = await signedInUser(t);
    const genuine = claimsOf(session.access_token);
    const now = Math.floor(Date.now() / 1000);
    const year = 365 * 24 * 3600;
    const forged: Record<string, Record<string, unknown>> = {
      'no exp': { exp: undefined },
      'no iat': { iat: undefined },
      'no iss': { iss: undefined },
      'another issuer': { iss: 'https://evil.example/auth/v1' },
      'another audience': { aud: 'service' },
      'issued a year ahead': { iat: now + year, exp: now + year + 3600 },
      'issued beyond the clock skew': { iat: now + 120 },
      'not valid before a later time': { nbf: now + 600 },
      'expired': { iat: now - 7200, exp: now - 3600 },
    };
    const sign = (changes: Record<string, unknown>) => t.app.engine!.keys.sign(JSON.parse(JSON.stringify({ ...genuine, ...changes })));

    for (const [name, changes] of Object.entries(forged)) {
      const token = await sign(changes);
      for (const route of bearerRoutes) {
        const response = await call(route, token);
        expect({ name, route: `${route.method} ${route.path}`, status: response.status, body: await response.json() }).toMatchObject({
          status: 403,
          body: { error_code: 'bad_jwt' },
        });
      }
      // GraphQL refuses the same token.
      const graphql = await t.execute(ViewerDocument, {}, { authorization: `Bearer ${token}` });
      expect(graphql.status, name).toBe(401);
    }

    // Nothing was changed: the user has no forged metadata and no factor, the session is alive.
    const row = await t.app.db.prisma.authUser.findUniqueOrThrow({ where: { id: user.id }, include: { factors: true } });
    expect(row.userMetadata).not.toHaveProperty('forged');
    expect(row.factors).toEqual([]);
    expect(await t.app.db.prisma.authSession.count({ where: { userId: user.id } })).toBe(1);
    // The same claims re-signed unchanged pass.
    expect((await call({ method: 'GET', path: '/user' }, await sign({}))).status).toBe(200);
  });

  it('a token denied on its own (by jti) is refused by /auth/v1 too, while its session lives on', async () => {
    const { session } = await signedInUser(t);
    const claims = claimsOf(session.access_token) as { jti: string; exp: number; session_id: string };
    await t.app.revocations.revoke({ jti: claims.jti }, new Date(claims.exp * 1000));

    const graphql = await t.execute(ViewerDocument, {}, { authorization: `Bearer ${session.access_token}` });
    expect(graphql.body.errors?.[0]?.extensions?.code).toBe('token_revoked');
    for (const route of bearerRoutes) {
      const response = await call(route, session.access_token);
      expect({ route: `${route.method} ${route.path}`, status: response.status, body: await response.json() }).toMatchObject({
        status: 403,
        body: { error_code: 'session_not_found' },
      });
    }
    expect(await t.app.db.prisma.authSession.count({ where: { id: claims.session_id } })).toBe(1);
  });
});
