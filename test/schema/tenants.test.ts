import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateTenantDocument,
  DeleteTenantDocument,
  TenantDocument,
  TenantsDocument,
  TransferTenantOwnershipDocument,
  UpdateTenantConfigDocument,
  UpdateTenantDocument,
} from '../generated/graphql.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { errorCode } from '../helpers/errors.js';
import { realmFootprint, seedMember, seedRole, seedTenant, signInRealmAdmin, signUpUser, type SignedIn } from '../helpers/realm.js';

let t: TestApp;
let ann: SignedIn;
let bob: SignedIn;
let admin: SignedIn;
beforeAll(async () => {
  t = await startTestApp();
  [ann, bob] = await Promise.all([signUpUser(t), signUpUser(t)]);
  admin = await signInRealmAdmin(t);
  await seedRole(t, 'viewer', ['tenant:read']);
});
afterAll(() => t.close());

const eventsOf = (tenantId: string) =>
  t.app.db.prisma.event.findMany({ where: { aggregateType: 'tenant', aggregateId: tenantId }, orderBy: { position: 'asc' } });

async function create(user: SignedIn, input: { displayName: string; slug?: string }) {
  const { body } = await t.execute(CreateTenantDocument, { input }, user.headers);
  if (!body.data) throw new Error(JSON.stringify(body.errors));
  return body.data.createTenant.tenant;
}

describe('createTenant', () => {
  it('creates the tenant with the caller as owner, in one transaction with tenant.created', async () => {
    const tenant = await create(ann, { displayName: 'Acme Corp.' });
    expect(tenant).toMatchObject({ slug: 'acme-corp', displayName: 'Acme Corp.', signupMode: 'CLOSED', owner: { id: ann.userId }, isBaseAdmin: false });
    const membership = await t.app.db.prisma.membership.findUniqueOrThrow({ where: { userId_tenantId: { userId: ann.userId, tenantId: tenant.id } }, include: { role: true } });
    expect(membership.role.name).toBe('owner');
    const [event] = await eventsOf(tenant.id);
    expect(event).toMatchObject({ type: 'tenant.created', version: 1, metadata: expect.objectContaining({ actorId: ann.userId, requestId: expect.any(String) }) });
  });

  it('refuses bad input by field, a taken slug with conflict, OPEN sign-up, anonymous callers; nothing is written', async () => {
    await create(ann, { displayName: 'Taken', slug: 'taken-slug' });
    const before = await realmFootprint(t);
    const cases: Array<[Record<string, unknown>, Record<string, string> | undefined, string, string | undefined]> = [
      [{ displayName: '' }, ann.headers, 'bad_request', 'displayName'],
      [{ displayName: 'x'.repeat(201) }, ann.headers, 'bad_request', 'displayName'],
      [{ displayName: 'Ok', slug: 'Bad Slug' }, ann.headers, 'bad_request', 'slug'],
      [{ displayName: 'Ok', allowedDomains: ['not a domain'] }, ann.headers, 'bad_request', 'allowedDomains.0'],
      [{ displayName: 'Ok', signupMode: 'OPEN' }, ann.headers, 'bad_request', 'signupMode'],
      [{ displayName: 'Ok', slug: 'taken-slug' }, ann.headers, 'conflict', 'slug'],
      [{ displayName: 'Ok' }, undefined, 'unauthenticated', undefined],
    ];
    for (const [input, headers, code, field] of cases) {
      const { body } = await t.execute(CreateTenantDocument, { input: input as never }, headers);
      expect(errorCode(body), JSON.stringify(input)).toBe(code);
      if (field) expect(body.errors?.[0]?.extensions?.field).toBe(field);
    }
    expect(await realmFootprint(t)).toEqual(before);
  });
});

describe('tenants and tenant(id)', () => {
  it('a user sees their own tenants; a realm admin sees every tenant; filter by name', async () => {
    const mine = await create(bob, { displayName: 'Bob Bakery' });
    const own = await t.execute(TenantsDocument, { first: 50 }, bob.headers);
    expect(own.body.data!.tenants.edges.map((e) => e.node.id)).toEqual([mine.id]);
    const all = await t.execute(TenantsDocument, { first: 50 }, admin.headers);
    const ids = all.body.data!.tenants.edges.map((e) => e.node.id);
    expect(ids).toContain(mine.id);
    expect(ids.length).toBeGreaterThan(2);
    const filtered = await t.execute(TenantsDocument, { first: 50, filter: { displayName: 'BAKERY' } }, admin.headers);
    expect(filtered.body.data!.tenants.edges.map((e) => e.node.displayName)).toEqual(['Bob Bakery']);
    expect(errorCode((await t.execute(TenantsDocument, { first: 5 })).body)).toBe('unauthenticated');
  });

  it('pages with first/after without gaps or repeats', async () => {
    const seen: string[] = [];
    let after: string | null | undefined;
    do {
      const { body } = await t.execute(TenantsDocument, { first: 2, after }, admin.headers);
      seen.push(...body.data!.tenants.edges.map((e) => e.node.id));
      after = body.data!.tenants.pageInfo.hasNextPage ? body.data!.tenants.pageInfo.endCursor : null;
    } while (after);
    const total = await t.app.db.prisma.tenant.count({ where: { deletedAt: null } });
    expect(new Set(seen).size).toBe(total);
    expect(seen.length).toBe(total);
  });

  it('tenant(id): members read it; outsiders and unknown ids get the same not_found', async () => {
    const tenant = await create(ann, { displayName: 'Reading Room' });
    expect((await t.execute(TenantDocument, { id: tenant.id }, ann.headers)).body.data?.tenant?.id).toBe(tenant.id);
    const outsider = await t.execute(TenantDocument, { id: tenant.id }, bob.headers);
    const unknown = await t.execute(TenantDocument, { id: '00000000-0000-4000-8000-000000000000' }, bob.headers);
    expect(errorCode(outsider.body)).toBe('not_found');
    expect(outsider.body.errors![0]!.message).toBe(unknown.body.errors![0]!.message);
    // The field is nullable: the refusal nulls it alone, not the whole response.
    expect(outsider.body.data).toEqual({ tenant: null });
  });
});

describe('updateTenant and updateTenantConfig', () => {
  it('tenant:write updates fields and records what changed', async () => {
    const tenant = await create(ann, { displayName: 'Before' });
    // allowedDomains names only domains the tenant verified (the domains flow; a fixture here).
    await t.app.db.prisma.domain.create({ data: { tenantId: tenant.id, domain: 'example.com', method: 'dns_txt', challenge: 'c', status: 'verified', verifiedAt: new Date() } });
    const { body } = await t.execute(
      UpdateTenantDocument,
      { input: { tenantId: tenant.id, displayName: 'After', signupMode: 'ALLOWLIST', allowedDomains: ['Example.COM'] } },
      ann.headers,
    );
    expect(body.data!.updateTenant.tenant).toMatchObject({ displayName: 'After', signupMode: 'ALLOWLIST', allowedDomains: ['example.com'] });
    const last = (await eventsOf(tenant.id)).at(-1)!;
    expect(last).toMatchObject({ type: 'tenant.updated', payload: { changed: { displayName: 'After', signupMode: 'allowlist', allowedDomains: ['example.com'] } } });
  });

  it('refuses a member without tenant:write (forbidden), an outsider (not_found) and OPEN outside the base admin tenant', async () => {
    const tenant = await create(ann, { displayName: 'Guarded' });
    await seedMember(t, tenant.id, bob.userId, 'viewer');
    const carol = await signUpUser(t);
    const before = await realmFootprint(t);
    expect(errorCode((await t.execute(UpdateTenantDocument, { input: { tenantId: tenant.id, displayName: 'X' } }, bob.headers)).body)).toBe('forbidden');
    expect(errorCode((await t.execute(UpdateTenantDocument, { input: { tenantId: tenant.id, displayName: 'X' } }, carol.headers)).body)).toBe('not_found');
    expect(errorCode((await t.execute(UpdateTenantDocument, { input: { tenantId: tenant.id, signupMode: 'OPEN' } }, ann.headers)).body)).toBe('bad_request');
    expect(await realmFootprint(t)).toEqual(before);
  });

  it('config: allowlisted keys merge, null removes, an unknown key is refused by name', async () => {
    const tenant = await create(ann, { displayName: 'Configured' });
    const set = await t.execute(UpdateTenantConfigDocument, { input: { tenantId: tenant.id, config: { locale: 'pt-BR', primaryColor: '#112233' } } }, ann.headers);
    expect(set.body.data!.updateTenantConfig.tenant.config).toEqual({ locale: 'pt-BR', primaryColor: '#112233' });
    const removed = await t.execute(UpdateTenantConfigDocument, { input: { tenantId: tenant.id, config: { locale: null } } }, ann.headers);
    expect(removed.body.data!.updateTenantConfig.tenant.config).toEqual({ primaryColor: '#112233' });
    const unknown = await t.execute(UpdateTenantConfigDocument, { input: { tenantId: tenant.id, config: { colour: 'red' } } }, ann.headers);
    expect(unknown.body.errors![0]).toMatchObject({ extensions: { code: 'bad_request', field: 'config.colour' } });
    expect(unknown.body.errors![0]!.message).toContain('colour');
    const invalid = await t.execute(UpdateTenantConfigDocument, { input: { tenantId: tenant.id, config: { sessionTimeoutMinutes: 1 } } }, ann.headers);
    expect(invalid.body.errors![0]).toMatchObject({ extensions: { code: 'bad_request', field: 'config.sessionTimeoutMinutes' } });
    const stored = await t.app.db.prisma.tenant.findUniqueOrThrow({ where: { id: tenant.id } });
    expect(stored.config).toEqual({ primaryColor: '#112233' });
  });
});

describe('deleteTenant', () => {
  it('owner only: a soft delete that ends memberships, pending invitations and API keys', async () => {
    const tenant = await create(ann, { displayName: 'Doomed' });
    await seedMember(t, tenant.id, bob.userId, 'member');
    const prisma = t.app.db.prisma;
    const memberRole = await prisma.role.findFirstOrThrow({ where: { name: 'member' } });
    await prisma.invitation.create({
      data: { tenantId: tenant.id, email: 'x@example.com', roleId: memberRole.id, tokenHash: `h-${tenant.id}`, expiresAt: new Date(Date.now() + 86_400_000) },
    });
    await prisma.apiKey.create({
      data: { realmId: (await t.app.services.realms.defaultRealmId()), tenantId: tenant.id, ownerId: ann.userId, displayName: 'k', prefix: `p${tenant.id.slice(0, 8)}`, secretHash: 'x' },
    });
    // A realm admin and a plain member are refused: only an owner deletes.
    expect(errorCode((await t.execute(DeleteTenantDocument, { input: { tenantId: tenant.id } }, admin.headers)).body)).toBe('forbidden');
    expect(errorCode((await t.execute(DeleteTenantDocument, { input: { tenantId: tenant.id } }, bob.headers)).body)).toBe('forbidden');
    const { body } = await t.execute(DeleteTenantDocument, { input: { tenantId: tenant.id } }, ann.headers);
    expect(body.errors).toBeUndefined();
    expect((await prisma.tenant.findUniqueOrThrow({ where: { id: tenant.id } })).deletedAt).not.toBeNull();
    expect(await prisma.membership.count({ where: { tenantId: tenant.id } })).toBe(0);
    expect(await prisma.invitation.count({ where: { tenantId: tenant.id, status: 'pending' } })).toBe(0);
    expect(await prisma.apiKey.count({ where: { tenantId: tenant.id, revokedAt: null } })).toBe(0);
    expect((await eventsOf(tenant.id)).at(-1)).toMatchObject({ type: 'tenant.deleted', payload: { membershipsEnded: 2 } });
    expect(errorCode((await t.execute(TenantDocument, { id: tenant.id }, ann.headers)).body)).toBe('not_found');
  });

  it('the base admin tenant cannot be deleted', async () => {
    const base = await t.app.db.prisma.tenant.findFirstOrThrow({ where: { isBaseAdmin: true } });
    const { body } = await t.execute(DeleteTenantDocument, { input: { tenantId: base.id } }, admin.headers);
    expect(body.errors![0]!.extensions).toMatchObject({ code: 'forbidden', reason: 'base_admin_tenant' });
  });
});

describe('transferTenantOwnership', () => {
  it('moves ownership to a member; the previous owner keeps the chosen role', async () => {
    const tenant = await create(ann, { displayName: 'Handover' });
    await seedMember(t, tenant.id, bob.userId, 'member');
    const { body } = await t.execute(TransferTenantOwnershipDocument, { input: { tenantId: tenant.id, newOwnerId: bob.userId, previousOwnerRole: 'viewer' } }, ann.headers);
    expect(body.data!.transferTenantOwnership.tenant.owner).toEqual({ id: bob.userId });
    const roles = await t.app.db.prisma.membership.findMany({ where: { tenantId: tenant.id }, include: { role: true } });
    expect(Object.fromEntries(roles.map((m) => [m.userId, m.role.name]))).toEqual({ [ann.userId]: 'viewer', [bob.userId]: 'owner' });
    expect((await eventsOf(tenant.id)).at(-1)).toMatchObject({ type: 'tenant.ownership_transferred', payload: { from: ann.userId, to: bob.userId } });
  });

  it('refuses non-owners, non-members as new owner, and unknown roles; nothing is written', async () => {
    const tenant = await seedTenant(t, ann.userId);
    await seedMember(t, tenant.id, bob.userId, 'member');
    const carol = await signUpUser(t);
    const before = await realmFootprint(t);
    const ask = async (input: Record<string, unknown>, who: SignedIn) =>
      (await t.execute(TransferTenantOwnershipDocument, { input: { tenantId: tenant.id, ...input } as never }, who.headers)).body.errors?.[0]?.extensions;
    expect(await ask({ newOwnerId: carol.userId }, bob)).toMatchObject({ code: 'forbidden', reason: 'owner_only' });
    expect(await ask({ newOwnerId: carol.userId }, ann)).toMatchObject({ code: 'not_found', field: 'newOwnerId' });
    expect(await ask({ newOwnerId: bob.userId, previousOwnerRole: 'nope' }, ann)).toMatchObject({ code: 'not_found', field: 'previousOwnerRole' });
    expect(await ask({ newOwnerId: 'not-an-id' }, ann)).toMatchObject({ code: 'bad_request', field: 'newOwnerId' });
    expect(await realmFootprint(t)).toEqual(before);
  });
});

describe('Tenant entity (federation)', () => {
  it('resolves for callers who may read the tenant, and is null for anyone else', async () => {
    const tenant = await create(ann, { displayName: 'Federated' });
    const query = `query($reps: [_Any!]!) { _entities(representations: $reps) { ... on Tenant { id displayName } } }`;
    const ask = async (headers?: Record<string, string>) => {
      const res = await t.app.yoga.fetch('http://localhost/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ query, variables: { reps: [{ __typename: 'Tenant', id: tenant.id }] } }),
      });
      return ((await res.json()) as { data: { _entities: unknown[] } }).data._entities[0];
    };
    expect(await ask(ann.headers)).toEqual({ id: tenant.id, displayName: 'Federated' });
    expect(await ask(admin.headers)).toEqual({ id: tenant.id, displayName: 'Federated' });
    expect(await ask(bob.headers)).toBeNull();
    expect(await ask()).toBeNull();
  });
});
