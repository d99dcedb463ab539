import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeysDocument, TenantDocument } from '../generated/graphql.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { seedMember, seedRole, seedTenant, signUpUser, type SignedIn } from '../helpers/realm.js';

// POST /v1/sync/api-key and /v1/sync/backfill-api-keys over real HTTP: keys issued
// elsewhere, stored hash only, that authenticate on /graphql like any other.

const syncSecret = 'k'.repeat(40);
let t: TestApp;
let owner: SignedIn;
let reader: SignedIn;
let outsider: SignedIn;
let tenantId: string;
let otherTenantId: string;

beforeAll(async () => {
  t = await startTestApp({ env: { SYNC_WEBHOOK_SECRET: syncSecret } });
  [owner, reader, outsider] = await Promise.all([signUpUser(t), signUpUser(t), signUpUser(t)]);
  tenantId = (await seedTenant(t, owner.userId)).id;
  otherTenantId = (await seedTenant(t, outsider.userId)).id;
  await seedRole(t, 'sync-reader', ['tenant:read']);
  await seedMember(t, tenantId, reader.userId, 'sync-reader');
});
afterAll(() => t.close());

/** A key made as idgraph makes one (idg_<12 hex>.<43 base64url>), and the parts a sync carries: the prefix and the SHA-256 hex of the secret. */
function issueKey() {
  const prefix = randomBytes(6).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  return { key: `idg_${prefix}.${secret}`, key_prefix: prefix, key_hash: createHash('sha256').update(secret).digest('hex') };
}

const inMonths = (months: number) => new Date(Date.now() + months * 30 * 24 * 3600 * 1000).toISOString();

function keyPayload(overrides: Record<string, unknown> = {}) {
  const { key, ...parts } = issueKey();
  const payload: Record<string, unknown> = {
    action: 'create',
    id: randomUUID(),
    user_id: owner.userId,
    tenant_id: tenantId,
    name: 'Edge function key',
    ...parts,
    scopes: ['tenant:read'],
    expires_at: inMonths(6),
    ...overrides,
  };
  return { key, payload };
}

async function post(path: string, body: unknown, secret: string | null = syncSecret) {
  const response = await fetch(`${t.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(secret === null ? {} : { 'x-webhook-secret': secret }) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}
const syncKey = (body: unknown, secret?: string | null) => post('/v1/sync/api-key', body, secret);
const backfill = (body: unknown, secret?: string | null) => post('/v1/sync/backfill-api-keys', body, secret);

/** A GraphQL operation over HTTP with `Authorization: ApiKey <key>`. */
async function asKey(key: string, document: typeof TenantDocument | typeof ApiKeysDocument, variables: Record<string, unknown>) {
  const response = await fetch(`${t.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', authorization: `ApiKey ${key}` },
    body: JSON.stringify({ query: print(document), variables }),
  });
  return { status: response.status, body: (await response.json()) as { data?: any; errors?: { extensions?: Record<string, unknown> }[] } };
}
const readsTenant = async (key: string) => (await asKey(key, TenantDocument, { id: tenantId })).body.data?.tenant?.id === tenantId;
const refusal = async (key: string) => (await asKey(key, TenantDocument, { id: tenantId })).body.errors?.[0]?.extensions;

/** Rows and events: a refused call leaves both unchanged. */
const written = async () => ({ keys: await t.app.db.prisma.apiKey.count(), events: await t.app.db.prisma.event.count() });
const eventsOf = (id: string) => t.app.db.prisma.event.findMany({ where: { aggregateId: id }, orderBy: { position: 'asc' } });

describe('the shared secret', () => {
  it('missing or wrong: 401 on both routes, and nothing written', async () => {
    const before = await written();
    const { payload } = keyPayload();
    for (const secret of [null, 'x'.repeat(40), syncSecret.slice(0, -1), `${syncSecret}k`]) {
      const single = await syncKey(payload, secret);
      expect([single.status, single.body.error_code]).toEqual([401, 'unauthenticated']);
      const bulk = await backfill({ keys: [payload] }, secret);
      expect([bulk.status, bulk.body.error_code]).toEqual([401, 'unauthenticated']);
    }
    expect(await written()).toEqual(before);
  });
});

describe('POST /v1/sync/api-key', () => {
  it('create: the row holds the hash only, one apikey.synced event without it, and the key authenticates on /graphql', async () => {
    const { key, payload } = keyPayload();
    expect(await refusal(key)).toMatchObject({ code: 'unauthenticated' });
    const answer = await syncKey(payload);
    expect(answer).toEqual({ status: 200, body: { apiKeyId: payload.id, action: 'create', changed: true, eventType: 'apikey.synced' } });

    const row = await t.app.db.prisma.apiKey.findUniqueOrThrow({ where: { id: payload.id as string } });
    expect(row).toMatchObject({ tenantId, ownerId: owner.userId, displayName: 'Edge function key', prefix: payload.key_prefix, secretHash: payload.key_hash, scopes: ['tenant:read'], revokedAt: null });
    expect(row.expiresAt?.toISOString()).toBe(payload.expires_at);
    expect(JSON.stringify(row)).not.toContain(key.split('.')[1]);

    const [event, ...more] = await eventsOf(payload.id as string);
    expect(more).toEqual([]);
    expect(event).toMatchObject({
      aggregateType: 'api_key',
      type: 'apikey.synced',
      tenantId,
      payload: { action: 'create', created: true, rotated: false, prefix: payload.key_prefix, scopes: ['tenant:read'], ownerId: owner.userId },
      metadata: { actorId: null, source: 'sync' },
    });
    expect(JSON.stringify([event!.payload, event!.metadata])).not.toContain(payload.key_hash as string);

    expect(await readsTenant(key)).toBe(true);
    // The key's scopes hold: tenant:read, not apikeys:manage.
    expect((await asKey(key, ApiKeysDocument, { tenantId })).body.errors?.[0]?.extensions).toMatchObject({ code: 'forbidden' });
  });

  it('is idempotent: the same payload again is 200 changed:false, one row and one event', async () => {
    const { key, payload } = keyPayload({ action: 'rotate' });
    expect((await syncKey(payload)).body.changed).toBe(true);
    const before = await written();
    for (let i = 0; i < 3; i++) expect(await syncKey(payload)).toEqual({ status: 200, body: { apiKeyId: payload.id, action: 'rotate', changed: false, eventType: null } });
    // Concurrent deliveries of one payload wait for each other's row lock and find nothing left to do.
    const concurrent = await Promise.all([syncKey(payload), syncKey(payload)]);
    expect(concurrent.map((r) => r.body.changed)).toEqual([false, false]);
    expect(await written()).toEqual(before);
    expect(await eventsOf(payload.id as string)).toHaveLength(1);
    expect(await readsTenant(key)).toBe(true);
  });

  it('concurrent first deliveries of one payload: one row, one event', async () => {
    const { payload } = keyPayload();
    const answers = await Promise.all([syncKey(payload), syncKey(payload), syncKey(payload)]);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    expect(answers.filter((a) => a.body.changed)).toHaveLength(1);
    expect(await t.app.db.prisma.apiKey.count({ where: { id: payload.id as string } })).toBe(1);
    expect(await eventsOf(payload.id as string)).toHaveLength(1);
  });

  it('organization_id is read as tenant_id', async () => {
    const { key, payload } = keyPayload();
    const { tenant_id, ...rest } = payload;
    expect((await syncKey({ ...rest, organization_id: tenant_id })).status).toBe(200);
    expect(await readsTenant(key)).toBe(true);
  });

  it('update changes name, scopes and expiry at once (this replica forgets the cached key); a different secret needs rotate', async () => {
    const { key, payload } = keyPayload();
    await syncKey(payload);
    expect(await readsTenant(key)).toBe(true); // cached now
    const update = { ...payload, action: 'update', name: 'Renamed', scopes: ['apikeys:manage', 'tenant:read'], expires_at: inMonths(3) };
    expect((await syncKey(update)).body).toMatchObject({ changed: true, eventType: 'apikey.synced' });
    expect((await asKey(key, ApiKeysDocument, { tenantId })).body.errors).toBeUndefined();
    expect(await t.app.db.prisma.apiKey.findUniqueOrThrow({ where: { id: payload.id as string } })).toMatchObject({ displayName: 'Renamed', scopes: ['apikeys:manage', 'tenant:read'] });
    // The same scopes in another order change nothing.
    expect((await syncKey({ ...update, scopes: ['tenant:read', 'apikeys:manage', 'tenant:read'] })).body.changed).toBe(false);

    const before = await written();
    const { key_prefix, key_hash } = issueKey();
    for (const action of ['create', 'update']) {
      const stale = await syncKey({ ...update, action, key_prefix, key_hash });
      expect([stale.status, stale.body.error_code, stale.body.reason, stale.body.field]).toEqual([409, 'conflict', 'credential_mismatch', 'key_hash']);
    }
    expect(await written()).toEqual(before);
    expect(await readsTenant(key)).toBe(true);
  });

  it('rotate: the old key is refused at once, the new one works; revoke: refused, once, and revoked stays revoked', async () => {
    const { key: oldKey, payload } = keyPayload();
    await syncKey(payload);
    expect(await readsTenant(oldKey)).toBe(true);
    const { key: newKey, ...parts } = issueKey();
    const rotation = { ...payload, action: 'rotate', ...parts };
    expect((await syncKey(rotation)).body).toMatchObject({ changed: true });
    expect(await refusal(oldKey)).toMatchObject({ code: 'unauthenticated' });
    expect(await readsTenant(newKey)).toBe(true);
    expect((await eventsOf(payload.id as string)).at(-1)?.payload).toMatchObject({ action: 'rotate', created: false, rotated: true, prefix: parts.key_prefix });

    const revocation = { action: 'revoke', id: payload.id, organization_id: tenantId };
    expect(await syncKey(revocation)).toEqual({ status: 200, body: { apiKeyId: payload.id, action: 'revoke', changed: true, eventType: 'apikey.revoked' } });
    expect(await refusal(newKey)).toMatchObject({ code: 'unauthenticated', reason: 'api_key_revoked' });
    // A status flip: the row stays, for audit.
    expect((await t.app.db.prisma.apiKey.findUniqueOrThrow({ where: { id: payload.id as string } })).revokedAt).not.toBeNull();
    const before = await written();
    expect((await syncKey({ ...rotation, action: 'revoke' })).body).toMatchObject({ changed: false, eventType: null });
    for (const action of ['create', 'update', 'rotate']) {
      const revived = await syncKey({ ...rotation, action });
      expect([revived.status, revived.body.reason]).toEqual([409, 'already_revoked']);
    }
    expect(await written()).toEqual(before);
    expect((await eventsOf(payload.id as string)).map((e) => e.type)).toEqual(['apikey.synced', 'apikey.synced', 'apikey.revoked']);
    expect(await refusal(newKey)).toMatchObject({ reason: 'api_key_revoked' });
  });

  it('revoke filters by the tenant it names: a key of another tenant, or none, is not_found', async () => {
    const { key, payload } = keyPayload();
    await syncKey(payload);
    const before = await written();
    for (const body of [
      { action: 'revoke', id: payload.id, tenant_id: otherTenantId },
      { action: 'revoke', id: randomUUID(), tenant_id: tenantId },
    ]) {
      const refused = await syncKey(body);
      expect([refused.status, refused.body.error_code, refused.body.field]).toEqual([404, 'not_found', 'id']);
    }
    expect(await written()).toEqual(before);
    expect(await readsTenant(key)).toBe(true);
  });

  it('scopes beyond the owner’s role in the tenant are refused (create and update), nothing written', async () => {
    const before = await written();
    const { key, payload } = keyPayload({ user_id: reader.userId, scopes: ['tenant:read', 'apikeys:manage', 'members:manage'] });
    const refused = await syncKey(payload);
    expect([refused.status, refused.body.error_code, refused.body.reason, refused.body.field]).toEqual([403, 'forbidden', 'role_exceeds_permissions', 'scopes']);
    expect(refused.body.permissions).toEqual(['apikeys:manage', 'members:manage']);
    expect(await written()).toEqual(before);
    expect(await refusal(key)).toMatchObject({ code: 'unauthenticated' });

    // Within the role it is written; widening it later is refused the same way.
    expect((await syncKey({ ...payload, scopes: ['tenant:read'] })).status).toBe(200);
    const after = await written();
    const widened = await syncKey({ ...payload, action: 'update', scopes: ['tenant:read', 'tenant:write'] });
    expect([widened.status, widened.body.reason]).toEqual([403, 'role_exceeds_permissions']);
    expect(await written()).toEqual(after);
    expect((await t.app.db.prisma.apiKey.findUniqueOrThrow({ where: { id: payload.id as string } })).scopes).toEqual(['tenant:read']);
  });

  it('unknown tenant or owner, an owner outside the tenant, a key moved or a taken prefix: refused with the field, nothing written', async () => {
    const existing = keyPayload();
    await syncKey(existing.payload);
    const before = await written();
    const cases: Array<[Record<string, unknown>, number, string, string]> = [
      [keyPayload({ tenant_id: randomUUID() }).payload, 404, 'tenant_id', 'unknown_tenant'],
      [keyPayload({ user_id: randomUUID() }).payload, 404, 'user_id', 'unknown_user'],
      [keyPayload({ user_id: outsider.userId }).payload, 403, 'user_id', 'not_a_member'],
      [{ ...existing.payload, user_id: outsider.userId, tenant_id: otherTenantId }, 409, 'id', 'key_moved'],
      [{ ...existing.payload, user_id: reader.userId }, 409, 'id', 'key_moved'],
      [keyPayload({ key_prefix: existing.payload.key_prefix }).payload, 409, 'key_prefix', 'prefix_taken'],
      [{ ...existing.payload, action: 'rotate', key_prefix: (await t.app.db.prisma.apiKey.findFirstOrThrow({ where: { NOT: { id: existing.payload.id as string } } })).prefix }, 409, 'key_prefix', 'prefix_taken'],
    ];
    for (const [body, status, field, reason] of cases) {
      const refused = await syncKey(body);
      expect([refused.status, refused.body.field, refused.body.reason], JSON.stringify(body)).toEqual([status, field, reason]);
    }
    expect(await written()).toEqual(before);
  });

  it('bad input: 400 naming the field, and nothing written', async () => {
    const { key, payload } = keyPayload();
    const drop = (name: string) => Object.fromEntries(Object.entries(payload).filter(([k]) => k !== name));
    const cases: Array<[unknown, string, string?]> = [
      [drop('action'), 'action'],
      [{ ...payload, action: 'delete' }, 'action'],
      [drop('id'), 'id'],
      [{ ...payload, id: 'key-1' }, 'id'],
      [drop('user_id'), 'user_id'],
      [{ ...payload, user_id: 42 }, 'user_id'],
      [drop('tenant_id'), 'tenant_id'],
      [{ ...payload, organization_id: otherTenantId }, 'organization_id'],
      [drop('name'), 'name'],
      [{ ...payload, name: '   ' }, 'name'],
      [{ ...payload, name: 'a\u0000b' }, 'name'],
      [{ ...payload, name: 'x'.repeat(201) }, 'name'],
      [drop('key_prefix'), 'key_prefix'],
      [{ ...payload, key_prefix: 'ABCDEF012345' }, 'key_prefix'],
      [{ ...payload, key_prefix: `idg_${payload.key_prefix}` }, 'key_prefix'],
      [drop('key_hash'), 'key_hash'],
      [{ ...payload, key_hash: (payload.key_hash as string).toUpperCase() }, 'key_hash'],
      [{ ...payload, key_hash: key.split('.')[1] }, 'key_hash'],
      [drop('scopes'), 'scopes'],
      [{ ...payload, scopes: [] }, 'scopes'],
      [{ ...payload, scopes: 'tenant:read' }, 'scopes'],
      [{ ...payload, scopes: ['Tenant Read'] }, 'scopes.0'],
      [drop('expires_at'), 'expires_at'],
      [{ ...payload, expires_at: 'next year' }, 'expires_at'],
      [{ ...payload, expires_at: inMonths(13) }, 'expires_at'],
      [{ ...payload, expires_at: 1_900_000_000 }, 'expires_at'],
      [{ ...payload, owner: 'someone' }, 'owner', 'unknown_field'],
      // Never a key, whatever the field: refused before anything is parsed, and never echoed.
      [{ ...payload, key }, 'key', 'raw_key_refused'],
      [{ ...payload, api_key: 'anything' }, 'api_key', 'raw_key_refused'],
      [{ ...payload, secret: 'anything' }, 'secret', 'raw_key_refused'],
      [{ ...payload, key_hash: key }, 'key_hash', 'raw_key_refused'],
      [{ ...payload, name: `CI ${key}` }, 'name', 'raw_key_refused'],
      [{ ...payload, scopes: [key] }, 'scopes', 'raw_key_refused'],
      [{ action: 'revoke', id: payload.id, tenant_id: tenantId, key_hash: key }, 'key_hash', 'raw_key_refused'],
      [{ action: 'revoke', id: payload.id }, 'tenant_id'],
    ];
    const before = await written();
    for (const [body, field, reason] of cases) {
      const refused = await syncKey(body);
      expect([refused.status, refused.body.error_code, refused.body.field], JSON.stringify(body)).toEqual([400, 'bad_request', field]);
      if (reason) expect(refused.body.reason).toBe(reason);
      expect(JSON.stringify(refused.body)).not.toContain(key.split('.')[1]);
    }
    for (const body of [JSON.stringify([payload]), '{"action": "create", ', 'null']) {
      const refused = await syncKey(body);
      expect([refused.status, refused.body.error_code], body).toEqual([400, 'bad_request']);
    }
    expect(await written()).toEqual(before);
    expect(await refusal(key)).toMatchObject({ code: 'unauthenticated' });
  });
});

describe('POST /v1/sync/backfill-api-keys', () => {
  it('syncs each key on its own: one bad key is reported by index, the others are written; a rerun changes nothing', async () => {
    const good = [keyPayload(), keyPayload(), keyPayload({ user_id: reader.userId })];
    const bad = keyPayload({ user_id: reader.userId, scopes: ['tenant:write'] });
    const keys = [good[0]!.payload, bad.payload, good[1]!.payload, { ...good[2]!.payload, name: '' }, good[2]!.payload];
    const answer = await backfill({ keys });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ total: 5, changed: 3, unchanged: 0, failed: 2 });
    expect(answer.body.results).toEqual([
      { index: 0, apiKeyId: good[0]!.payload.id, action: 'create', changed: true, eventType: 'apikey.synced' },
      { index: 1, apiKeyId: bad.payload.id, error: expect.objectContaining({ code: 403, error_code: 'forbidden', field: 'scopes', reason: 'role_exceeds_permissions' }) },
      { index: 2, apiKeyId: good[1]!.payload.id, action: 'create', changed: true, eventType: 'apikey.synced' },
      { index: 3, apiKeyId: good[2]!.payload.id, error: expect.objectContaining({ code: 400, error_code: 'bad_request', field: 'name' }) },
      { index: 4, apiKeyId: good[2]!.payload.id, action: 'create', changed: true, eventType: 'apikey.synced' },
    ]);
    for (const { key } of good) expect(await readsTenant(key)).toBe(true);
    expect(await t.app.db.prisma.apiKey.count({ where: { id: bad.payload.id as string } })).toBe(0);

    const before = await written();
    const rerun = await backfill({ keys: good.map((g) => g.payload) });
    expect(rerun.body).toMatchObject({ total: 3, changed: 0, unchanged: 3, failed: 0 });
    expect(await written()).toEqual(before);
  });

  it(`refuses more keys than the bound (413), an empty or malformed batch (400), and writes nothing`, async () => {
    const before = await written();
    const tooMany = Array.from({ length: 501 }, () => keyPayload().payload);
    const refused = await backfill({ keys: tooMany });
    expect([refused.status, refused.body.error_code, refused.body.field, refused.body.reason, refused.body.max]).toEqual([413, 'payload_too_large', 'keys', 'too_many_keys', 500]);
    for (const [body, field] of [
      [{ keys: [] }, 'keys'],
      [{ keys: { 0: keyPayload().payload } }, 'keys'],
      [{}, 'keys'],
      [{ keys: [keyPayload().payload], dryRun: true }, 'dryRun'],
    ] as const) {
      const malformed = await backfill(body);
      expect([malformed.status, malformed.body.field], JSON.stringify(body)).toEqual([400, field]);
    }
    expect(await written()).toEqual(before);
  });
});
