import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignInDocument, SignUpDocument } from '../generated/graphql.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { uniqueEmail } from '../helpers/auth.js';
import { testDatabaseKind } from '../helpers/database.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ env: { AUTH_RATE_LIMIT_CREDENTIALS_PER_IDENTIFIER: '3', AUTH_RATE_LIMIT_CREDENTIALS_PER_IP: '6' } });
});
afterAll(() => t.close());

describe('rate limits on GraphQL credential operations', () => {
  it('the 4th sign-in attempt for one address is rate_limited with a retry-after; another address is not affected', async () => {
    const email = uniqueEmail('limited');
    await t.execute(SignUpDocument, { input: { email, password: 'correct-horse-1' } });
    const codes: string[] = [];
    for (let i = 0; i < 4; i++) {
      const { body } = await t.execute(SignInDocument, { input: { email, password: 'wrong-password' } });
      codes.push(String(body.errors?.[0]?.extensions?.code));
    }
    expect(codes).toEqual(['invalid_credentials', 'invalid_credentials', 'invalid_credentials', 'rate_limited']);
    const limited = await t.execute(SignInDocument, { input: { email, password: 'correct-horse-1' } });
    expect(limited.body.errors?.[0]?.extensions?.retryAfterSeconds).toBeGreaterThan(0);
    expect(limited.status).toBe(429);
    const other = await t.execute(SignInDocument, { input: { email: uniqueEmail('free'), password: 'wrong-password' } });
    expect(other.body.errors?.[0]?.extensions?.code).toBe('invalid_credentials');
  });

  it('over real HTTP, the per-IP limit stops a spray across many addresses', async () => {
    const codes: string[] = [];
    for (let i = 0; i < 8; i++) {
      const res = await fetch(`${t.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          query: 'mutation($input: SignInInput!) { signIn(input: $input) { session { accessToken } } }',
          variables: { input: { email: uniqueEmail('spray'), password: 'wrong-password' } },
        }),
      });
      codes.push(((await res.json()) as { errors: Array<{ extensions: { code: string } }> }).errors[0]!.extensions.code);
    }
    expect(codes.slice(0, 6)).toEqual(Array(6).fill('invalid_credentials'));
    expect(codes.slice(6)).toEqual(['rate_limited', 'rate_limited']);
  });

  it.runIf(testDatabaseKind === 'postgres')('replicas on one database share the counts', async () => {
    const replica = await startTestApp({
      database: { url: t.database.url, drop: async () => {} },
      env: { AUTH_RATE_LIMIT_CREDENTIALS_PER_IDENTIFIER: '3', AUTH_RATE_LIMIT_CREDENTIALS_PER_IP: '6' },
    });
    try {
      const email = uniqueEmail('shared');
      const attempt = (app: TestApp) => app.execute(SignInDocument, { input: { email, password: 'wrong-password' } });
      const codes = [];
      for (const app of [t, replica, t, replica]) codes.push((await attempt(app)).body.errors?.[0]?.extensions?.code);
      expect(codes).toEqual(['invalid_credentials', 'invalid_credentials', 'invalid_credentials', 'rate_limited']);
    } finally {
      await replica.close();
    }
  });
});
