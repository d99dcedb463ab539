import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '../../src/services/caller.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { seedMember, seedRole, seedTenant, signInRealmAdmin, signUpUser, type SignedIn } from '../helpers/realm.js';

// The realm layer's authorization decisions, straight against the access service.

let t: TestApp;
let owner: SignedIn;
let reader: SignedIn;
let outsider: SignedIn;
let admin: SignedIn;
let tenantId: string;

const callerOf = async (user: SignedIn | null): Promise<Caller> => {
  const viewer = user ? await t.app.resolveViewer(`Bearer ${user.accessToken}`) : null;
  return { viewer, accessToken: user?.accessToken ?? null, meta: { ip: '127.0.0.1', userAgent: null } };
};

async function codeOf(promise: Promise<unknown>) {
  try {
    await promise;
    return 'allowed';
  } catch (error) {
    return (error as { code?: string }).code;
  }
}

beforeAll(async () => {
  t = await startTestApp();
  [owner, reader, outsider] = await Promise.all([signUpUser(t), signUpUser(t), signUpUser(t)]);
  admin = await signInRealmAdmin(t);
  tenantId = (await seedTenant(t, owner.userId)).id;
  await seedRole(t, 'reader', ['tenant:read']);
  await seedMember(t, tenantId, reader.userId, 'reader');
});
afterAll(() => t.close());

describe('access service', () => {
  it('the bootstrap admin administers the realm; ordinary users do not', async () => {
    const realmId = await t.app.services.realms.defaultRealmId();
    expect(await t.app.services.access.isRealmAdmin((await callerOf(admin)).viewer, realmId)).toBe(true);
    expect(await t.app.services.access.isRealmAdmin((await callerOf(owner)).viewer, realmId)).toBe(false);
    expect(await codeOf(t.app.services.access.requireRealmAdmin(await callerOf(owner), realmId))).toBe('forbidden');
    expect(await codeOf(t.app.services.access.requireRealmAdmin(await callerOf(null), realmId))).toBe('unauthenticated');
  });

  it('tenantAccess: owner has every built-in permission, a reader only its role’s', async () => {
    const access = t.app.services.access;
    const asOwner = await access.tenantAccess(await callerOf(owner), tenantId, 'members:manage');
    expect(asOwner.role).toBe('owner');
    expect(asOwner.realmAdmin).toBe(false);
    const asReader = await access.tenantAccess(await callerOf(reader), tenantId, 'tenant:read');
    expect([...asReader.permissions]).toEqual(['tenant:read']);
    expect(await codeOf(access.tenantAccess(await callerOf(reader), tenantId, 'members:manage'))).toBe('forbidden');
  });

  it('tenantAccess: outsiders get not_found (existence is not revealed), anonymous unauthenticated', async () => {
    const access = t.app.services.access;
    expect(await codeOf(access.tenantAccess(await callerOf(outsider), tenantId))).toBe('not_found');
    expect(await codeOf(access.tenantAccess(await callerOf(outsider), '00000000-0000-4000-8000-000000000000'))).toBe('not_found');
    expect(await codeOf(access.tenantAccess(await callerOf(outsider), 'not-a-uuid'))).toBe('not_found');
    expect(await codeOf(access.tenantAccess(await callerOf(null), tenantId))).toBe('unauthenticated');
  });

  it('tenantAccess: a realm admin acts in any tenant of the realm without being a member', async () => {
    const asAdmin = await t.app.services.access.tenantAccess(await callerOf(admin), tenantId, 'members:manage');
    expect(asAdmin.realmAdmin).toBe(true);
    expect(asAdmin.role).toBeNull();
  });

  it('an API key acts only in its tenant with the intersection of its scopes and its owner’s permissions', async () => {
    const base = (await callerOf(owner)).viewer!;
    const keyCaller = (tenant: string, scopes: string[]): Caller => ({
      viewer: { ...base, apiKey: { id: 'k1', tenantId: tenant, scopes } },
      accessToken: null,
      meta: { ip: null, userAgent: null },
    });
    const access = t.app.services.access;
    const scoped = await access.tenantAccess(keyCaller(tenantId, ['tenant:read', 'members:manage']), tenantId);
    expect([...scoped.permissions].sort()).toEqual(['members:manage', 'tenant:read']);
    expect(await codeOf(access.tenantAccess(keyCaller(tenantId, ['tenant:read']), tenantId, 'members:manage'))).toBe('forbidden');
    const other = await seedTenant(t, owner.userId);
    expect(await codeOf(access.tenantAccess(keyCaller(tenantId, ['tenant:read']), other.id))).toBe('not_found');
    // The reader's key asks for more than the reader holds: it gets only what the reader has.
    const readerKey: Caller = { ...keyCaller(tenantId, ['tenant:read', 'members:manage']), viewer: { ...(await callerOf(reader)).viewer!, apiKey: { id: 'k2', tenantId, scopes: ['tenant:read', 'members:manage'] } } };
    expect([...(await access.tenantAccess(readerKey, tenantId)).permissions]).toEqual(['tenant:read']);
  });
});
