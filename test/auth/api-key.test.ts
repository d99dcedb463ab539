import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { API_KEY_CACHE_MS, createApiKeyAuthenticator } from '../../src/auth/api-key.js';
import {
  ApiKeysDocument,
  ApiKeyViewerDocument,
  CreateApiKeyDocument,
  ExchangeApiKeyDocument,
  RevokeApiKeyDocument,
} from '../generated/graphql.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { createPostgresDatabase, testDatabaseKind } from '../helpers/database.js';
import { authClient, claimsOf } from '../helpers/auth.js';
import { seedMember, seedRole, seedTenant, signUpUser, type SignedIn } from '../helpers/realm.js';

// Machine authentication: `Authorization: ApiKey <key>` on HTTP and graphql-ws,
// platform tokens from exchangeApiKey, the lookup cache and last_used_at.

let t: TestApp;
let owner: SignedIn;
let tenantId: string;
/** Every key and platform token issued here: none may reach the logs. */
const issued: string[] = [];

const apiKeyHeader = (key: string) => ({ authorization: `ApiKey ${key}` });
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const errorOf = (body: { errors?: ReadonlyArray<{ message: string; extensions?: Record<string, unknown> }> }) => body.errors?.[0];

async function createKey(user: SignedIn, scopes: string[], options: { tenant?: string; expiresAt?: string } = {}) {
  const { body } = await t.execute(
    CreateApiKeyDocument,
    { input: { tenantId: options.tenant ?? tenantId, displayName: 'machine', scopes, expiresAt: options.expiresAt } },
    user.headers,
  );
  if (!body.data) throw new Error(`createApiKey failed: ${JSON.stringify(body.errors)}`);
  issued.push(body.data.createApiKey.key);
  return body.data.createApiKey;
}

/** A user with their own key-managing membership in the tenant (tests that change the owner's state use their own). */
async function keyHolder() {
  const user = await signUpUser(t);
  await seedMember(t, tenantId, user.userId, 'keymaster');
  return { user, ...(await createKey(user, ['tenant:read', 'apikeys:manage'])) };
}

async function exchange(key: string) {
  const { body } = await t.execute(ExchangeApiKeyDocument, { input: { key } });
  if (body.data) issued.push(body.data.exchangeApiKey.accessToken);
  return body;
}

beforeAll(async () => {
  t = await startTestApp();
  owner = await signUpUser(t);
  tenantId = (await seedTenant(t, owner.userId)).id;
  await seedRole(t, 'keymaster', ['tenant:read', 'apikeys:manage']);
  await seedRole(t, 'reader', ['tenant:read']);
});
afterAll(() => t.close());

describe('Authorization: ApiKey', () => {
  it('resolves the key’s owner, bound to the key’s tenant, at aal1 without a session', async () => {
    const { key } = await createKey(owner, ['tenant:read']);
    const { status, body } = await t.execute(ApiKeyViewerDocument, {}, apiKeyHeader(key));
    expect(status).toBe(200);
    expect(body.data?.viewer).toMatchObject({ userId: owner.userId, sessionId: null, aal: 'AAL1', activeTenant: { id: tenantId } });
  });

  it('works on a real HTTP request and over graphql-ws (connectionParams.authorization)', async () => {
    const { key } = await createKey(owner, ['tenant:read', 'apikeys:manage']);
    const response = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...apiKeyHeader(key) },
      body: JSON.stringify({ query: 'query($id: ID!) { viewer { userId } apiKeys(tenantId: $id) { edges { node { id } } } }', variables: { id: tenantId } }),
    });
    const http = (await response.json()) as { data: { viewer: { userId: string }; apiKeys: { edges: unknown[] } } };
    expect(http.data.viewer.userId).toBe(owner.userId);
    expect(http.data.apiKeys.edges.length).toBeGreaterThan(0);

    const overWs = (authorization: string) => {
      const client = createClient({ url: t.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization } });
      return new Promise<{ data?: unknown; closeCode?: number }>((resolve) => {
        let data: unknown;
        client.subscribe(
          { query: '{ viewer { userId aal } }' },
          {
            next: (value) => (data = value.data),
            error: (error) => resolve({ closeCode: (error as { code?: number }).code }),
            complete: () => resolve({ data }),
          },
        );
      }).finally(() => client.dispose());
    };
    expect(await overWs(`ApiKey ${key}`)).toEqual({ data: { viewer: { userId: owner.userId, aal: 'AAL1' } } });
    expect(await overWs(`ApiKey ${key.slice(0, -1)}x`)).toEqual({ closeCode: 4403 });
  });

  it('a key lacks what its scopes lack (forbidden) where its owner’s bearer token is allowed', async () => {
    const { key } = await createKey(owner, ['tenant:read']);
    expect((await t.execute(ApiKeysDocument, { tenantId }, owner.headers)).body.errors).toBeUndefined();
    expect(errorOf((await t.execute(ApiKeysDocument, { tenantId }, apiKeyHeader(key))).body)?.extensions).toMatchObject({
      code: 'forbidden',
      permission: 'apikeys:manage',
    });
  });

  it('acts only in its own tenant: another tenant of its owner is not_found', async () => {
    const other = await seedTenant(t, owner.userId);
    const { key } = await createKey(owner, ['tenant:read', 'apikeys:manage']);
    expect((await t.execute(ApiKeysDocument, { tenantId: other.id }, owner.headers)).body.errors).toBeUndefined();
    expect(errorOf((await t.execute(ApiKeysDocument, { tenantId: other.id }, apiKeyHeader(key))).body)?.extensions?.code).toBe('not_found');
    // Nor does it reveal the owner's other tenants.
    const memberships = async (headers: Record<string, string>) => {
      const response = await t.app.yoga.fetch('http://localhost/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ query: '{ viewer { memberships { tenant { id } } } }' }),
      });
      const body = (await response.json()) as { data: { viewer: { memberships: Array<{ tenant: { id: string } }> } } };
      return body.data.viewer.memberships.map((m) => m.tenant.id);
    };
    expect(await memberships(owner.headers)).toEqual(expect.arrayContaining([tenantId, other.id]));
    expect(await memberships(apiKeyHeader(key))).toEqual([tenantId]);
  });

  it('malformed header, unknown prefix and wrong secret: unauthenticated with one message (401)', async () => {
    const { key } = await createKey(owner, ['tenant:read']);
    const [prefixPart, secret] = key.split('.') as [string, string];
    const wrongSecret = `${prefixPart}.${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`;
    const unknownPrefix = `idg_000000000000.${secret}`;
    const answers = [];
    for (const header of ['ApiKey', 'ApiKey garbage', 'apikey idg_short.x', `ApiKey ${key} extra`, `ApiKey ${unknownPrefix}`, `ApiKey ${wrongSecret}`]) {
      const { status, body } = await t.execute(ApiKeyViewerDocument, {}, { authorization: header });
      answers.push({ status, error: errorOf(body) && { message: errorOf(body)!.message, extensions: errorOf(body)!.extensions } });
    }
    const expected = { status: 401, error: { message: 'The API key is invalid.', extensions: { code: 'unauthenticated' } } };
    expect(answers).toEqual(Array(answers.length).fill(expected));
  });

  it('refuses an expired key (api_key_expired)', async () => {
    const { key, apiKey } = await createKey(owner, ['tenant:read']);
    await t.app.db.prisma.apiKey.update({ where: { id: apiKey.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
    const { status, body } = await t.execute(ApiKeyViewerDocument, {}, apiKeyHeader(key));
    expect(status).toBe(401);
    expect(errorOf(body)?.extensions).toMatchObject({ code: 'unauthenticated', reason: 'api_key_expired' });
  });

  it('follows its owner at once: demoted, the permission is gone; out of the tenant, the tenant is not_found', async () => {
    const { user, key } = await keyHolder();
    expect((await t.execute(ApiKeysDocument, { tenantId }, apiKeyHeader(key))).body.errors).toBeUndefined();
    const realmId = await t.app.services.realms.defaultRealmId();
    const readerRole = await t.app.db.prisma.role.findUniqueOrThrow({ where: { realmId_name: { realmId, name: 'reader' } } });
    await t.app.db.prisma.membership.update({ where: { userId_tenantId: { userId: user.userId, tenantId } }, data: { roleId: readerRole.id } });
    expect(errorOf((await t.execute(ApiKeysDocument, { tenantId }, apiKeyHeader(key))).body)?.extensions).toMatchObject({
      code: 'forbidden',
      permission: 'apikeys:manage',
    });
    await t.app.db.prisma.membership.delete({ where: { userId_tenantId: { userId: user.userId, tenantId } } });
    expect(errorOf((await t.execute(ApiKeysDocument, { tenantId }, apiKeyHeader(key))).body)?.extensions?.code).toBe('not_found');
  });

  it('refuses the key of a suspended or deactivated owner', async () => {
    const { user, key, apiKey } = await keyHolder();
    await t.app.db.prisma.user.update({ where: { id: user.userId }, data: { status: 'suspended' } });
    expect(errorOf((await t.execute(ApiKeyViewerDocument, {}, apiKeyHeader(key))).body)?.extensions?.code).toBe('account_suspended');
    await t.app.db.prisma.user.update({ where: { id: user.userId }, data: { status: 'deactivated' } });
    // The status is cached with the key for up to API_KEY_CACHE_MS: drop this replica's copy to see the change now.
    t.app.apiKeyAuth.forget(apiKey);
    expect(errorOf((await t.execute(ApiKeyViewerDocument, {}, apiKeyHeader(key))).body)?.extensions?.code).toBe('account_deactivated');
  });
});

describe('exchangeApiKey: platform tokens', () => {
  it('mints a five-minute ES256 token with the key’s claims; Bearer requests with it act as the key', async () => {
    const { key, apiKey } = await createKey(owner, ['tenant:read', 'apikeys:manage']);
    const eventsBefore = await t.app.db.prisma.event.count();
    const body = await exchange(key);
    expect(body.errors).toBeUndefined();
    const { accessToken, expiresIn, tokenType } = body.data!.exchangeApiKey;
    expect({ expiresIn, tokenType }).toEqual({ expiresIn: 300, tokenType: 'BEARER' });
    const userClaims = claimsOf(owner.accessToken);
    const claims = claimsOf(accessToken);
    expect(claims).toMatchObject({
      iss: userClaims.iss,
      aud: userClaims.aud,
      sub: owner.userId,
      role: 'authenticated',
      api_key_id: apiKey.id,
      tenant_id: tenantId,
      scp: ['tenant:read', 'apikeys:manage'],
      jti: expect.any(String),
    });
    expect((claims.exp as number) - (claims.iat as number)).toBe(300);
    expect(claims.session_id).toBeUndefined();
    expect(JSON.parse(Buffer.from(accessToken.split('.')[0]!, 'base64url').toString())).toMatchObject({ alg: 'ES256' });
    // Exchanges are not changes: no event.
    expect(await t.app.db.prisma.event.count()).toBe(eventsBefore);

    const viewer = await t.execute(ApiKeyViewerDocument, {}, bearer(accessToken));
    expect(viewer.body.data?.viewer).toMatchObject({ userId: owner.userId, sessionId: null, aal: 'AAL1', activeTenant: { id: tenantId } });
    expect((await t.execute(ApiKeysDocument, { tenantId }, bearer(accessToken))).body.errors).toBeUndefined();
    const create = await t.execute(CreateApiKeyDocument, { input: { tenantId, displayName: 'x', scopes: ['tenant:read'] } }, bearer(accessToken));
    expect(errorOf(create.body)?.extensions).toMatchObject({ code: 'forbidden', reason: 'api_key_caller' });
    // It is no user session: /auth/v1 refuses it.
    expect((await authClient(t).getUser(accessToken)).error?.status).toBe(403);
  });

  it('carries the key’s scopes: a permission the key lacks is forbidden with its token too', async () => {
    const { key } = await createKey(owner, ['tenant:read']);
    const token = (await exchange(key)).data!.exchangeApiKey.accessToken;
    expect(errorOf((await t.execute(ApiKeysDocument, { tenantId }, bearer(token))).body)?.extensions?.code).toBe('forbidden');
  });

  it('never outlives its key', async () => {
    const { key } = await createKey(owner, ['tenant:read'], { expiresAt: new Date(Date.now() + 90_000).toISOString() });
    expect((await exchange(key)).data!.exchangeApiKey.expiresIn).toBeLessThanOrEqual(90);
  });

  it('dies with its key: revoked, the token is refused (api_key_revoked)', async () => {
    const { key, apiKey } = await createKey(owner, ['tenant:read']);
    const token = (await exchange(key)).data!.exchangeApiKey.accessToken;
    expect((await t.execute(ApiKeyViewerDocument, {}, bearer(token))).body.data?.viewer?.userId).toBe(owner.userId);
    await t.execute(RevokeApiKeyDocument, { input: { apiKeyId: apiKey.id } }, owner.headers);
    const { status, body } = await t.execute(ApiKeyViewerDocument, {}, bearer(token));
    expect(status).toBe(401);
    expect(errorOf(body)?.extensions).toMatchObject({ code: 'unauthenticated', reason: 'api_key_revoked' });
    expect(errorOf((await exchange(key)))?.extensions).toMatchObject({ code: 'unauthenticated', reason: 'api_key_revoked' });
  });

  it('a bad key is unauthenticated with the one message; an empty one is bad_request', async () => {
    const { key } = await createKey(owner, ['tenant:read']);
    for (const bad of [`${key.slice(0, -1)}${key.endsWith('A') ? 'B' : 'A'}`, 'idg_000000000000.x', 'not a key']) {
      expect(errorOf(await exchange(bad))).toMatchObject({ message: 'The API key is invalid.', extensions: { code: 'unauthenticated' } });
    }
    expect(errorOf(await exchange(''))?.extensions).toMatchObject({ code: 'bad_request', field: 'key' });
  });

  it('is rate-limited per IP when configured (AUTH_RATE_LIMIT_API_KEY_EXCHANGE)', async () => {
    const limited = await startTestApp({ env: { AUTH_RATE_LIMIT_API_KEY_EXCHANGE: '2' } });
    try {
      const codes = [];
      for (let i = 0; i < 3; i++) {
        const response = await fetch(`${limited.url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ query: 'mutation($key: String!) { exchangeApiKey(input: { key: $key }) { accessToken } }', variables: { key: 'idg_000000000000.guess' } }),
        });
        const body = (await response.json()) as { errors: Array<{ extensions: Record<string, unknown> }> };
        codes.push(body.errors[0]!.extensions.code);
        if (i === 2) expect(body.errors[0]!.extensions.retryAfterSeconds).toBeGreaterThan(0);
      }
      expect(codes).toEqual(['unauthenticated', 'unauthenticated', 'rate_limited']);
    } finally {
      await limited.close();
    }
  });
});

describe('last_used_at', () => {
  it('is not written per request: one UPDATE per flush for every key used since the last one', async () => {
    const [a, b] = [await createKey(owner, ['tenant:read']), await createKey(owner, ['tenant:read'])];
    await t.execute(ApiKeyViewerDocument, {}, apiKeyHeader(a.key));
    await t.execute(ApiKeyViewerDocument, {}, apiKeyHeader(b.key));
    // Cached key: the one statement is activeTenant's read; nothing is written.
    expect(await t.countStatements(() => t.execute(ApiKeyViewerDocument, {}, apiKeyHeader(a.key)))).toBe(1);
    const stored = () => t.app.db.prisma.apiKey.findMany({ where: { id: { in: [a.apiKey.id, b.apiKey.id] } }, select: { lastUsedAt: true } });
    expect((await stored()).map((k) => k.lastUsedAt)).toEqual([null, null]);
    expect(await t.countStatements(() => t.app.apiKeyAuth.flushLastUsed())).toBe(1);
    for (const { lastUsedAt } of await stored()) expect(lastUsedAt).toBeInstanceOf(Date);
    expect(await t.countStatements(() => t.app.apiKeyAuth.flushLastUsed())).toBe(0);
    const listed = await t.execute(ApiKeysDocument, { tenantId, first: 100 }, owner.headers);
    expect(listed.body.data!.apiKeys.edges.find((e) => e.node.id === a.apiKey.id)?.node.lastUsedAt).toEqual(expect.any(String));
  });

  it('a background flush writes on its own after the interval', async () => {
    const { key, apiKey } = await createKey(owner, ['tenant:read']);
    const authenticator = createApiKeyAuthenticator({ db: t.app.db.prisma, clock: Date.now, flushEveryMs: 20 });
    await authenticator.authenticate(key);
    await vi.waitFor(async () => {
      expect((await t.app.db.prisma.apiKey.findUniqueOrThrow({ where: { id: apiKey.id } })).lastUsedAt).toBeInstanceOf(Date);
    });
    await authenticator.stop();
  });

  it('stopping the app writes what is pending', async () => {
    // A database that outlives the app: a PGlite directory, or a PostgreSQL database dropped at the end.
    const database =
      testDatabaseKind === 'postgres'
        ? await createPostgresDatabase()
        : { url: `file:${fs.mkdtempSync(path.join(os.tmpdir(), 'idgraph-keys-'))}`, drop: async () => {} };
    const kept = { url: database.url, drop: async () => {} };
    try {
      const first = await startTestApp({ database: kept });
      const user = await signUpUser(first);
      const tenant = await seedTenant(first, user.userId);
      const { body } = await first.execute(CreateApiKeyDocument, { input: { tenantId: tenant.id, displayName: 'm', scopes: ['tenant:read'] } }, user.headers);
      const { key, apiKey } = body.data!.createApiKey;
      issued.push(key);
      await first.execute(ApiKeyViewerDocument, {}, apiKeyHeader(key));
      await first.close();
      const second = await startTestApp({ database: kept });
      try {
        expect((await second.app.db.prisma.apiKey.findUniqueOrThrow({ where: { id: apiKey.id } })).lastUsedAt).toBeInstanceOf(Date);
      } finally {
        await second.close();
      }
    } finally {
      await database.drop();
    }
  });
});

describe('the lookup cache (injected clock)', () => {
  let now = Date.now();
  const authenticator = () => createApiKeyAuthenticator({ db: t.app.db.prisma, clock: () => now });

  it('one lookup per key per window; the secret is compared every time', async () => {
    const auth = authenticator();
    const { key } = await createKey(owner, ['tenant:read']);
    expect(await t.countStatements(() => auth.authenticate(key))).toBe(1);
    expect(await t.countStatements(() => auth.authenticate(key))).toBe(0);
    await expect(auth.authenticate(`${key.slice(0, -1)}${key.endsWith('A') ? 'B' : 'A'}`)).rejects.toMatchObject({ code: 'unauthenticated' });
    now += API_KEY_CACHE_MS;
    expect(await t.countStatements(() => auth.authenticate(key))).toBe(1);
    await auth.stop();
  });

  it('a revocation or suspension written by another replica is honoured within the window; forget() drops a key at once', async () => {
    const auth = authenticator();
    const { user, key, apiKey } = await keyHolder();
    await auth.authenticate(key);
    await t.app.db.prisma.apiKey.update({ where: { id: apiKey.id }, data: { revokedAt: new Date() } });
    await t.app.db.prisma.user.update({ where: { id: user.userId }, data: { status: 'suspended' } });
    // The bound: still accepted from memory until the window has passed...
    await expect(auth.authenticate(key)).resolves.toMatchObject({ userId: user.userId });
    now += API_KEY_CACHE_MS;
    await expect(auth.authenticate(key)).rejects.toMatchObject({ code: 'unauthenticated', extensions: { reason: 'api_key_revoked' } });

    const second = await keyHolder();
    await auth.authenticate(second.key);
    await t.app.db.prisma.apiKey.update({ where: { id: second.apiKey.id }, data: { revokedAt: new Date() } });
    auth.forget(second.apiKey);
    await expect(auth.authenticate(second.key)).rejects.toMatchObject({ extensions: { reason: 'api_key_revoked' } });
    await auth.stop();
  });
});

describe('logs', () => {
  it('never contain a key, its secret or a platform token', async () => {
    expect(issued.length).toBeGreaterThan(10);
    expect(t.logs.lines.length).toBeGreaterThan(0);
    const text = t.logs.text();
    for (const value of issued) {
      expect(text).not.toContain(value);
      expect(text).not.toContain(value.split('.').at(-1));
    }
  });
});
