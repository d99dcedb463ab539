import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { seedMember, seedRole, seedTenant, signInRealmAdmin, signUpUser, type SignedIn } from '../helpers/realm.js';

// A gateway sends every representation of a plan step in one _entities request:
// they are read in one statement per type, the visibility rule inside it, and
// the rule holds for each representation of the batch as it does alone.

let t: TestApp;
let ann: SignedIn; // owner of tenantId
let bob: SignedIn; // member of tenantId (tenant:read)
let carol: SignedIn; // owner of otherId, shares no tenant with bob
let dave: SignedIn; // member of tenantId and of otherId
let erin: SignedIn; // in no tenant at all
let admin: SignedIn; // realm admin
let tenantId: string;
let otherId: string;
let lockedId: string; // a tenant that requires MFA, bob a member
let roleIds: string[];

type Entities = Array<Record<string, unknown> | null>;
type Body = { data?: { _entities?: Entities } | null; errors?: Array<{ path?: unknown[]; extensions: Record<string, unknown> }> };

const entitiesQuery = (userFields: string) => `query($reps: [_Any!]!) { _entities(representations: $reps) {
  ... on User { ${userFields} } ... on Tenant { id slug } ... on Role { id name } } }`;
const users = (...people: SignedIn[]) => people.map((person) => ({ __typename: 'User', id: person.userId }));
const tenants = (...ids: string[]) => ids.map((id) => ({ __typename: 'Tenant', id }));
const roles = (...ids: string[]) => ids.map((id) => ({ __typename: 'Role', id }));

async function post(body: object, headers: Record<string, string> = {}): Promise<Body> {
  const res = await t.app.yoga.fetch('http://localhost/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return (await res.json()) as Body;
}

/** The _entities answer and the statements it took beyond the same caller's `{ __typename }`. */
async function entities(reps: object[], caller: Pick<SignedIn, 'headers'> | null, userFields = 'id displayName') {
  const headers = caller?.headers ?? {};
  // The first request of a credential may fill caches; the baseline is taken warm.
  await post({ query: '{ __typename }' }, headers);
  const baseline = await t.countStatements(() => post({ query: '{ __typename }' }, headers));
  let body: Body = {};
  const statements = await t.countStatements(async () => (body = await post({ query: entitiesQuery(userFields), variables: { reps } }, headers)));
  return { body, entities: body.data?._entities ?? [], statements: statements - baseline };
}

beforeAll(async () => {
  t = await startTestApp();
  [ann, bob, carol, dave, erin] = await Promise.all([signUpUser(t), signUpUser(t), signUpUser(t), signUpUser(t), signUpUser(t)]);
  admin = await signInRealmAdmin(t);
  tenantId = (await seedTenant(t, ann.userId)).id;
  otherId = (await seedTenant(t, carol.userId)).id;
  lockedId = (await seedTenant(t, carol.userId)).id;
  await t.app.db.prisma.tenant.update({ where: { id: lockedId }, data: { config: { mfaRequired: true } } });
  await seedMember(t, tenantId, bob.userId, 'member');
  await seedMember(t, tenantId, dave.userId, 'member');
  await seedMember(t, otherId, dave.userId, 'member');
  await seedMember(t, lockedId, bob.userId, 'member');
  roleIds = [(await seedRole(t, 'auditor', ['audit:read'])).id, (await seedRole(t, 'clerk', ['tenant:read'])).id];
});
afterAll(() => t.close());

describe('one statement per type for any number of representations', () => {
  it('users: one statement for one representation and for many, visible or not', async () => {
    const one = await entities(users(ann), bob);
    const many = await entities([...users(ann, bob, carol, dave, erin, admin), { __typename: 'User', id: 'not-a-uuid' }], bob);
    expect(one.statements).toBe(1);
    expect(many.statements).toBe(1);
    expect(many.entities.map((user) => user?.id ?? null)).toEqual([ann.userId, bob.userId, null, dave.userId, null, null, null]);
  });

  it('tenants and roles: one statement each; three types in one request take three', async () => {
    const tenantsOnly = await entities(tenants(tenantId, otherId, tenantId), ann);
    expect(tenantsOnly.statements).toBe(1);
    expect(tenantsOnly.entities.map((tenant) => tenant?.id ?? null)).toEqual([tenantId, null, tenantId]);
    const rolesOnly = await entities(roles(...roleIds), carol);
    expect(rolesOnly.statements).toBe(1);
    expect(rolesOnly.entities.map((role) => role?.name)).toEqual(['auditor', 'clerk']);
    const mixed = await entities([...users(ann, bob), ...tenants(tenantId, otherId), ...roles(...roleIds)], dave);
    expect(mixed.statements).toBe(3);
    expect(mixed.entities.map((entity) => entity?.id ?? null)).toEqual([ann.userId, bob.userId, tenantId, otherId, ...roleIds]);
  });

  it('a realm admin: one statement for users in tenants; users in none take one more, whatever their number', async () => {
    const inTenants = await entities(users(ann, bob, carol, dave), admin);
    expect(inTenants.statements).toBe(1);
    expect(inTenants.entities.map((user) => user?.id)).toEqual([ann.userId, bob.userId, carol.userId, dave.userId]);
    const loners = await Promise.all([signUpUser(t), signUpUser(t)]);
    const withLoners = await entities(users(ann, erin, ...loners), admin);
    expect(withLoners.statements).toBe(2);
    expect(withLoners.entities.map((user) => user?.id)).toEqual([ann.userId, erin.userId, ...loners.map((user) => user.userId)]);
  });

  it('anonymous callers: null for every representation and no statement', async () => {
    const anonymous = await entities([...users(ann, bob), ...tenants(tenantId), ...roles(...roleIds)], null);
    expect(anonymous.body).toEqual({ data: { _entities: [null, null, null, null, null] } });
    expect(anonymous.statements).toBe(0);
  });
});

describe('visibility holds for each representation of a batch', () => {
  it('someone in no tenant sees only themself, among users, tenants and roles they may read', async () => {
    const { entities: seen } = await entities([...users(erin, ann, carol), ...tenants(tenantId)], erin);
    expect(seen.map((entity) => entity?.id ?? null)).toEqual([erin.userId, null, null, null]);
  });

  it('a user in two tenants is visible through either, and no longer once the tenant is deleted', async () => {
    expect((await entities(users(dave, carol), dave)).entities.map((user) => user?.id ?? null)).toEqual([dave.userId, carol.userId]);
    const gone = (await seedTenant(t, erin.userId)).id;
    await seedMember(t, gone, bob.userId, 'member');
    expect((await entities(users(erin), bob)).entities).toEqual([{ id: erin.userId, displayName: null }]);
    await t.app.db.prisma.tenant.update({ where: { id: gone }, data: { deletedAt: new Date() } });
    expect((await entities(users(erin), bob)).entities).toEqual([null]);
    await t.app.db.prisma.membership.deleteMany({ where: { tenantId: gone } });
  });

  it('a role without tenant:read shows no one, though its holder is a member', async () => {
    const blind = await signUpUser(t);
    await seedRole(t, 'bystander', ['invoices:approve']);
    await seedMember(t, tenantId, blind.userId, 'bystander');
    expect((await entities([...users(ann, blind), ...tenants(tenantId)], blind)).entities.map((e) => e?.id ?? null)).toEqual([null, blind.userId, null]);
  });

  it('a tenant that requires MFA shows no members below aal2, and the tenant itself answers mfa_required', async () => {
    // carol is bob's fellow member only in the MFA tenant.
    const { body } = await entities([...users(carol), ...tenants(lockedId, tenantId)], bob);
    expect(body.data?._entities?.map((e) => e?.id ?? null)).toEqual([null, null, tenantId]);
    expect(body.errors?.map((error) => [error.path, error.extensions.code])).toEqual([[['_entities', 1], 'mfa_required']]);
  });

  it('contact details stay the contact rule’s: the owner sees a member’s email, a fellow member does not', async () => {
    expect((await entities(users(bob), ann, 'id email')).entities).toEqual([{ id: bob.userId, email: bob.email }]);
    const { body } = await entities(users(ann, bob), bob, 'id email');
    expect(body.data?._entities).toEqual([{ id: ann.userId, email: null }, { id: bob.userId, email: bob.email }]);
    expect(body.errors?.map((error) => [error.path, error.extensions.code])).toEqual([[['_entities', 0, 'email'], 'forbidden']]);
  });
});

describe('API keys', () => {
  async function keyFor(owner: SignedIn, tenant: string, scopes: string[]) {
    const body = await post(
      { query: 'mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { key } }', variables: { input: { tenantId: tenant, displayName: 'entities', scopes } } },
      owner.headers,
    );
    const key = (body.data as unknown as { createApiKey?: { key: string } } | null)?.createApiKey?.key;
    if (!key) throw new Error(`createApiKey failed: ${JSON.stringify(body.errors)}`);
    return { headers: { authorization: `ApiKey ${key}` } };
  }

  it('a key reads members of its own tenant only, and only with tenant:read in its scopes', async () => {
    // ann also shares a tenant with carol, but her keys are for tenantId.
    const side = (await seedTenant(t, carol.userId)).id;
    await seedMember(t, side, ann.userId, 'member');
    const reader = await keyFor(ann, tenantId, ['tenant:read']);
    const seen = await entities([...users(ann, carol, dave), ...tenants(tenantId, side)], reader);
    expect(seen.entities.map((e) => e?.id ?? null)).toEqual([ann.userId, null, dave.userId, tenantId, null]);
    expect(seen.statements).toBe(2);
    const blind = await keyFor(ann, tenantId, ['members:manage']);
    expect((await entities([...users(ann, dave), ...tenants(tenantId)], blind)).entities.map((e) => e?.id ?? null)).toEqual([ann.userId, null, null]);
  });
});

describe('a caller that lives on (a subscription\'s)', () => {
  it('batches one tick and remembers nothing: a user who left the shared tenant is hidden at the next read', async () => {
    const [frank, gina] = await Promise.all([signUpUser(t), signUpUser(t)]);
    const shared = (await seedTenant(t, frank.userId)).id;
    await seedMember(t, shared, gina.userId, 'member');
    const viewer = await t.app.resolveViewer(`Bearer ${frank.accessToken}`);
    const caller = { viewer, accessToken: frank.accessToken, meta: { ip: '127.0.0.1', userAgent: null } };
    const read = () => t.app.services.references.user(caller, gina.userId, {});

    expect((await read())?.id).toBe(gina.userId);
    await t.app.db.prisma.membership.deleteMany({ where: { tenantId: shared, userId: gina.userId } });
    expect(await read()).toBeNull();
  });
});
