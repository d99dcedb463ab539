import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { signedInUser, uniqueEmail } from '../helpers/auth.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.close());

function call(path: string, init: RequestInit & { json?: unknown; apikey?: string | null } = {}) {
  const headers = new Headers(init.headers);
  if (init.apikey !== null) headers.set('apikey', init.apikey ?? t.apiKeys().anon);
  if (init.json !== undefined) headers.set('content-type', 'application/json');
  return fetch(`${t.url}/auth/v1${path}`, { ...init, headers, body: init.json !== undefined ? JSON.stringify(init.json) : init.body });
}

describe('/auth/v1 REST surface', () => {
  it('refuses calls without the apikey or with a wrong one; health and JWKS are open', async () => {
    const none = await call('/settings', { apikey: null });
    expect(none.status).toBe(401);
    expect(await none.json()).toMatchObject({ error_code: 'no_authorization', msg: 'No API key found in request' });
    const wrong = await call('/settings', { apikey: 'x'.repeat(40) });
    expect(((await wrong.json()) as { msg: string }).msg).toBe('Invalid API key');
    expect((await call('/health', { apikey: null })).status).toBe(200);
    expect((await call('/.well-known/jwks.json', { apikey: null })).status).toBe(200);
  });

  it('uses the versioned error shape and echoes the version header when asked', async () => {
    const legacy = await call('/token?grant_type=password', { method: 'POST', json: { email: 'a@b.co', password: 'nope-nope' } });
    expect(await legacy.json()).toEqual({ code: 400, error_code: 'invalid_credentials', msg: 'Invalid login credentials' });
    expect(legacy.headers.get('x-supabase-api-version')).toBeNull();
    const versioned = await call('/token?grant_type=password', {
      method: 'POST',
      headers: { 'x-supabase-api-version': '2024-01-01' },
      json: { email: 'a@b.co', password: 'nope-nope' },
    });
    expect(await versioned.json()).toEqual({ code: 'invalid_credentials', message: 'Invalid login credentials' });
    expect(versioned.headers.get('x-supabase-api-version')).toBe('2024-01-01');
  });

  it('refresh without a token is the OAuth-style 400', async () => {
    const res = await call('/token?grant_type=refresh_token', { method: 'POST', json: {} });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: 'invalid_request', error_description: 'refresh_token required' });
  });

  it('an unsupported grant type is invalid_credentials', async () => {
    const res = await call('/token?grant_type=magic', { method: 'POST', json: {} });
    expect(await res.json()).toMatchObject({ code: 400, error_code: 'invalid_credentials', msg: 'unsupported_grant_type' });
  });

  it('malformed JSON, a non-object body and wrong types are 4xx with codes; nothing is written', async () => {
    const before = await t.app.db.prisma.authUser.count();
    const malformed = await call('/signup', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"email":' });
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as { error_code: string }).error_code).toBe('bad_json');
    const array = await call('/signup', { method: 'POST', json: [1, 2] });
    expect(((await array.json()) as { error_code: string }).error_code).toBe('bad_json');
    const typed = await call('/signup', { method: 'POST', json: { email: 42, password: ['x'] } });
    expect(typed.status).toBe(400);
    expect(((await typed.json()) as { error_code: string }).error_code).toBe('validation_failed');
    const missing = await call('/signup', { method: 'POST', json: { password: 'correct-horse-1' } });
    expect(missing.status).toBe(422);
    expect(await t.app.db.prisma.authUser.count()).toBe(before);
  });

  it('a 2 MiB body is refused with 413 before it is read', async () => {
    const res = await call('/signup', { method: 'POST', json: { email: uniqueEmail(), password: 'x'.repeat(2 * 1024 * 1024) } });
    expect(res.status).toBe(413);
  });

  it('logout answers 204 with no body', async () => {
    const { session } = await signedInUser(t);
    const res = await call('/logout?scope=local', { method: 'POST', headers: { authorization: `Bearer ${session.access_token}` } });
    expect(res.status).toBe(204);
    expect(await res.text()).toBe('');
    const again = await call('/user', { headers: { authorization: `Bearer ${session.access_token}` } });
    expect(again.status).toBe(403);
    expect(((await again.json()) as { error_code: string }).error_code).toBe('session_not_found');
  });

  it('user routes without a Bearer are 401 no_authorization', async () => {
    const res = await call('/user');
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error_code: string }).error_code).toBe('no_authorization');
  });

  it('answers CORS preflights for browser clients', async () => {
    const res = await call('/token?grant_type=password', { method: 'OPTIONS', apikey: null, headers: { origin: 'http://app.example', 'access-control-request-method': 'POST' } });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-headers')).toContain('apikey');
  });

  it('settings, health and openid-configuration describe the engine', async () => {
    expect(await (await call('/settings')).json()).toMatchObject({ external: { email: true, phone: true }, mailer_autoconfirm: true, disable_signup: false });
    expect(await (await call('/health')).json()).toMatchObject({ name: 'GoTrue' });
    expect(await (await call('/.well-known/openid-configuration', { apikey: null })).json()).toMatchObject({
      jwks_uri: expect.stringMatching(/\/auth\/v1\/\.well-known\/jwks\.json$/),
    });
  });

  it('features the engine does not offer are feature_disabled', async () => {
    const res = await call('/sso', { method: 'POST', json: { domain: 'example.com' } });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error_code: string }).error_code).toBe('feature_disabled');
  });

  it('unknown users and wrong passwords get byte-identical answers', async () => {
    const { email } = await signedInUser(t);
    const wrong = await call('/token?grant_type=password', { method: 'POST', json: { email, password: 'wrong-password' } });
    const unknown = await call('/token?grant_type=password', { method: 'POST', json: { email: uniqueEmail('ghost'), password: 'wrong-password' } });
    expect(wrong.status).toBe(unknown.status);
    expect(await wrong.text()).toBe(await unknown.text());
  });
});

describe('/auth/v1 per-IP rate limits', () => {
  let limited: TestApp;
  beforeAll(async () => {
    limited = await startTestApp({ env: { AUTH_RATE_LIMIT_TOKEN: '3', AUTH_MAX_FREQUENCY: '60' } });
  });
  afterAll(() => limited.close());

  it('the 4th token request from one IP in the window is 429 over_request_rate_limit with Retry-After', async () => {
    const statuses: number[] = [];
    let last: Response | undefined;
    for (let i = 0; i < 4; i++) {
      last = await fetch(`${limited.url}/auth/v1/token?grant_type=password`, {
        method: 'POST',
        headers: { apikey: limited.apiKeys().anon, 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'x@example.com', password: 'wrong-password' }),
      });
      statuses.push(last.status);
    }
    expect(statuses).toEqual([400, 400, 400, 429]);
    expect(((await last!.json()) as { error_code: string }).error_code).toBe('over_request_rate_limit');
    expect(Number(last!.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('a second code to the same address within AUTH_MAX_FREQUENCY is not sent, and the answer is the same', async () => {
    const email = uniqueEmail('freq');
    const send = () =>
      fetch(`${limited.url}/auth/v1/otp`, {
        method: 'POST',
        headers: { apikey: limited.apiKeys().anon, 'content-type': 'application/json' },
        body: JSON.stringify({ email }),
      });
    const first = await send();
    const second = await send();
    expect([second.status, await second.text()]).toEqual([first.status, await first.text()]);
    await limited.app.engine!.settled();
    expect(await limited.app.db.prisma.authMessage.count({ where: { recipient: email } })).toBe(1);
  });
});
