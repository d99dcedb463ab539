import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { uniqueEmail } from '../helpers/auth.js';
import { type SignedIn, signUpUser } from '../helpers/realm.js';

// The HTTP status of every kind of /graphql answer, under both response media types (README, "GraphQL over HTTP").

type Body = { data?: unknown; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> };

const json = 'application/json';
const graphqlResponse = 'application/graphql-response+json';

let t: TestApp;
let user: SignedIn;
beforeAll(async () => {
  t = await startTestApp({ env: { AUTH_RATE_LIMIT_CREDENTIALS_PER_IDENTIFIER: '2', BODY_LIMIT_BYTES: String(64 * 1024) } });
  user = await signUpUser(t);
});
afterAll(() => t.close());
beforeEach(async () => {
  await t.app.db.prisma.rateLimit.deleteMany();
});

async function post(accept: string, body: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${t.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', accept, ...headers }, body });
  const text = await response.text();
  return { status: response.status, contentType: response.headers.get('content-type') ?? '', headers: response.headers, body: (text ? JSON.parse(text) : null) as Body };
}

const ask = (accept: string, query: string, variables?: Record<string, unknown>, headers?: Record<string, string>) =>
  post(accept, JSON.stringify({ query, variables }), headers);

/** Status and first error code under application/json and under application/graphql-response+json. */
async function underBoth(send: (accept: string) => Promise<{ status: number; body: Body }>) {
  const answers = [];
  for (const accept of [json, graphqlResponse]) {
    const { status, body } = await send(accept);
    answers.push({ status, code: body.errors?.[0]?.extensions?.code, executed: 'data' in body });
  }
  return answers;
}

describe('GraphQL request errors: 200 under application/json, 4xx under application/graphql-response+json', () => {
  it('a document that does not parse', async () => {
    expect(await underBoth((accept) => ask(accept, '{ realm { '))).toEqual([
      { status: 200, code: 'bad_request', executed: false },
      { status: 400, code: 'bad_request', executed: false },
    ]);
  });

  it('a document that does not validate', async () => {
    expect(await underBoth((accept) => ask(accept, '{ realm { noSuchField } }'))).toEqual([
      { status: 200, code: 'bad_request', executed: false },
      { status: 400, code: 'bad_request', executed: false },
    ]);
  });

  it('no operation to run: several operations and no operationName', async () => {
    expect(await underBoth((accept) => ask(accept, 'query A { realm { slug } } query B { realm { slug } }'))).toEqual([
      { status: 200, code: 'bad_request', executed: false },
      { status: 400, code: 'bad_request', executed: false },
    ]);
  });

  it('variables that are missing or do not coerce', async () => {
    const query = 'query($id: ID!, $n: Int) { node(id: $id) { id } adminSearch(q: "a", first: $n) { __typename } }';
    expect(await underBoth((accept) => ask(accept, query))).toEqual([
      { status: 200, code: 'bad_request', executed: false },
      { status: 400, code: 'bad_request', executed: false },
    ]);
    expect(await underBoth((accept) => ask(accept, query, { id: 'x', n: 'many' }))).toEqual([
      { status: 200, code: 'bad_request', executed: false },
      { status: 400, code: 'bad_request', executed: false },
    ]);
  });

  it('more aliases than allowed', async () => {
    const query = `{ ${Array.from({ length: 31 }, (_, i) => `a${i}: health { version }`).join(' ')} }`;
    expect(await underBoth((accept) => ask(accept, query))).toEqual([
      { status: 200, code: 'query_too_complex', executed: false },
      { status: 400, code: 'query_too_complex', executed: false },
    ]);
  });
});

describe('executed operations: 200 under both, whatever their field errors', () => {
  it('a wrong password answers 200 with invalid_credentials', async () => {
    const signIn = 'mutation($i: SignInInput!) { signIn(input: $i) { user { id } } }';
    expect(await underBoth((accept) => ask(accept, signIn, { i: { email: user.email, password: 'wrong-password' } }))).toEqual([
      { status: 200, code: 'invalid_credentials', executed: true },
      { status: 200, code: 'invalid_credentials', executed: true },
    ]);
  });

  it('a field refused to the caller answers 200 with forbidden', async () => {
    expect(await underBoth((accept) => ask(accept, '{ viewer { userId } adminSearch(q: "a") { __typename } }', {}, user.headers))).toEqual([
      { status: 200, code: 'forbidden', executed: true },
      { status: 200, code: 'forbidden', executed: true },
    ]);
  });

  it('a missing object answers 200 with not_found', async () => {
    const query = `{ realm { slug } missing: tenant(id: "${crypto.randomUUID()}") { slug } }`;
    expect(await underBoth((accept) => ask(accept, query, {}, user.headers))).toEqual([
      { status: 200, code: 'not_found', executed: true },
      { status: 200, code: 'not_found', executed: true },
    ]);
  });

  it('a rate-limited field answers 200 with rate_limited and its retry-after in the error', async () => {
    const email = uniqueEmail('statuses');
    const signIn = (accept: string) => ask(accept, 'mutation($i: SignInInput!) { signIn(input: $i) { user { id } } }', { i: { email, password: 'wrong-password' } });
    await signIn(json);
    await signIn(json);
    for (const accept of [json, graphqlResponse]) {
      const { status, body } = await signIn(accept);
      expect(status).toBe(200);
      expect(body.errors?.[0]?.extensions).toMatchObject({ code: 'rate_limited', retryAfterSeconds: expect.any(Number) });
    }
  });

  it('the error extensions never carry the status hint', async () => {
    const { body } = await ask(graphqlResponse, 'mutation($i: SignInInput!) { signIn(input: $i) { user { id } } }', { i: { email: user.email, password: 'nope-nope-1' } });
    expect(body.errors?.[0]?.extensions).toMatchObject({ code: 'invalid_credentials' });
    expect(body.errors?.[0]?.extensions).not.toHaveProperty('http');
  });
});

describe('refusals of the whole request keep their status under both', () => {
  it('a bearer token that does not verify is 401 before anything runs', async () => {
    expect(await underBoth((accept) => ask(accept, '{ realm { slug } }', {}, { authorization: 'Bearer not.a.token' }))).toEqual([
      { status: 401, code: 'malformed', executed: false },
      { status: 401, code: 'malformed', executed: false },
    ]);
    const basic = await ask(json, '{ realm { slug } }', {}, { authorization: 'Basic dXNlcjpwYXNz' });
    expect([basic.status, basic.body.errors?.[0]?.extensions?.code]).toEqual([401, 'malformed']);
  });

  it('a body over the limit is 413 in the GraphQL error shape', async () => {
    const big = JSON.stringify({ query: '{ realm { slug } }', variables: { pad: 'x'.repeat(64 * 1024) } });
    for (const accept of [json, graphqlResponse]) {
      const { status, contentType, body } = await post(accept, big);
      expect(status).toBe(413);
      expect(contentType).toContain('application/json');
      expect(body).toEqual({ errors: [{ message: `The request body exceeds ${64 * 1024} bytes.`, extensions: { code: 'payload_too_large', limit: 64 * 1024 } }] });
    }
  });

  it('JSON that does not parse is 400 in the GraphQL error shape', async () => {
    for (const accept of [json, graphqlResponse]) {
      const { status, body } = await post(accept, '{"query":');
      expect(status).toBe(400);
      expect(body.errors).toHaveLength(1);
      expect(body.errors![0]).toMatchObject({ message: 'POST body sent invalid JSON.', extensions: { code: 'bad_request' } });
      expect(body).not.toHaveProperty('data');
    }
  });

  it('a body that is not a GraphQL request (no query) is 400', async () => {
    expect(await underBoth((accept) => post(accept, JSON.stringify({ variables: {} })))).toEqual([
      { status: 400, code: 'bad_request', executed: false },
      { status: 400, code: 'bad_request', executed: false },
    ]);
  });

  it('a POST without a content type is refused by the CSRF check with what to send, then 415 with the header alone', async () => {
    for (const accept of [json, graphqlResponse]) {
      const response = await fetch(`${t.url}/graphql`, { method: 'POST', headers: { accept }, body: new Uint8Array(Buffer.from('{"query":"{ __typename }"}')) });
      expect(response.status).toBe(403);
      const body = (await response.json()) as Body;
      expect(body.errors?.[0]?.extensions).toEqual({ code: 'bad_request' });
      expect(body.errors?.[0]?.message).toContain('Content-Type: application/json');
      expect(body.errors?.[0]?.message).toContain('x-graphql-yoga-csrf');
    }
    const form = await fetch(`${t.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'query={__typename}' });
    expect(form.status).toBe(403);
    const headerOnly = await fetch(`${t.url}/graphql`, { method: 'POST', headers: { 'content-type': 'text/plain', 'x-graphql-yoga-csrf': '1' }, body: '{}' });
    expect(headerOnly.status).toBe(415);
    const sent = await post(json, JSON.stringify({ query: '{ __typename }' }));
    expect([sent.status, sent.body]).toEqual([200, { data: { __typename: 'Query' } }]);
  });

  it('a mutation over GET is 405 with Allow: POST', async () => {
    const url = `${t.url}/graphql?query=${encodeURIComponent('mutation { signOut { ok } }')}`;
    for (const accept of [json, graphqlResponse]) {
      const response = await fetch(url, { headers: { accept, 'x-graphql-yoga-csrf': '1' } });
      expect(response.status).toBe(405);
      expect(response.headers.get('allow')).toBe('POST');
    }
  });

  it('an Accept no processor serves is 406', async () => {
    const { status } = await post('text/plain', JSON.stringify({ query: '{ __typename }' }));
    expect(status).toBe(406);
  });
});
