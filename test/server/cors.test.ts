import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AddOriginDocument } from '../generated/graphql.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { signInRealmAdmin, type SignedIn } from '../helpers/realm.js';

let t: TestApp;
let admin: SignedIn;

beforeAll(async () => {
  t = await startTestApp();
  admin = await signInRealmAdmin(t);
});
afterAll(() => t.close());

/** A real HTTP request to /graphql as a browser page at `origin` would send it. */
function fromPage(origin: string | null, method: 'POST' | 'OPTIONS' = 'POST') {
  const headers: Record<string, string> = origin === null ? {} : { origin };
  if (method === 'OPTIONS') {
    Object.assign(headers, { 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' });
    return fetch(`${t.url}/graphql`, { method, headers });
  }
  return fetch(`${t.url}/graphql`, {
    method,
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify({ query: '{ __typename }' }),
  });
}

const cors = (response: Response) => ({
  origin: response.headers.get('access-control-allow-origin'),
  credentials: response.headers.get('access-control-allow-credentials'),
  vary: response.headers.get('vary'),
});

describe('CORS on /graphql', () => {
  it('with an empty allowlist any page may read answers, never with credentials', async () => {
    for (const method of ['POST', 'OPTIONS'] as const) {
      const response = await fromPage('https://anyone.example', method);
      expect(response.ok).toBe(true);
      expect(cors(response)).toMatchObject({ origin: 'https://anyone.example', credentials: null });
      expect(cors(response).vary).toContain('Origin');
    }
    const preflight = await fromPage('https://anyone.example', 'OPTIONS');
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-headers')).toBe('authorization, content-type');
  });

  it('with an allowlist only a listed page gets its Origin back (with credentials); every other page gets no CORS header', async () => {
    const { body } = await t.execute(AddOriginDocument, { input: { origin: 'https://app.example.com' } }, admin.headers);
    expect(body.errors).toBeUndefined();

    for (const method of ['POST', 'OPTIONS'] as const) {
      const listed = await fromPage('https://app.example.com', method);
      expect(cors(listed)).toMatchObject({ origin: 'https://app.example.com', credentials: 'true' });
      expect(cors(listed).vary).toContain('Origin');

      for (const origin of [
        'https://evil.example',
        'https://app.example.com.evil.example',
        'https://evilapp.example.com',
        'https://app.example.com@evil.example',
        'null',
        'https://*.example.com',
      ]) {
        const refused = await fromPage(origin, method);
        expect(cors(refused), `${method} ${origin}`).toEqual({ origin: null, credentials: null, vary: 'Origin' });
        expect(refused.headers.get('access-control-allow-headers')).toBeNull();
      }
    }

    // Servers and curl send no Origin: nothing to decide, the answer is as before.
    const server = await fromPage(null);
    expect(await server.json()).toEqual({ data: { __typename: 'Query' } });
    expect(cors(server)).toEqual({ origin: null, credentials: null, vary: null });
  });
});
