import { parse } from 'graphql';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { authClient, signedInUser, uniqueEmail } from '../helpers/auth.js';
import { errorOf } from '../helpers/errors.js';
import { realmFootprint, signInRealmAdmin, signUpUser, type SignedIn } from '../helpers/realm.js';

// The input rule: strings PostgreSQL cannot store (NUL), other control characters, unpaired surrogates and
// over-long strings, and JSON nested or sized past its bounds, are a 4xx with a code on every surface, never a 500.

let t: TestApp;
let admin: SignedIn;
beforeAll(async () => {
  t = await startTestApp();
  admin = await signInRealmAdmin(t);
});
afterAll(() => t.close());

const gql = (query: string, variables: Record<string, unknown> = {}, headers: Record<string, string> = admin.headers) =>
  t.execute(parse(query) as TypedDocumentNode<Record<string, unknown>, Record<string, unknown>>, variables, headers);

const rest = async (method: string, path: string, body: unknown, bearer?: string) => {
  const response = await fetch(`${t.url}/auth/v1${path}`, {
    method,
    headers: { 'content-type': 'application/json', apikey: t.apiKeys().anon, ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};

/** An object nested `levels` deep: { a: { a: ... 1 } }. */
const nested = (levels: number): unknown => {
  let value: unknown = 1;
  for (let i = 0; i < levels; i++) value = { a: value };
  return value;
};
/** The same as JSON text, for depths no recursive serializer survives. */
const nestedText = (levels: number) => '{"a":'.repeat(levels) + '1' + '}'.repeat(levels);

const badStrings = {
  nul: 'a\u0000b',
  control: 'a\u0007b',
  escape: 'a\u001bb',
  delete: 'a\u007fb',
  'lone high surrogate': 'a\ud800b',
  'lone low surrogate': 'a\udc00b',
  'over 16 KiB': 'a'.repeat(16 * 1024 + 1),
};

describe('GraphQL: strings', () => {
  const cases: Array<[string, string, (bad: string) => Record<string, unknown>, Record<string, string>?]> = [
    ['signUp email', 'mutation($i: SignUpInput!) { signUp(input: $i) { user { id } } }', (bad) => ({ i: { email: `${bad}@example.com`, password: 'correct-horse-1' } }), {}],
    ['signIn email', 'mutation($i: SignInInput!) { signIn(input: $i) { user { id } } }', (bad) => ({ i: { email: `${bad}@example.com`, password: 'x' } }), {}],
    ['createTenant displayName', 'mutation($i: CreateTenantInput!) { createTenant(input: $i) { tenant { id } } }', (bad) => ({ i: { displayName: bad } })],
    ['adminSearch q', 'query($q: String!) { adminSearch(q: $q) { id } }', (bad) => ({ q: bad })],
    ['tenants filter', 'query($n: String) { tenants(filter: { displayName: $n }) { edges { cursor } } }', (bad) => ({ n: bad })],
    ['auditEvents types', 'query($k: [String!]) { auditEvents(filter: { types: $k }) { edges { cursor } } }', (bad) => ({ k: [bad] })],
    ['signUp metadata key', 'mutation($i: SignUpInput!) { signUp(input: $i) { user { id } } }', (bad) => ({ i: { email: uniqueEmail(), password: 'correct-horse-1', data: { [bad]: 1 } } }), {}],
  ];
  for (const [name, query, variables, headers] of cases) {
    it(`${name}: every bad string is 400 bad_request naming the field, and nothing is written`, async () => {
      const before = await realmFootprint(t);
      for (const [kind, bad] of Object.entries(badStrings)) {
        const { status, body } = await gql(query, variables(bad), headers);
        expect(status, `${kind}: ${JSON.stringify(body.errors)}`).toBe(400);
        expect(errorOf(body), kind).toMatchObject({ code: 'bad_request', field: expect.stringMatching(/^[iqnk]/) });
      }
      expect(await realmFootprint(t)).toEqual(before);
    });
  }

  it('a string literal in the document is held to the same rule', async () => {
    const { status, body } = await gql('{ adminSearch(q: "a\\u0000b") { id } }');
    expect(status).toBe(400);
    expect(errorOf(body)).toMatchObject({ code: 'bad_request', field: 'q' });
  });

  it('free text keeps tabs and line breaks, names do not; RTL marks and paired surrogates are text', async () => {
    const create = (displayName: string) => gql('mutation($i: CreateTenantInput!) { createTenant(input: $i) { tenant { displayName } } }', { i: { displayName } });
    expect(errorOf((await create('Acme\nInc')).body)).toMatchObject({ code: 'bad_request', field: 'displayName' });
    expect(errorOf((await create('Acme\tInc')).body)).toMatchObject({ code: 'bad_request', field: 'displayName' });
    const fine = `Acme \u200f\u05d0 😀 ${uniqueEmail('t')}`;
    expect((await create(fine)).body.data).toMatchObject({ createTenant: { tenant: { displayName: fine } } });
    const user = await signUpUser(t);
    const update = await gql('mutation($i: UpdateViewerInput!) { updateViewer(input: $i) { user { id } } }', { i: { data: { bio: 'line one\nline two\tend' } } }, user.headers);
    expect(update.body.errors).toBeUndefined();
  });
});

describe('GraphQL: JSON values (user metadata)', () => {
  it('nested past 10 levels or over 16 KiB is bad_request, whatever the depth; 10 levels within 16 KiB is taken', async () => {
    const user = await signUpUser(t);
    const update = (data: unknown) => gql('mutation($i: UpdateViewerInput!) { updateViewer(input: $i) { user { id } } }', { i: { data } }, user.headers);
    const before = await realmFootprint(t);
    for (const data of [nested(11), nested(1000), { big: 'x'.repeat(16 * 1024) }, Array.from({ length: 2000 }, () => 'abcdefgh')]) {
      const { status, body } = await update(data);
      expect(status, JSON.stringify(body.errors)).toBe(400);
      expect(errorOf(body)).toMatchObject({ code: 'bad_request' });
    }
    // Deeper than any recursive serializer survives, so sent as text.
    const deep = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...user.headers },
      body: `{"query":"mutation($i: UpdateViewerInput!) { updateViewer(input: $i) { user { id } } }","variables":{"i":{"data":${nestedText(100_000)}}}}`,
    });
    // Refused before any resolver ran: a request error, 200 under application/json.
    expect(deep.status).toBe(200);
    expect(errorOf((await deep.json()) as never)).toMatchObject({ code: 'bad_request' });
    const signUp = await gql('mutation($i: SignUpInput!) { signUp(input: $i) { user { id } } }', { i: { email: uniqueEmail(), password: 'correct-horse-1', data: nested(11) } }, {});
    expect(errorOf(signUp.body)).toMatchObject({ code: 'bad_request' });
    expect(await realmFootprint(t)).toEqual(before);
    expect((await update(nested(10))).body.errors).toBeUndefined();
  });

  it('a deep literal in the document is refused too', async () => {
    const literal = '{a:'.repeat(11) + '1' + '}'.repeat(11);
    const { status, body } = await gql(`mutation { updateTenantConfig(input: { tenantId: "${crypto.randomUUID()}", config: ${literal} }) { tenant { id } } }`);
    expect(status).toBe(400);
    expect(errorOf(body)).toMatchObject({ code: 'bad_request' });
  });
});

describe('/auth/v1: the same rule for every body', () => {
  it('bad strings anywhere in the body, and keys, are 400 validation_failed; nothing is written', async () => {
    const { session } = await signedInUser(t);
    const users = await t.app.db.prisma.authUser.count();
    for (const [kind, bad] of Object.entries(badStrings)) {
      for (const [method, path, body, bearer] of [
        ['POST', '/signup', { email: `${bad}@example.com`, password: 'correct-horse-1' }],
        ['POST', '/signup', { email: uniqueEmail(), password: 'correct-horse-1', data: { name: bad } }],
        ['POST', '/signup', { email: uniqueEmail(), password: 'correct-horse-1', data: { [bad]: 1 } }],
        ['POST', '/otp', { email: `${bad}@example.com` }],
        ['POST', '/token?grant_type=password', { email: 'someone@example.com', password: bad }],
        ['POST', '/recover', { email: `${bad}@example.com` }],
        ['PUT', '/user', { data: { nested: [bad] } }, session.access_token],
      ] as const) {
        const answer = await rest(method, path, body, bearer);
        expect(answer, `${kind} ${path}`).toMatchObject({ status: 400, body: { error_code: 'validation_failed' } });
      }
    }
    expect(await t.app.db.prisma.authUser.count()).toBe(users);
  });

  it('metadata nested past 10 levels (even far past the stack) or over 16 KiB is validation_failed; 10 levels is taken', async () => {
    const { session } = await signedInUser(t);
    const deep = `{"email":"${uniqueEmail()}","password":"correct-horse-1","data":${nestedText(100_000)}}`;
    expect(await rest('POST', '/signup', deep)).toMatchObject({ status: 400, body: { error_code: 'validation_failed' } });
    expect(await rest('POST', '/signup', { email: uniqueEmail(), password: 'correct-horse-1', data: nested(11) })).toMatchObject({ status: 400 });
    expect(await rest('PUT', '/user', { data: { big: 'é'.repeat(9000) } }, session.access_token)).toMatchObject({ status: 400, body: { error_code: 'validation_failed' } });
    const serviceRole = t.apiKeys().serviceRole;
    expect(await rest('POST', '/admin/users', { email: uniqueEmail(), app_metadata: nested(11) }, serviceRole)).toMatchObject({ status: 400 });
    expect(await rest('PUT', '/user', { data: nested(10) }, session.access_token)).toMatchObject({ status: 200 });
  });

  it('auth-js sign-up with tab and line breaks in metadata still works (free text)', async () => {
    const { error } = await authClient(t).signUp({ email: uniqueEmail(), password: 'correct-horse-1', options: { data: { bio: 'a\tb\r\nc' } } });
    expect(error).toBeNull();
  });
});

describe('node(id)', () => {
  it('a well-formed id of a realm that does not exist is null with not_found, and the rest of the response stands (200)', async () => {
    const id = crypto.randomUUID();
    const { status, body } = await gql('query($id: ID!) { node(id: $id) { id } realm { slug } }', { id }, {});
    expect(status).toBe(200);
    expect(body.data).toMatchObject({ node: null, realm: { slug: expect.any(String) } });
    expect(errorOf(body)).toMatchObject({ code: 'not_found' });
    const own = await gql('{ realm { id } }', {}, {});
    const found = await gql('query($id: ID!) { node(id: $id) { id } }', { id: (own.body.data!.realm as { id: string }).id }, {});
    expect(found.body).toEqual({ data: { node: { id: (own.body.data!.realm as { id: string }).id } } });
  });
});

describe('_entities', () => {
  it('a representation that is no object, or whose __typename names no type, is bad_request, not a 500', async () => {
    for (const representation of ['a string', 1, {}, { __typename: 'Nope' }]) {
      const { status, body } = await gql('query($r: [_Any!]!) { _entities(representations: $r) { __typename } }', { r: [representation] });
      // The _entities field refuses it: a field error, so 200.
      expect(status, JSON.stringify(representation)).toBe(200);
      expect(errorOf(body)).toMatchObject({ code: 'bad_request' });
    }
  });
});
