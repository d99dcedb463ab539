import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { seedMember, seedRole, seedTenant, signInRealmAdmin, signUpUser, type SignedIn } from '../helpers/realm.js';

// Federation's _entities: bounded before anything resolves, and an entity resolves
// only for callers who may read it through the API's other reads.

let t: TestApp;
let ann: SignedIn; // owner of the tenant
let bob: SignedIn; // member (tenant:read)
let dave: SignedIn; // in the tenant with a role that cannot read it
let carol: SignedIn; // shares no tenant with ann
let admin: SignedIn; // realm admin
let tenantId: string;
let memberRoleId: string;

type Body = { data?: { _entities?: Array<Record<string, unknown> | null> } | null; errors?: Array<{ message: string; path?: unknown[]; extensions: Record<string, unknown> }> };

async function ask(query: string, variables: Record<string, unknown>, user?: SignedIn | null) {
  const res = await t.app.yoga.fetch('http://localhost/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...user?.headers },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, body: (await res.json()) as Body };
}

const userFields = 'id displayName status createdAt';
const entitiesQuery = `query($reps: [_Any!]!) { _entities(representations: $reps) { ... on User { ${userFields} } ... on Tenant { id tenantName: displayName } ... on Role { id name } } }`;
const entities = async (reps: Array<Record<string, unknown>>, user?: SignedIn | null) => (await ask(entitiesQuery, { reps }, user)).body;
const userRep = (id: string) => ({ __typename: 'User', id });

beforeAll(async () => {
  t = await startTestApp();
  [ann, bob, dave, carol] = await Promise.all([signUpUser(t), signUpUser(t), signUpUser(t), signUpUser(t)]);
  admin = await signInRealmAdmin(t);
  await t.app.db.prisma.user.update({ where: { id: ann.userId }, data: { displayName: 'Ann' } });
  tenantId = (await seedTenant(t, ann.userId)).id;
  await seedRole(t, 'bystander', ['invoices:approve']);
  await seedMember(t, tenantId, bob.userId, 'member');
  await seedMember(t, tenantId, dave.userId, 'bystander');
  const realmId = await t.app.services.realms.defaultRealmId();
  memberRoleId = (await t.app.db.prisma.role.findUniqueOrThrow({ where: { realmId_name: { realmId, name: 'member' } } })).id;
});
afterAll(() => t.close());

describe('_entities visibility', () => {
  it('an anonymous caller gets null for every entity, with no data and no query', async () => {
    const reps = [userRep(ann.userId), { __typename: 'Tenant', id: tenantId }, { __typename: 'Role', id: memberRoleId }];
    let body: Body = {};
    const statements = await t.countStatements(async () => (body = await entities(reps, null)));
    expect(body).toEqual({ data: { _entities: [null, null, null] } });
    expect(statements).toBe(0);
  });

  it('a member who may read the tenant sees the user as members(tenantId) shows them; contact details stay hidden', async () => {
    const members = await ask(`query($id: ID!) { members(tenantId: $id, first: 50) { edges { node { user { ${userFields} } } } } }`, { id: tenantId }, bob);
    const listed = (members.body.data as unknown as { members: { edges: Array<{ node: { user: { id: string } } }> } }).members.edges.map((e) => e.node.user);
    const shown = listed.find((user) => user.id === ann.userId);
    expect(shown).toMatchObject({ id: ann.userId, displayName: 'Ann', status: 'ACTIVE' });
    expect((await entities([userRep(ann.userId)], bob)).data?._entities).toEqual([shown]);
    const withEmail = await ask('query($reps: [_Any!]!) { _entities(representations: $reps) { ... on User { id email } } }', { reps: [userRep(ann.userId)] }, bob);
    expect(withEmail.body.errors?.map((e) => [e.path, e.extensions.code])).toEqual([[['_entities', 0, 'email'], 'forbidden']]);
  });

  it('the user themself and realm admins see the user; someone sharing no readable tenant gets null', async () => {
    for (const user of [ann, admin]) expect((await entities([userRep(ann.userId)], user)).data?._entities?.[0]).toMatchObject({ id: ann.userId, displayName: 'Ann' });
    for (const user of [carol, dave]) expect(await entities([userRep(ann.userId)], user), user.email).toEqual({ data: { _entities: [null] } });
    expect((await entities([userRep(carol.userId)], carol)).data?._entities?.[0]).toMatchObject({ id: carol.userId });
  });

  it('a deleted tenant no longer shows its members; unknown and malformed ids are null, not errors', async () => {
    const other = await seedTenant(t, carol.userId);
    await seedMember(t, other.id, bob.userId, 'member');
    expect((await entities([userRep(carol.userId)], bob)).data?._entities?.[0]).toMatchObject({ id: carol.userId });
    await t.app.db.prisma.tenant.update({ where: { id: other.id }, data: { deletedAt: new Date() } });
    const body = await entities(
      [userRep(carol.userId), userRep('00000000-0000-4000-8000-000000000000'), userRep('nope'), { __typename: 'Role', id: 'nope' }, { __typename: 'Tenant', id: 'nope' }],
      bob,
    );
    expect(body).toEqual({ data: { _entities: [null, null, null, null, null] } });
  });

  it('a signed-in caller reads the role catalog through the entity, as through roles', async () => {
    expect((await entities([{ __typename: 'Role', id: memberRoleId }], carol)).data?._entities).toEqual([{ id: memberRoleId, name: 'member' }]);
  });
});

describe('_entities limits', () => {
  const many = (n: number) => Array.from({ length: n }, () => userRep(ann.userId));

  it('10,000 representations in a variable are refused with query_too_complex before any resolver or query runs', async () => {
    let baseline = 0;
    baseline = await t.countStatements(() => ask('{ __typename }', {}, bob));
    let response: Awaited<ReturnType<typeof ask>> | undefined;
    const statements = await t.countStatements(async () => (response = await ask(entitiesQuery, { reps: many(10_000) }, bob)));
    // A request error under application/json: 200, so a gateway reads the error instead of dropping the answer.
    expect(response!.status).toBe(200);
    expect(response!.body.data ?? null).toBeNull();
    expect(response!.body.errors?.[0]?.extensions).toMatchObject({ code: 'query_too_complex', representations: 10_000, limit: 100 });
    expect(statements).toBeLessThanOrEqual(baseline);
  });

  it('the limit counts inline lists and every aliased _entities together', async () => {
    const literal = (n: number) => `[${many(n).map((r) => `{ __typename: "User", id: "${r.id}" }`).join(', ')}]`;
    const inline = await ask(`{ _entities(representations: ${literal(101)}) { ... on User { id } } }`, {}, bob);
    expect(inline.body.errors?.[0]?.extensions).toMatchObject({ code: 'query_too_complex', representations: 101 });
    const aliased = await ask(
      `query($a: [_Any!]!, $b: [_Any!]!) { a: _entities(representations: $a) { ... on User { id } } ...F } fragment F on Query { b: _entities(representations: $b) { ... on User { id } } }`,
      { a: many(60), b: many(60) },
      bob,
    );
    expect(aliased.body.errors?.[0]?.extensions).toMatchObject({ code: 'query_too_complex', representations: 120 });
    const fits = await ask(`{ _entities(representations: ${literal(3)}) { ... on User { id } } }`, {}, bob);
    expect(fits.body).toEqual({ data: { _entities: [{ id: ann.userId }, { id: ann.userId }, { id: ann.userId }] } });
  });

  it('each representation counts in the query cost: 100 tenants with their members are over the budget', async () => {
    const reps = Array.from({ length: 100 }, () => ({ __typename: 'Tenant', id: tenantId }));
    const query = `query($reps: [_Any!]!) { _entities(representations: $reps) { ... on Tenant { id members(first: 100) { edges { node { id user { ${userFields} } } } } } } }`;
    let response: Awaited<ReturnType<typeof ask>> | undefined;
    const statements = await t.countStatements(async () => (response = await ask(query, { reps }, ann)));
    expect(response!.status).toBe(200);
    expect(response!.body.errors?.[0]?.extensions).toMatchObject({ code: 'query_too_complex', limit: 20_000 });
    expect(response!.body.errors?.[0]?.message).toMatch(/cost \(complexity\) is \d+, over the limit of 20000/);
    expect(statements).toBeLessThanOrEqual(2);
  });
});
