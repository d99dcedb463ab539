import fc from 'fast-check';
import {
  buildClientSchema,
  getIntrospectionQuery,
  getNamedType,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLSchema,
  type IntrospectionQuery,
  isEnumType,
  isInputObjectType,
  isLeafType,
  isListType,
  isNonNullType,
} from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { signedInUser } from '../helpers/auth.js';
import { realmFootprint, seedTenant, signIn, signInRealmAdmin, signUpUser, type SignedIn } from '../helpers/realm.js';

// Generated bad input for every GraphQL mutation (read from the schema by introspection, so a new mutation is
// covered without a change here) and every /auth/v1 endpoint that takes a body: NUL and other control characters,
// unpaired surrogates, bidi marks, 1 MB strings, deep and large JSON, wrong types, huge numbers. Every answer is a
// 4xx with a code, or a 2xx where the input was in fact valid, never a 5xx; a refused attempt writes nothing.
// A fixed seed and a bounded number of runs keep CI repeatable; IDGRAPH_FUZZ_RUNS runs more.

const runs = Number(process.env.IDGRAPH_FUZZ_RUNS ?? 8);
const seed = 20261205;
const timeout = 30_000 + runs * 15_000;

let t: TestApp;
let schema: GraphQLSchema;
/** Ids that exist, so generated input also reaches the checks past "not found". */
const known = { tenantId: '', userId: '' };
/** The membership that makes the bootstrap admin a realm admin. */
let adminMembership: { tenantId: string; roleId: string };


// --- generated values -------------------------------------------------------------------------------------------

const controls = Array.from({ length: 32 }, (_, code) => String.fromCharCode(code)).concat('\u007f');
const bidi = ['\u200e', '\u200f', '\u202a', '\u202b', '\u202c', '\u202d', '\u202e', '\u2066', '\u2067', '\u2068', '\u2069', '\u061c'];
const oddUnit = fc.oneof(
  fc.constantFrom(...controls),
  fc.integer({ min: 0xd800, max: 0xdfff }).map((code) => String.fromCharCode(code)),
  fc.constantFrom(...bidi, '\ufeff', '\ufffe', '\u2028', '\u0085', '😀', 'é', '%', '_', '\\', "'", '"', '<', '@'),
  fc.constantFrom('a', 'b', 'z', '0', '1', '.', '-', ' '),
);
const badString = fc.oneof(
  { weight: 6, arbitrary: fc.string({ unit: oddUnit, minLength: 1, maxLength: 24 }) },
  { weight: 2, arbitrary: fc.constantFrom('\u0000', 'a\u0000b', 'fuzz\u0000@example.com', '\ud800@example.com', 'Acme\u202e') },
  { weight: 2, arbitrary: fc.constantFrom('', ' ', 'NaN', 'Infinity', '-Infinity', '1e999', '-0', '9007199254740993', 'null', 'undefined', 'true', '[]', '{}', "' OR '1'='1", '../../etc/passwd', '\r\nX-Injected: 1', '%00', '\\u0000') },
  { weight: 1, arbitrary: fc.integer({ min: 16 * 1024 - 2, max: 16 * 1024 + 2 }).map((n) => 'x'.repeat(n)) },
  { weight: 1, arbitrary: fc.constant('x'.repeat(1024 * 1024)) },
);
/**
 * A plausible value for a field, by its name, so that the other fields of an input pass their checks and the
 * one bad value reaches as deep as it can (a NUL that only a database write would refuse, say).
 */
function goodString(name: string): fc.Arbitrary<string> {
  const unique = fc.integer({ min: 0, max: 1e9 });
  if (/email/i.test(name)) return unique.map((n) => `fuzz-${n}@example.com`);
  if (/password/i.test(name)) return fc.constant('correct-horse-1');
  if (/tenant/i.test(name) && /id$/i.test(name)) return fc.constantFrom(known.tenantId, crypto.randomUUID());
  if (/(user|owner|member|actor)id$/i.test(name)) return fc.constantFrom(known.userId, crypto.randomUUID());
  if (/id$/i.test(name)) return fc.constant(crypto.randomUUID());
  if (/slug/i.test(name)) return unique.map((n) => `fuzz-${n}`);
  if (/domain/i.test(name)) return unique.map((n) => `fuzz-${n}.example.com`);
  if (/origin|url|redirect/i.test(name)) return fc.constant('https://app.example.com');
  if (/role/i.test(name)) return fc.constantFrom('member', 'owner', 'admin');
  if (/permission|scope/i.test(name)) return fc.constantFrom('tenant:read', 'members:manage');
  if (/phone/i.test(name)) return fc.constant('+15555550123');
  if (/code|token|otp|nonce|value/i.test(name)) return fc.constant('123456');
  if (/purpose/i.test(name)) return fc.constant('login');
  return fc.constantFrom('Fuzz', 'fuzz value', 'member');
}
/** Mostly a plausible value, often a bad one: one bad field among good ones is what reaches a write. */
const stringLike = (name: string) => fc.oneof({ weight: 2, arbitrary: goodString(name) }, { weight: 1, arbitrary: badString });
const wrongType = fc.oneof(fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.constant({}), fc.constant([]), fc.constant({ $ne: null }));
const hugeNumber = fc.constantFrom(2 ** 31, -(2 ** 31) - 1, 2 ** 53 + 2, -(2 ** 63), 1e308, -1e308, Number.MAX_VALUE, 5e-324, -0);
const numberLike = fc.oneof(fc.integer({ min: 0, max: 50 }), fc.integer(), hugeNumber, fc.double(), fc.constantFrom('NaN', 'Infinity', '1e999', '0x10', '1_000'), wrongType);

/** { a: { a: ... } } nested `levels` deep, around a generated leaf. */
const deepJson = fc.tuple(fc.integer({ min: 9, max: 2000 }), fc.oneof(badString, hugeNumber)).map(([levels, leaf]) => {
  let value: unknown = leaf;
  for (let i = 0; i < levels; i++) value = i % 2 ? [value] : { a: value };
  return value;
});
const jsonLike: fc.Arbitrary<unknown> = fc.oneof(
  deepJson,
  fc.dictionary(badString, fc.oneof(badString, hugeNumber, fc.boolean(), fc.constant(null)), { maxKeys: 4 }),
  fc.record({ name: badString, nested: fc.record({ value: badString }) }),
  fc.array(badString, { maxLength: 3 }),
  fc.integer({ min: 1, max: 4 }).map((n) => Object.fromEntries(Array.from({ length: n * 800 }, (_, i) => [`k${i}`, 'v'.repeat(8)]))),
  hugeNumber,
  badString,
  wrongType,
);

/** A value of the GraphQL input type, with bad values wherever a string (or number, or JSON) goes. */
function valueFor(type: GraphQLInputType, name: string): fc.Arbitrary<unknown> {
  if (isNonNullType(type)) return fc.oneof({ weight: 30, arbitrary: valueFor(type.ofType, name) }, { weight: 1, arbitrary: fc.constant(null) });
  if (isListType(type)) return fc.oneof({ weight: 6, arbitrary: fc.array(valueFor(type.ofType, name), { maxLength: 3 }) }, { weight: 1, arbitrary: wrongType });
  if (isInputObjectType(type)) {
    const fields = Object.values(type.getFields());
    // An optional field is mostly left out (undefined is not sent), so alternatives such as email or phone
    // do not refuse the input before the bad value is read.
    const model = Object.fromEntries(
      fields.map((field) => {
        const value = valueFor(field.type, field.name);
        return [field.name, isNonNullType(field.type) ? value : fc.oneof({ weight: 2, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: value })];
      }),
    );
    return fc.oneof({ weight: 12, arbitrary: fc.record(model) }, { weight: 1, arbitrary: wrongType });
  }
  if (isEnumType(type)) return fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...type.getValues().map((value) => value.name)) }, { weight: 1, arbitrary: badString });
  switch (type.name) {
    case 'Int':
    case 'Float':
      return numberLike;
    case 'Boolean':
      return fc.oneof(fc.boolean(), wrongType);
    case 'JSON':
      return jsonLike;
    case 'DateTime':
      return fc.oneof(fc.constantFrom('2026-01-01T00:00:00Z', '+275760-09-13T00:00:00Z', '0000-00-00'), badString);
    default:
      return stringLike(name);
  }
}

/** A valid-looking value of the type: every field plausible, optional ones mostly left out. */
function goodValueFor(type: GraphQLInputType, name: string): fc.Arbitrary<unknown> {
  if (isNonNullType(type)) return goodValueFor(type.ofType, name);
  if (isListType(type)) return fc.array(goodValueFor(type.ofType, name), { minLength: 1, maxLength: 2 });
  if (isInputObjectType(type)) {
    const fields = Object.values(type.getFields());
    const model = Object.fromEntries(
      fields.map((field) => {
        const value = goodValueFor(field.type, field.name);
        return [field.name, isNonNullType(field.type) ? value : fc.option(value, { nil: undefined })];
      }),
    );
    return fc.record(model);
  }
  if (isEnumType(type)) return fc.constantFrom(...type.getValues().map((value) => value.name));
  switch (type.name) {
    case 'Int':
    case 'Float':
      return fc.integer({ min: 1, max: 20 });
    case 'Boolean':
      return fc.boolean();
    case 'JSON':
      return fc.constant({ name: 'Fuzz' });
    case 'DateTime':
      return fc.constant('2026-01-01T00:00:00Z');
    default:
      return goodString(name);
  }
}

/** Replaces the string leaf numbered `index` (modulo their count) of a value with `bad`. */
function withOneBadString(value: unknown, index: number, bad: unknown): unknown {
  const leaves: Array<[Record<string, unknown> | unknown[], string | number]> = [];
  const visit = (node: unknown) => {
    if (node === null || typeof node !== 'object') return;
    for (const [key, item] of Object.entries(node)) {
      if (typeof item === 'string') leaves.push([node as Record<string, unknown>, Array.isArray(node) ? Number(key) : key]);
      else visit(item);
    }
  };
  const copy = structuredClone(value);
  visit(copy);
  if (leaves.length === 0) return copy;
  const [parent, key] = leaves[index % leaves.length]!;
  (parent as Record<string | number, unknown>)[key] = bad;
  return copy;
}

/**
 * Variables for a field's arguments: half the runs every position generated (bad values anywhere), half a
 * valid-looking input with exactly one string replaced by a bad value, which is what gets past the other
 * checks to a write.
 */
function variablesFor(args: ReadonlyArray<{ name: string; type: GraphQLInputType }>): fc.Arbitrary<Record<string, unknown>> {
  const anywhere = fc.record(Object.fromEntries(args.map((arg, i) => [`a${i}`, valueFor(arg.type, arg.name)])));
  const good = fc.record(Object.fromEntries(args.map((arg, i) => [`a${i}`, goodValueFor(arg.type, arg.name)])));
  const oneBad = fc.tuple(good, fc.nat(), fc.oneof({ weight: 4, arbitrary: badString }, { weight: 1, arbitrary: jsonLike })).map(([value, index, bad]) => withOneBadString(value, index, bad) as Record<string, unknown>);
  return fc.oneof({ weight: 1, arbitrary: anywhere }, { weight: 3, arbitrary: oneBad });
}

/**
 * A new realm admin, signed in: a fresh user given the bootstrap admin's membership. A generated mutation may
 * change the signed-in admin's password, status or sessions, so each new round starts from a new one.
 */
async function freshRealmAdmin(): Promise<SignedIn> {
  const user = await signUpUser(t);
  await t.app.db.prisma.membership.create({ data: { tenantId: adminMembership.tenantId, userId: user.userId, roleId: adminMembership.roleId } });
  return signIn(t, user);
}

// --- checks -----------------------------------------------------------------------------------------------------

/** What a refused attempt must leave as it was: the realm layer, the event store, the engine's accounts and factors. */
async function footprint() {
  const p = t.app.db.prisma;
  const [realm, authUsers, factors, identities] = await Promise.all([realmFootprint(t), p.authUser.count(), p.authMfaFactor.count(), p.authIdentity.count()]);
  return { ...realm, authUsers, factors, identities };
}

/** The footprint once writes that follow an accepted answer (the users mirror, events) have landed. */
async function settledFootprint() {
  let previous = await footprint();
  for (let i = 0; i < 20; i++) {
    await new Promise((resolve) => setTimeout(resolve, 25));
    const next = await footprint();
    if (JSON.stringify(next) === JSON.stringify(previous)) return next;
    previous = next;
  }
  return previous;
}

const describeInput = (value: unknown) => {
  const text = JSON.stringify(value, (_key, v: unknown) => (typeof v === 'string' && v.length > 80 ? `${v.slice(0, 80)}…(${v.length})` : v)) ?? String(value);
  return text.length > 600 ? `${text.slice(0, 600)}…` : text;
};

/** A path segment carrying the string's UTF-8 bytes, every one percent-encoded. */
const pathSegment = (value: string) => Array.from(Buffer.from(value), (byte) => `%${byte.toString(16).padStart(2, '0')}`).join('');

/** A GraphQL operation for the field, every argument a variable: `mutation($a0: T!) { name(arg: $a0) { __typename } }`. */
function operationFor(kind: 'query' | 'mutation', field: GraphQLField<unknown, unknown>): string {
  const variables = field.args.map((arg, i) => `$a${i}: ${arg.type.toString()}`).join(', ');
  const args = field.args.map((arg, i) => `${arg.name}: $a${i}`).join(', ');
  const selection = isLeafType(getNamedType(field.type)) ? '' : ' { __typename }';
  return `${kind}${variables ? `(${variables})` : ''} { ${field.name}${args ? `(${args})` : ''}${selection} }`;
}

// --- the corpus -------------------------------------------------------------------------------------------------

describe.runIf(process.env.IDGRAPH_TEST_DB !== 'postgres')('bad-input corpus', () => {
  beforeAll(async () => {
    t = await startTestApp();
    const admin = await signInRealmAdmin(t);
    adminMembership = await t.app.db.prisma.membership.findFirstOrThrow({ where: { userId: admin.userId } });
    const victim = await signUpUser(t);
    known.userId = victim.userId;
    known.tenantId = (await seedTenant(t, admin.userId)).id;
    const introspection = await t.app.yoga.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: getIntrospectionQuery() }),
    });
    schema = buildClientSchema(((await introspection.json()) as { data: IntrospectionQuery }).data);
  });
  afterAll(() => t?.close());

  it('every GraphQL mutation (and query that takes input), as the realm admin and anonymously: a 4xx with a code or a valid answer, never a 5xx; a refusal writes nothing', async () => {
    const mutations = Object.values(schema.getMutationType()!.getFields());
    expect(mutations.length).toBeGreaterThan(40);
    // Queries that take input (search, filters, node ids) go through the same rule.
    const queries = Object.values(schema.getQueryType()!.getFields()).filter((field) => field.args.length > 0);
    let admin = await freshRealmAdmin();
    let before = await settledFootprint();
    for (const [index, [kind, field]] of [...mutations.map((f) => ['mutation', f] as const), ...queries.map((f) => ['query', f] as const)].entries()) {
      const query = operationFor(kind, field);
      let accepted = false;
      const variables = variablesFor(field.args);
      await fc.assert(
        fc.asyncProperty(variables, fc.boolean(), async (vars, asAdmin) => {
          const response = await fetch(`${t.url}/graphql`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...(asAdmin ? admin.headers : {}) },
            body: JSON.stringify({ query, variables: vars }),
          });
          const text = await response.text();
          const what = `${field.name} ${asAdmin ? 'admin' : 'anonymous'} ${describeInput(vars)} → ${response.status} ${text.slice(0, 300)}`;
          expect(response.status, what).toBeLessThan(500);
          const body = JSON.parse(text) as { data?: Record<string, unknown> | null; errors?: Array<{ extensions?: { code?: unknown } }> };
          for (const error of body.errors ?? []) expect(error.extensions?.code, what).toEqual(expect.any(String));
          if (body.errors?.length && !body.data?.[field.name]) {
            expect(await footprint(), `refused, yet something was written: ${what}`).toEqual(before);
          } else {
            accepted = true;
            before = await settledFootprint();
          }
        }),
        { seed: seed + index, numRuns: runs, endOnFailure: true },
      );
      // An accepted signOut, updateViewer or updateUserStatus may have ended the admin's session or changed its password.
      if (accepted) {
        admin = await freshRealmAdmin();
        before = await settledFootprint();
      }
    }
  }, timeout);

  // The engine's body endpoints and the fields each reads; generated bodies mix these with arbitrary keys.
  const restEndpoints: Array<{ method: string; path: (ids: { factorId: string; userId: string }) => string; keys: string[]; caller: 'anon' | 'user' | 'service' }> = [
    { method: 'POST', path: () => '/signup', keys: ['email', 'phone', 'password', 'data', 'channel', 'code_challenge', 'code_challenge_method'], caller: 'anon' },
    { method: 'POST', path: () => '/token?grant_type=password', keys: ['email', 'phone', 'password'], caller: 'anon' },
    { method: 'POST', path: () => '/token?grant_type=refresh_token', keys: ['refresh_token'], caller: 'anon' },
    { method: 'POST', path: () => '/token?grant_type=pkce', keys: ['auth_code', 'code_verifier'], caller: 'anon' },
    { method: 'POST', path: () => '/token?grant_type=id_token', keys: ['provider', 'id_token', 'access_token', 'nonce', 'client_id', 'issuer'], caller: 'anon' },
    { method: 'POST', path: () => '/otp', keys: ['email', 'phone', 'create_user', 'data', 'channel', 'code_challenge', 'code_challenge_method'], caller: 'anon' },
    { method: 'POST', path: () => '/magiclink', keys: ['email', 'data', 'code_challenge'], caller: 'anon' },
    { method: 'POST', path: () => '/recover', keys: ['email', 'code_challenge', 'code_challenge_method'], caller: 'anon' },
    { method: 'POST', path: () => '/resend', keys: ['type', 'email', 'phone'], caller: 'anon' },
    { method: 'POST', path: () => '/verify', keys: ['type', 'token', 'token_hash', 'email', 'phone', 'redirect_to'], caller: 'anon' },
    { method: 'PUT', path: () => '/user', keys: ['email', 'phone', 'password', 'nonce', 'data', 'code_challenge'], caller: 'user' },
    { method: 'POST', path: () => '/factors', keys: ['factor_type', 'friendly_name', 'issuer', 'phone'], caller: 'user' },
    { method: 'POST', path: ({ factorId }) => `/factors/${factorId}/challenge`, keys: ['channel'], caller: 'user' },
    { method: 'POST', path: ({ factorId }) => `/factors/${factorId}/verify`, keys: ['challenge_id', 'code'], caller: 'user' },
    { method: 'POST', path: () => '/logout', keys: [], caller: 'user' },
    { method: 'POST', path: () => '/admin/users', keys: ['email', 'phone', 'password', 'email_confirm', 'phone_confirm', 'user_metadata', 'app_metadata', 'role', 'ban_duration'], caller: 'service' },
    { method: 'PUT', path: ({ userId }) => `/admin/users/${userId}`, keys: ['email', 'phone', 'password', 'user_metadata', 'app_metadata', 'ban_duration', 'role'], caller: 'service' },
    { method: 'POST', path: () => '/admin/generate_link', keys: ['type', 'email', 'password', 'new_email', 'data', 'redirect_to'], caller: 'service' },
    { method: 'POST', path: () => '/invite', keys: ['email', 'data'], caller: 'service' },
  ];

  it('every /auth/v1 body endpoint, with and without its credential: a 4xx with an error_code or a valid answer, never a 5xx; a refusal writes nothing', async () => {
    /** A signed-in user with an unverified TOTP factor, for the endpoints that act on the caller. */
    const enrolledUser = async () => {
      const user = await signedInUser(t);
      const enrolled = await fetch(`${t.url}/auth/v1/factors`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', apikey: t.apiKeys().anon, authorization: `Bearer ${user.session.access_token}` },
        body: JSON.stringify({ factor_type: 'totp' }),
      });
      return { ...user, factorId: ((await enrolled.json()) as { id: string }).id };
    };
    let user = await enrolledUser();
    let before = await settledFootprint();
    for (const [index, endpoint] of restEndpoints.entries()) {
      const bearers = { anon: t.apiKeys().anon, user: user.session.access_token, service: t.apiKeys().serviceRole };
      let accepted = false;
      const goodBody = fc.record(Object.fromEntries(endpoint.keys.map((key) => [key, /data|metadata/.test(key) ? fc.constant({ name: 'Fuzz' }) : goodString(key)])), { requiredKeys: [] });
      const body = fc.oneof(
        { weight: 8, arbitrary: fc.tuple(goodBody, fc.nat(), fc.oneof({ weight: 4, arbitrary: badString }, { weight: 1, arbitrary: jsonLike })).map(([value, index, bad]) => withOneBadString(value, index, bad)) },
        { weight: 8, arbitrary: fc.record(Object.fromEntries(endpoint.keys.map((key) => [key, /data|metadata/.test(key) ? jsonLike : fc.oneof({ weight: 6, arbitrary: stringLike(key) }, { weight: 1, arbitrary: jsonLike }, { weight: 1, arbitrary: wrongType })])), { requiredKeys: [] }) },
        { weight: 1, arbitrary: fc.dictionary(badString, jsonLike, { maxKeys: 3 }) },
        { weight: 1, arbitrary: fc.oneof(badString, wrongType) },
      );
      const pathId = fc.oneof({ weight: 3, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: badString });
      await fc.assert(
        fc.asyncProperty(body, pathId, fc.boolean(), async (payload, badId, withCredential) => {
          const segment = badId === null ? null : pathSegment(badId.slice(0, 200));
          const ids = { factorId: segment ?? user.factorId, userId: segment ?? user.user.id };
          const path = endpoint.path(ids);
          const response = await fetch(`${t.url}/auth/v1${path}`, {
            method: endpoint.method,
            headers: {
              'content-type': 'application/json',
              apikey: t.apiKeys().anon,
              ...(withCredential ? { authorization: `Bearer ${bearers[endpoint.caller]}` } : {}),
            },
            body: JSON.stringify(payload),
          });
          const text = await response.text();
          const what = `${endpoint.method} ${path.slice(0, 120)} ${withCredential ? endpoint.caller : 'no credential'} ${describeInput(payload)} → ${response.status} ${text.slice(0, 300)}`;
          expect(response.status, what).toBeLessThan(500);
          if (response.status >= 400) {
            const answer = JSON.parse(text) as { error_code?: unknown; error?: unknown };
            expect(answer.error_code ?? answer.error, what).toEqual(expect.any(String));
            expect(await footprint(), `refused, yet something was written: ${what}`).toEqual(before);
          } else {
            accepted = true;
            before = await settledFootprint();
          }
        }),
        { seed: seed + 1000 + index, numRuns: runs, endOnFailure: true },
      );
      // An accepted logout, password or factor change may have ended the user's session or factor.
      if (accepted) {
        user = await enrolledUser();
        before = await settledFootprint();
      }
    }
  }, timeout);
});
