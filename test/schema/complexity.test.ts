import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { signInRealmAdmin, type SignedIn } from '../helpers/realm.js';

// Query cost is computed with the executed arguments: a page size given as a
// variable costs what it asks for, as a literal does.

let t: TestApp;
let admin: SignedIn;
beforeAll(async () => {
  t = await startTestApp({ env: { GRAPHQL_MAX_COST: '2000' } });
  admin = await signInRealmAdmin(t);
});
afterAll(() => t.close());

const nested = 'query($n: Int) { tenants(first: $n) { edges { node { id members(first: $n) { edges { node { id role { name } } } } } } } }';
const literal = (n: number) => `{ tenants(first: ${n}) { edges { node { id members(first: ${n}) { edges { node { id role { name } } } } } } } }`;

async function ask(query: string, variables: Record<string, unknown> = {}) {
  const res = await t.app.yoga.fetch('http://localhost/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...admin.headers },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, body: (await res.json()) as { data?: unknown; errors?: Array<{ message: string; extensions: Record<string, unknown> }> } };
}

describe('query cost', () => {
  it('a page that fits the budget runs', async () => {
    const { body } = await ask(nested, { n: 10 });
    expect(body.errors).toBeUndefined();
  });

  it('a large page size in a variable is refused before anything runs, as is the same literal', async () => {
    const statements = await t.countStatements(async () => {
      for (const { status, body } of [await ask(nested, { n: 100 }), await ask(literal(100))]) {
        // Refused as the first field resolves: the operation ran (data is null), so the answer is 200.
        expect(status).toBe(200);
        expect(body.data ?? null).toBeNull();
        expect(body.errors?.[0]?.extensions).toMatchObject({ code: 'query_too_complex', limit: 2000 });
        expect(body.errors?.[0]?.message).toMatch(/cost \(complexity\) is \d+, over the limit of 2000/);
      }
    });
    // Only the viewer was resolved (its revocation check): no resolver ran.
    expect(statements).toBeLessThanOrEqual(2);
  });

  it('without first, a connection costs the default page size', async () => {
    const { body } = await ask('{ tenants { edges { node { members { edges { node { id role { name } } } } } } } }');
    // 1 + 20 × (3 + 20 × 5) = 2061 with the default page size of 20: over 2000, the default is not free.
    expect(body.errors?.[0]?.extensions?.code).toBe('query_too_complex');
  });
});
