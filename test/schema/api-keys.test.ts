import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AddOriginDocument,
  AdminSearchDocument,
  AdminStatsDocument,
  ApiKeysDocument,
  AuditEventsDocument,
  CreateApiKeyDocument,
  CreateRoleDocument,
  RevokeApiKeyDocument,
  TenantDocument,
  TenantsDocument,
  UpdateUserStatusDocument,
} from '../generated/graphql.js';
import { builtinPermissions } from '../../src/services/permissions.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { realmFootprint, seedMember, seedRole, seedTenant, signInRealmAdmin, signUpUser, type SignedIn } from '../helpers/realm.js';

// createApiKey, apiKeys and revokeApiKey: allow paths with the stored rows and
// events, and every deny path with nothing written.

let t: TestApp;
let owner: SignedIn;
let manager: SignedIn;
let reader: SignedIn;
let outsider: SignedIn;
let tenantId: string;

const apiKeyHeader = (key: string) => ({ authorization: `ApiKey ${key}` });
const sha256Hex = (value: string) => createHash('sha256').update(value).digest('hex');
const secretOf = (key: string) => key.split('.')[1]!;
const inAYear = () => new Date(Date.now() + 364 * 24 * 3600 * 1000).toISOString();

async function createKey(user: SignedIn, scopes: string[], extra: { displayName?: string; expiresAt?: string } = {}) {
  const { body } = await t.execute(
    CreateApiKeyDocument,
    { input: { tenantId, displayName: extra.displayName ?? 'CI deploys', scopes, expiresAt: extra.expiresAt } },
    user.headers,
  );
  if (!body.data) throw new Error(`createApiKey failed: ${JSON.stringify(body.errors)}`);
  return body.data.createApiKey;
}

/** Rows and events: a refused operation must leave both unchanged. */
const written = async () => ({ keys: await t.app.db.prisma.apiKey.count(), events: await t.app.db.prisma.event.count() });

beforeAll(async () => {
  t = await startTestApp();
  [owner, manager, reader, outsider] = await Promise.all([signUpUser(t), signUpUser(t), signUpUser(t), signUpUser(t)]);
  tenantId = (await seedTenant(t, owner.userId)).id;
  await seedTenant(t, outsider.userId);
  await seedRole(t, 'keymaster', ['tenant:read', 'apikeys:manage']);
  await seedRole(t, 'reader', ['tenant:read']);
  await seedMember(t, tenantId, manager.userId, 'keymaster');
  await seedMember(t, tenantId, reader.userId, 'reader');
});
afterAll(() => t.close());

describe('createApiKey', () => {
  it('returns the key once, stores only the SHA-256 of its secret, and appends apikey.created', async () => {
    const { key, apiKey } = await createKey(owner, ['tenant:read', 'apikeys:manage', 'tenant:read']);
    expect(key).toMatch(/^idg_[0-9a-f]{12}\.[A-Za-z0-9_-]{43}$/);
    expect(key.slice(4, 16)).toBe(apiKey.prefix);
    expect(apiKey).toMatchObject({ displayName: 'CI deploys', scopes: ['tenant:read', 'apikeys:manage'], lastUsedAt: null, revokedAt: null, owner: { id: owner.userId } });
    // No expiry given: the longest lifetime, one year.
    expect(new Date(apiKey.expiresAt!).getTime() - new Date(apiKey.createdAt).getTime()).toBeGreaterThan(364 * 24 * 3600 * 1000);
    const row = await t.app.db.prisma.apiKey.findUniqueOrThrow({ where: { id: apiKey.id } });
    expect(row).toMatchObject({ tenantId, ownerId: owner.userId, prefix: apiKey.prefix, secretHash: sha256Hex(secretOf(key)) });
    expect(JSON.stringify(row)).not.toContain(secretOf(key));
    const events = await t.app.db.prisma.event.findMany({ where: { aggregateId: apiKey.id } });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      aggregateType: 'api_key',
      type: 'apikey.created',
      tenantId,
      payload: { displayName: 'CI deploys', prefix: apiKey.prefix, scopes: ['tenant:read', 'apikeys:manage'], ownerId: owner.userId },
      metadata: { actorId: owner.userId },
    });
    const stored = JSON.stringify([events[0]!.payload, events[0]!.metadata]);
    expect(stored).not.toContain(secretOf(key));
    expect(stored).not.toContain(row.secretHash);
  });

  it('keeps a chosen expiry; a member whose role grants apikeys:manage may create keys within their own permissions', async () => {
    const expiresAt = inAYear();
    const { apiKey } = await createKey(manager, ['tenant:read'], { expiresAt });
    expect(apiKey).toMatchObject({ scopes: ['tenant:read'], expiresAt, owner: { id: manager.userId } });
  });

  it('refuses scopes the caller does not hold, naming them (forbidden role_exceeds_permissions, nothing written)', async () => {
    const before = await written();
    const { body } = await t.execute(
      CreateApiKeyDocument,
      { input: { tenantId, displayName: 'too strong', scopes: ['tenant:read', 'members:manage', 'roles:manage'] } },
      manager.headers,
    );
    expect(body.errors?.[0]?.extensions).toMatchObject({
      code: 'forbidden',
      reason: 'role_exceeds_permissions',
      field: 'scopes',
      permissions: ['members:manage', 'roles:manage'],
    });
    // A key acts through its owner's role: a realm admin who is a plain member mints no more than that role holds.
    const admin = await signInRealmAdmin(t);
    const joined = (await seedTenant(t, owner.userId)).id;
    await seedMember(t, joined, admin.userId, 'keymaster');
    const seeded = await written();
    const input = { tenantId: joined, displayName: 'admin', scopes: ['tenant:read', 'tenant:write'] };
    const asAdmin = await t.execute(CreateApiKeyDocument, { input }, admin.headers);
    expect(asAdmin.body.errors?.[0]?.extensions).toMatchObject({ code: 'forbidden', reason: 'role_exceeds_permissions', permissions: ['tenant:write'] });
    expect(await written()).toEqual(seeded);
    expect(seeded.keys).toBe(before.keys);
  });

  it('deny: anonymous, another tenant’s member, a member without apikeys:manage, an API key, a realm admin outside the tenant', async () => {
    const { key } = await createKey(owner, ['tenant:read', 'apikeys:manage']);
    const admin = await signInRealmAdmin(t);
    const before = await written();
    const input = { tenantId, displayName: 'nope', scopes: ['tenant:read'] };
    const attempt = async (headers: Record<string, string>) => (await t.execute(CreateApiKeyDocument, { input }, headers)).body.errors?.[0]?.extensions;
    expect(await attempt({})).toMatchObject({ code: 'unauthenticated' });
    expect(await attempt(outsider.headers)).toMatchObject({ code: 'not_found' });
    expect(await attempt(reader.headers)).toMatchObject({ code: 'forbidden', permission: 'apikeys:manage' });
    expect(await attempt(apiKeyHeader(key))).toMatchObject({ code: 'forbidden', reason: 'api_key_caller' });
    expect(await attempt(admin.headers)).toMatchObject({ code: 'forbidden', reason: 'not_a_member' });
    expect(await written()).toEqual(before);
  });

  it('bad input names the field (bad_request, nothing written)', async () => {
    const before = await written();
    const valid = { tenantId, displayName: 'ok', scopes: ['tenant:read'] };
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ tenantId: 'not-an-id' }, 'tenantId'],
      [{ displayName: '   ' }, 'displayName'],
      [{ displayName: 'x'.repeat(201) }, 'displayName'],
      [{ scopes: [] }, 'scopes'],
      [{ scopes: ['tenant:read', 'Not A Permission'] }, 'scopes.1'],
      [{ expiresAt: new Date(Date.now() - 60_000).toISOString() }, 'expiresAt'],
      [{ expiresAt: new Date(Date.now() + 400 * 24 * 3600 * 1000).toISOString() }, 'expiresAt'],
    ];
    for (const [change, field] of cases) {
      const { body } = await t.execute(CreateApiKeyDocument, { input: { ...valid, ...change } as never }, owner.headers);
      expect(body.errors?.[0]?.extensions, field).toMatchObject({ code: 'bad_request', field });
    }
    const notADate = await t.execute(CreateApiKeyDocument, { input: { ...valid, expiresAt: 'tomorrow' } }, owner.headers);
    expect(notADate.body.errors?.[0]?.extensions?.code).toBe('bad_request');
    expect(await written()).toEqual(before);
  });
});

describe('apiKeys', () => {
  it('lists the tenant’s keys newest first, page by page, without any secret or hash', async () => {
    const first = await createKey(owner, ['tenant:read'], { displayName: 'older' });
    const second = await createKey(owner, ['tenant:read'], { displayName: 'newer' });
    const page1 = await t.execute(ApiKeysDocument, { tenantId, first: 1 }, manager.headers);
    expect(page1.body.errors).toBeUndefined();
    const connection = page1.body.data!.apiKeys;
    expect(connection.edges.map((e) => e.node.id)).toEqual([second.apiKey.id]);
    expect(connection.pageInfo.hasNextPage).toBe(true);
    const page2 = await t.execute(ApiKeysDocument, { tenantId, first: 1, after: connection.pageInfo.endCursor }, manager.headers);
    expect(page2.body.data!.apiKeys.edges.map((e) => e.node.id)).toEqual([first.apiKey.id]);
    const all = await t.execute(ApiKeysDocument, { tenantId, first: 100 }, owner.headers);
    const rows = await t.app.db.prisma.apiKey.findMany({ where: { tenantId } });
    expect(all.body.data!.apiKeys.edges).toHaveLength(rows.length);
    const text = JSON.stringify(all.body);
    for (const row of rows) expect(text).not.toContain(row.secretHash);
    expect(text).not.toContain(secretOf(first.key));
  });

  it('deny: anonymous, another tenant’s member, a member without apikeys:manage; a bad id is bad_request', async () => {
    const codes = await Promise.all(
      [{}, outsider.headers, reader.headers].map(async (headers) => (await t.execute(ApiKeysDocument, { tenantId }, headers)).body.errors?.[0]?.extensions?.code),
    );
    expect(codes).toEqual(['unauthenticated', 'not_found', 'forbidden']);
    const bad = await t.execute(ApiKeysDocument, { tenantId: 'nope' }, owner.headers);
    expect(bad.body.errors?.[0]?.extensions).toMatchObject({ code: 'bad_request', field: 'tenantId' });
  });
});

describe('revokeApiKey', () => {
  it('revokes, appends apikey.revoked, refuses the key at once; revoking again is conflict already_revoked', async () => {
    const { key, apiKey } = await createKey(owner, ['tenant:read', 'apikeys:manage']);
    // Used (and so cached) before the revocation.
    expect((await t.execute(ApiKeysDocument, { tenantId }, apiKeyHeader(key))).body.errors).toBeUndefined();
    const { body } = await t.execute(RevokeApiKeyDocument, { input: { apiKeyId: apiKey.id } }, manager.headers);
    expect(body.errors).toBeUndefined();
    expect(body.data!.revokeApiKey.apiKey.revokedAt).toEqual(expect.any(String));
    const row = await t.app.db.prisma.apiKey.findUniqueOrThrow({ where: { id: apiKey.id } });
    expect(row.revokedAt?.toISOString()).toBe(body.data!.revokeApiKey.apiKey.revokedAt);
    const events = await t.app.db.prisma.event.findMany({ where: { aggregateId: apiKey.id }, orderBy: { position: 'asc' } });
    expect(events.map((e) => e.type)).toEqual(['apikey.created', 'apikey.revoked']);
    expect(events[1]).toMatchObject({ tenantId, payload: { prefix: apiKey.prefix, displayName: 'CI deploys' }, metadata: { actorId: manager.userId } });

    const refused = await t.execute(ApiKeysDocument, { tenantId }, apiKeyHeader(key));
    expect(refused.status).toBe(401);
    expect(refused.body.errors?.[0]?.extensions).toMatchObject({ code: 'unauthenticated', reason: 'api_key_revoked' });

    const before = await written();
    const again = await t.execute(RevokeApiKeyDocument, { input: { apiKeyId: apiKey.id } }, owner.headers);
    expect(again.body.errors?.[0]?.extensions).toMatchObject({ code: 'conflict', reason: 'already_revoked' });
    expect(await written()).toEqual(before);
  });

  it('deny: anonymous, another tenant’s member and unknown ids are not_found-style refusals; bad ids bad_request; nothing written', async () => {
    const { apiKey } = await createKey(owner, ['tenant:read']);
    const before = await written();
    const revoke = async (apiKeyId: string, headers: Record<string, string>) =>
      (await t.execute(RevokeApiKeyDocument, { input: { apiKeyId } }, headers)).body.errors?.[0]?.extensions;
    expect(await revoke(apiKey.id, {})).toMatchObject({ code: 'unauthenticated' });
    expect(await revoke(apiKey.id, outsider.headers)).toMatchObject({ code: 'not_found' });
    expect(await revoke(apiKey.id, reader.headers)).toMatchObject({ code: 'forbidden', permission: 'apikeys:manage' });
    expect(await revoke('00000000-0000-4000-8000-000000000000', owner.headers)).toMatchObject({ code: 'not_found' });
    expect(await revoke('not-an-id', owner.headers)).toMatchObject({ code: 'bad_request', field: 'apiKeyId' });
    expect(await written()).toEqual(before);
    expect((await t.app.db.prisma.apiKey.findUniqueOrThrow({ where: { id: apiKey.id } })).revokedAt).toBeNull();
  });
});

describe('an API key of the realm’s base admin tenant', () => {
  it('is confined to that tenant: it never acts as a realm admin, whatever its scopes', async () => {
    const admin = await signInRealmAdmin(t);
    const baseTenantId = (await t.app.db.prisma.tenant.findFirstOrThrow({ where: { isBaseAdmin: true } })).id;
    const { body } = await t.execute(
      CreateApiKeyDocument,
      { input: { tenantId: baseTenantId, displayName: 'admin automation', scopes: [...builtinPermissions] } },
      admin.headers,
    );
    expect(body.errors).toBeUndefined();
    const key = apiKeyHeader(body.data!.createApiKey.key);
    const before = await realmFootprint(t);
    const refusals: Array<[string, Promise<{ body: { errors?: readonly { extensions?: Record<string, unknown> }[] } }>, string]> = [
      ['adminStats', t.execute(AdminStatsDocument, {}, key), 'forbidden'],
      ['adminSearch', t.execute(AdminSearchDocument, { q: 'tenant' }, key), 'forbidden'],
      ['auditEvents of the realm', t.execute(AuditEventsDocument, { first: 5 }, key), 'forbidden'],
      ['createRole', t.execute(CreateRoleDocument, { input: { name: 'from_key', displayName: 'x', permissions: [] } }, key), 'forbidden'],
      ['addOrigin', t.execute(AddOriginDocument, { input: { origin: 'https://key.example.com' } }, key), 'forbidden'],
      ['updateUserStatus', t.execute(UpdateUserStatusDocument, { input: { userId: reader.userId, status: 'SUSPENDED' } }, key), 'forbidden'],
      ['another tenant', t.execute(TenantDocument, { id: tenantId }, key), 'not_found'],
    ];
    for (const [what, pending, code] of refusals) expect((await pending).body.errors?.[0]?.extensions?.code, what).toBe(code);
    expect(await realmFootprint(t)).toEqual(before);
    // Within its tenant it works; the tenant list is that tenant alone.
    expect((await t.execute(TenantDocument, { id: baseTenantId }, key)).body.data?.tenant?.id).toBe(baseTenantId);
    const listed = await t.execute(TenantsDocument, { first: 50 }, key);
    expect(listed.body.data!.tenants.edges.map((e) => e.node.id)).toEqual([baseTenantId]);
    // The same person, signed in, is a realm admin.
    expect((await t.execute(AdminStatsDocument, {}, admin.headers)).body.errors).toBeUndefined();
  });
});
