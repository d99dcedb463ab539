import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createClient } from 'graphql-ws';
import * as OTPAuth from 'otpauth';
import { WebSocket } from 'ws';
import { ChallengeFactorDocument, EnrollFactorDocument, SignInDocument, VerifyFactorDocument } from '../generated/graphql.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { adminClient, signedInUser, uniqueEmail } from '../helpers/auth.js';
import { testDatabaseKind } from '../helpers/database.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ env: { AUTH_RATE_LIMIT_CREDENTIALS_PER_IDENTIFIER: '3', AUTH_RATE_LIMIT_CREDENTIALS_PER_IP: '6' } });
});
afterAll(() => t.close());
// Each case starts from empty counters (they live in the database when REDIS_URL is unset).
beforeEach(async () => {
  await t.app.db.prisma.rateLimit.deleteMany();
});

describe('rate limits on GraphQL credential operations', () => {
  it('the 4th sign-in attempt for one address is rate_limited with a retry-after; another address is not affected', async () => {
    const email = uniqueEmail('limited');
    // Created by the admin API: a sign-up is a credential operation on the address too.
    await adminClient(t).createUser({ email, password: 'correct-horse-1', email_confirm: true });
    const codes: string[] = [];
    for (let i = 0; i < 4; i++) {
      const { body } = await t.execute(SignInDocument, { input: { email, password: 'wrong-password' } });
      codes.push(String(body.errors?.[0]?.extensions?.code));
    }
    expect(codes).toEqual(['invalid_credentials', 'invalid_credentials', 'invalid_credentials', 'rate_limited']);
    const limited = await t.execute(SignInDocument, { input: { email, password: 'correct-horse-1' } });
    expect(limited.body.errors?.[0]?.extensions?.retryAfterSeconds).toBeGreaterThan(0);
    // A field error: the operation ran, so 200 under every media type.
    expect(limited.status).toBe(200);
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

/** Every character of an ASCII string in its fullwidth form (NFKC folds it back). */
const fullwidth = (text: string) => [...text].map((c) => String.fromCodePoint(c.codePointAt(0)! + 0xfee0)).join('');

describe('one bucket per account, whatever the spelling or the surface', () => {
  const restSignIn = (body: Record<string, string>) =>
    fetch(`${t.url}/auth/v1/token?grant_type=password`, {
      method: 'POST',
      headers: { apikey: t.apiKeys().anon, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const graphqlSignIn = async (input: { email?: string; phone?: string; password: string }) =>
    (await t.execute(SignInDocument, { input })).body.errors?.[0]?.extensions?.code ?? 'signed_in';

  it('whitespace, case and Unicode compatibility variants of an address count as the address, on GraphQL and /auth/v1', async () => {
    const email = uniqueEmail('variants');
    await adminClient(t).createUser({ email, password: 'correct-horse-1', email_confirm: true });
    expect(await graphqlSignIn({ email: `   ${email.toUpperCase()}`, password: 'wrong-password' })).toBe('invalid_credentials');
    expect((await restSignIn({ email: fullwidth(email), password: 'wrong-password' })).status).toBe(400);
    expect(await graphqlSignIn({ email: `${email}\t`, password: 'wrong-password' })).toBe('invalid_credentials');
    // The limit holds for the right password too, on both surfaces.
    expect(await graphqlSignIn({ email: `   ${email}`, password: 'correct-horse-1' })).toBe('rate_limited');
    const rest = await restSignIn({ email, password: 'correct-horse-1' });
    expect(rest.status).toBe(429);
    expect(((await rest.json()) as { error_code: string }).error_code).toBe('over_request_rate_limit');
  });

  it('the lookup reads the same spelling: a padded, upper-case or fullwidth address signs in to the account', async () => {
    const email = uniqueEmail('lookup');
    await adminClient(t).createUser({ email, password: 'correct-horse-1', email_confirm: true });
    expect(await graphqlSignIn({ email: ` ${fullwidth(email.toUpperCase())} `, password: 'correct-horse-1' })).toBe('signed_in');
    expect((await restSignIn({ email: fullwidth(email), password: 'correct-horse-1' })).status).toBe(200);
  });

  it('phone numbers written with +, spaces, dashes or parentheses count as one number, on GraphQL and /auth/v1', async () => {
    const local = String(Date.now()).slice(-7);
    const phone = `1555${local}`;
    await adminClient(t).createUser({ phone, password: 'correct-horse-1', phone_confirm: true });
    const [a, b] = [local.slice(0, 3), local.slice(3)];
    expect(await graphqlSignIn({ phone: `+1 555 ${a} ${b}`, password: 'wrong-password' })).toBe('invalid_credentials');
    expect((await restSignIn({ phone: `+1 (555) ${a}-${b}`, password: 'wrong-password' })).status).toBe(400);
    expect(await graphqlSignIn({ phone: `1-555-${a}-${b}`, password: 'wrong-password' })).toBe('invalid_credentials');
    expect(await graphqlSignIn({ phone: `(1) 555${local}`, password: 'correct-horse-1' })).toBe('rate_limited');
    expect((await restSignIn({ phone, password: 'correct-horse-1' })).status).toBe(429);
  });
});

describe('verifyFactor: one bucket per factor, whatever the spelling of its id', () => {
  const totpCode = (secret: string) =>
    new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 }).generate();

  async function enrolled() {
    const { session } = await signedInUser(t);
    const headers = { authorization: `Bearer ${session.access_token}` };
    const { body } = await t.execute(EnrollFactorDocument, { input: { factorType: 'TOTP', friendlyName: 'app' } }, headers);
    const factorId = body.data!.enrollFactor.factor.id;
    const challenge = await t.execute(ChallengeFactorDocument, { input: { factorId } }, headers);
    return { headers, factorId, secret: body.data!.enrollFactor.totp!.secret, challengeId: challenge.body.data!.challengeFactor.challengeId };
  }

  it('upper case, no hyphens and braces share the canonical id\'s bucket; then the right code is refused too', async () => {
    const { headers, factorId, secret, challengeId } = await enrolled();
    const verify = async (id: string, code: string) =>
      (await t.execute(VerifyFactorDocument, { input: { factorId: id, challengeId, code } }, headers)).body.errors?.[0]?.extensions?.code;
    // The challenge counted once; the limit is 3.
    expect(await verify(factorId.toUpperCase(), '000000')).toBe('invalid_otp');
    expect(await verify(factorId.replace(/-/g, ''), '000000')).toBe('invalid_otp');
    expect(await verify(`{${factorId}}`, '000000')).toBe('rate_limited');
    expect(await verify(factorId, totpCode(secret))).toBe('rate_limited');
    const keys = await t.app.db.prisma.rateLimit.findMany({ where: { key: { contains: 'factor:' } }, select: { key: true } });
    expect(keys.map((row) => row.key.slice(row.key.indexOf('factor:')))).toEqual([`factor:${factorId}`]);
  });

  it('an id that is not a UUID is not_found, never a server error, and reaches no SQL spelling of the factor', async () => {
    const { headers, factorId, challengeId } = await enrolled();
    const hex = factorId.replace(/-/g, '');
    // PostgreSQL reads this spelling as the factor's uuid: it must not get there.
    const pgOnly = hex.match(/.{4}/g)!.join('-');
    for (const id of ['not-a-uuid', '-'.repeat(36), pgOnly, `${factorId}\n`, '']) {
      const { body } = await t.execute(VerifyFactorDocument, { input: { factorId: id, challengeId, code: '000000' } }, headers);
      expect(body.errors?.[0]?.extensions?.code, JSON.stringify(id)).toBe('not_found');
    }
  });
});

describe('signUp: the per-IP limit of /auth/v1/signup (AUTH_RATE_LIMIT_OTP), on every GraphQL transport', () => {
  let s: TestApp;
  beforeAll(async () => {
    s = await startTestApp({ env: { AUTH_RATE_LIMIT_OTP: '3' } });
  });
  afterAll(() => s.close());
  beforeEach(async () => {
    await s.app.db.prisma.rateLimit.deleteMany();
  });

  const signUpField = (alias: string, tag = 'signup-limit') =>
    `${alias}: signUp(input: { email: "${uniqueEmail(tag)}", password: "correct-horse-1" }) { user { id } }`;
  async function overHttp(query: string) {
    const res = await fetch(`${s.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
    return (await res.json()) as { data?: Record<string, unknown> | null; errors?: Array<{ path?: string[]; extensions: { code: string } }> };
  }

  it('over HTTP, the 4th sign-up from one IP is rate_limited', async () => {
    const codes = [];
    for (let i = 0; i < 4; i++) codes.push((await overHttp(`mutation { ${signUpField('a')} }`)).errors?.[0]?.extensions.code ?? 'ok');
    expect(codes).toEqual(['ok', 'ok', 'ok', 'rate_limited']);
  });

  it('aliases in one request count one each', async () => {
    const tag = `alias-batch-${Date.now()}`;
    const { errors } = await overHttp(`mutation { ${['a', 'b', 'c', 'd', 'e'].map((alias) => signUpField(alias, tag)).join(' ')} }`);
    // signUp is non-null: the first refusal ends the (serial) mutation.
    expect(errors?.map((e) => e.extensions.code)).toEqual(['rate_limited']);
    expect(errors?.[0]?.path).toEqual(['d']);
    expect(await s.app.db.prisma.authUser.count({ where: { email: { startsWith: tag } } })).toBe(3);
  });

  it('over graphql-ws the socket\'s IP counts with the same bucket', async () => {
    for (let i = 0; i < 3; i++) expect((await overHttp(`mutation { ${signUpField('a')} }`)).errors).toBeUndefined();
    const client = createClient({ url: s.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true });
    try {
      const result = await new Promise<{ errors?: ReadonlyArray<{ extensions?: Record<string, unknown> }> }>((resolve, reject) => {
        let last = {};
        client.subscribe({ query: `mutation { ${signUpField('a')} }` }, { next: (value) => (last = value), error: reject, complete: () => resolve(last) });
      });
      expect(result.errors?.[0]?.extensions?.code).toBe('rate_limited');
    } finally {
      await client.dispose();
    }
  });
});
