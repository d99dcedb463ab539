import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signStandardWebhook, verifyStandardWebhook } from '../../src/auth/standard-webhooks.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { uniqueEmail } from '../helpers/auth.js';
import { loadConfig } from '../../src/config.js';
import { createGotrueIdentity } from '../../src/identity/gotrue/identity.js';
import { createLogger } from '../../src/log.js';
import { backfillUsers } from '../../src/services/user-backfill.js';
import { createUserSync } from '../../src/services/user-sync.js';
import { gotrueEnv, hookSecret } from '../helpers/gotrue.js';
import { seedTenant, signUpUser } from '../helpers/realm.js';

// POST /hooks/custom-access-token as GoTrue calls it, and POST /v1/sync/user.

const secret = hookSecret();
const syncSecret = 's'.repeat(40);
let t: TestApp;
beforeAll(async () => {
  // The routes are the app's; the identity provider does not matter to them.
  t = await startTestApp({ env: { SYNC_WEBHOOK_SECRET: syncSecret } });
});
afterAll(() => t.close());

function hookCall(app: TestApp, payload: unknown, headers?: Record<string, string>) {
  const body = JSON.stringify(payload);
  return fetch(`${app.url}/hooks/custom-access-token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(headers ?? signStandardWebhook({ secret, id: 'msg_1', body, now: Date.now() })) },
    body,
  });
}

const gotrueClaims = (userId: string, sessionId = crypto.randomUUID()) => ({
  aud: 'authenticated',
  exp: 1_900_000_000,
  iat: 1_899_996_400,
  sub: userId,
  email: 'x@example.com',
  phone: '',
  role: 'authenticated',
  aal: 'aal2',
  amr: [
    { method: 'totp', timestamp: 1_899_996_300 },
    { method: 'password', timestamp: 1_899_990_000 },
  ],
  session_id: sessionId,
  is_anonymous: false,
});

describe('Standard Webhooks signatures', () => {
  it('accepts its own signature, any of several; refuses a changed body, a wrong secret and an old timestamp', () => {
    const now = Date.now();
    const headers = signStandardWebhook({ secret, id: 'msg_9', body: '{"a":1}', now });
    expect(verifyStandardWebhook({ secret, headers, body: '{"a":1}', now })).toBe(true);
    expect(verifyStandardWebhook({ secret, headers: { ...headers, 'webhook-signature': `v1,AAAA ${headers['webhook-signature']}` }, body: '{"a":1}', now })).toBe(true);
    expect(verifyStandardWebhook({ secret, headers, body: '{"a":2}', now })).toBe(false);
    expect(verifyStandardWebhook({ secret: hookSecret(), headers, body: '{"a":1}', now })).toBe(false);
    expect(verifyStandardWebhook({ secret, headers, body: '{"a":1}', now: now + 6 * 60_000 })).toBe(false);
    expect(verifyStandardWebhook({ secret, headers: {}, body: '{"a":1}', now })).toBe(false);
  });
});

describe('the custom access token hook', () => {
  let hooked: TestApp;
  beforeAll(async () => {
    const upstream = t;
    hooked = await startTestApp({
      env: {
        GOTRUE_URL: `${upstream.url}/auth/v1`,
        GOTRUE_ANON_KEY: upstream.apiKeys().anon,
        GOTRUE_SERVICE_ROLE_KEY: upstream.apiKeys().serviceRole,
        GOTRUE_HOOK_SECRET: secret,
      },
    });
  });
  afterAll(() => hooked.close());

  it('is off without GOTRUE_HOOK_SECRET', async () => {
    expect((await hookCall(t, { user_id: crypto.randomUUID(), claims: {} })).status).toBe(404);
  });

  it('refuses a bad or missing signature with GoTrue\'s hook error shape, and an expired one', async () => {
    const payload = { user_id: crypto.randomUUID(), claims: gotrueClaims(crypto.randomUUID()) };
    const body = JSON.stringify(payload);
    const forged = await hookCall(hooked, payload, signStandardWebhook({ secret: hookSecret(), id: 'msg_1', body, now: Date.now() }));
    expect([forged.status, await forged.json()]).toEqual([401, { error: { http_code: 401, message: 'invalid webhook signature' } }]);
    expect((await hookCall(hooked, payload, {})).status).toBe(401);
    const old = await hookCall(hooked, payload, signStandardWebhook({ secret, id: 'msg_1', body, now: Date.now() - 10 * 60_000 }));
    expect(old.status).toBe(401);
  });

  it('adds tenant_id, tenant_role and mfa_at for a member; GoTrue\'s claims stay as they were', async () => {
    const user = await signUpUser(hooked, uniqueEmail('hook'));
    const tenant = await seedTenant(hooked, user.userId);
    const claims = gotrueClaims(user.userId);
    const answer = await hookCall(hooked, { user_id: user.userId, claims, authentication_method: 'totp' });
    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({ claims: { ...claims, tenant_id: tenant.id, tenant_role: 'owner', mfa_at: 1_899_996_300 } });
  });

  it('leaves the claims unchanged for a user in no tenant (no MFA either)', async () => {
    const user = await signUpUser(hooked, uniqueEmail('loner'));
    const claims = { ...gotrueClaims(user.userId), aal: 'aal1', amr: [{ method: 'password', timestamp: 1_899_990_000 }] };
    const answer = await hookCall(hooked, { user_id: user.userId, claims, authentication_method: 'password' });
    expect(await answer.json()).toEqual({ claims });
  });

  it('a payload without user_id or claims is 400', async () => {
    expect((await hookCall(hooked, { claims: {} })).status).toBe(400);
  });
});

describe('POST /v1/sync/user', () => {
  const sync = (body: unknown, secretHeader = syncSecret) =>
    fetch(`${t.url}/v1/sync/user`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-webhook-secret': secretHeader }, body: JSON.stringify(body) });

  it('refuses a wrong secret and writes nothing', async () => {
    const id = crypto.randomUUID();
    const refused = await sync({ user: { id, email: 'a@example.com' } }, 'x'.repeat(40));
    expect(refused.status).toBe(401);
    expect(await t.app.db.prisma.user.findUnique({ where: { id } })).toBeNull();
  });

  it('mirrors a GoTrue user once however often it is delivered; an UPDATE refreshes the row', async () => {
    const id = crypto.randomUUID();
    const email = uniqueEmail('synced');
    for (let i = 0; i < 3; i++) expect((await sync({ user: { id, email, phone: '', user_metadata: { name: 'Synced' }, app_metadata: { provider: 'email' } } })).status).toBe(200);
    expect(await t.app.db.prisma.user.findUniqueOrThrow({ where: { id } })).toMatchObject({ email, displayName: 'Synced' });
    const update = await sync({ type: 'UPDATE', table: 'users', record: { id, email: 'changed@example.com', raw_user_meta_data: { name: 'Renamed' } } });
    expect(update.status).toBe(200);
    expect(await t.app.db.prisma.user.findUniqueOrThrow({ where: { id } })).toMatchObject({ email: 'changed@example.com', displayName: 'Renamed' });
    const types = (await t.app.db.prisma.event.findMany({ where: { aggregateId: id }, orderBy: { position: 'asc' } })).map((e) => e.type);
    expect(types).toEqual(['user.signed_up', 'user.updated']);
  });

  it('a payload without a user id is bad_request', async () => {
    const bad = await sync({ user: { email: 'no-id@example.com' } });
    expect([bad.status, ((await bad.json()) as { error_code: string }).error_code]).toEqual([400, 'bad_request']);
  });
});

describe('backfill from the admin users API', () => {
  it('pages through every GoTrue user, reports progress, and a rerun appends no event', async () => {
    // Users created at "GoTrue" (t's engine) and a second idgraph that has never seen them.
    for (let i = 0; i < 5; i++) await t.app.identity.provider.admin.createUser({ email: uniqueEmail('backfill'), password: 'correct-horse-1', email_confirm: true });
    const fresh = await startTestApp({ env: gotrueEnv(t) });
    const gotrue = createGotrueIdentity({ config: loadConfig(gotrueEnv(t)).gotrue!, log: createLogger({ level: 'silent' }), clock: Date.now });
    try {
      const sync = createUserSync({ mirror: fresh.app.services.mirror });
      const seen: number[] = [];
      const listUsers = (page: number, size: number) => gotrue.client.admin.listUsers(page, size);
      const done = await backfillUsers({ listUsers, sync, perPage: 2, onProgress: (p) => seen.push(p.synced) });
      const total = (await gotrue.client.admin.listUsers(1, 1)).total;
      expect(done).toMatchObject({ synced: total, total });
      expect(seen).toEqual(Array.from({ length: Math.ceil(total / 2) }, (_, i) => Math.min(total, (i + 1) * 2)));
      expect(await fresh.app.db.prisma.user.count()).toBe(total);
      const events = await fresh.app.db.prisma.event.count({ where: { type: 'user.signed_up' } });
      await backfillUsers({ listUsers, sync, perPage: 50 });
      expect(await fresh.app.db.prisma.event.count({ where: { type: 'user.signed_up' } })).toBe(events);
    } finally {
      await gotrue.close();
      await fresh.close();
    }
  });
});
