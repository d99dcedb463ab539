import type http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProviderError } from '../../src/identity/errors.js';
import { parseGotrueError } from '../../src/identity/gotrue/errors.js';
import * as recorded from '../fixtures/gotrue/responses.js';
import { gotrueIdentityFor, json, startStubServer } from '../helpers/gotrue.js';

// A local server answering with recorded GoTrue responses, for what the
// embedded engine does not produce, and to see exactly what the client sends.

type Stub = Awaited<ReturnType<typeof startStubServer>>;
let server: Stub;

const redirect = (res: http.ServerResponse, to: { status: number; location: string }) => {
  res.writeHead(to.status, { location: to.location });
  res.end();
};
let gotrue: ReturnType<typeof gotrueIdentityFor>;

beforeAll(async () => {
  server = await startStubServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    const route = `${req.method} ${url.pathname.replace(/^\/auth\/v1/, '')}`;
    switch (route) {
      case 'GET /authorize':
        return redirect(res, recorded.authorizeRedirect);
      case 'GET /callback':
        return redirect(res, recorded.callbackRedirect);
      case 'GET /user/identities/authorize':
        return json(res, 200, recorded.identityAuthorize);
      case 'POST /sso':
        return JSON.parse(req.body).domain === 'unknown.example' ? json(res, 404, recorded.versionedError, { 'x-supabase-api-version': '2024-01-01' }) : json(res, 200, recorded.ssoUrl);
      case 'GET /sso/saml/metadata':
        res.writeHead(200, { 'content-type': 'application/xml' });
        return res.end(recorded.samlMetadata);
      case 'POST /sso/saml/acs':
        return redirect(res, recorded.samlAcsRedirect);
      case 'POST /admin/users':
        return json(res, 422, recorded.legacyError);
      case 'POST /token':
        return json(res, 400, recorded.oauthError);
      case 'POST /signup':
        return json(res, 422, recorded.weakPasswordError, { 'x-supabase-api-version': '2024-01-01' });
      case 'POST /otp':
        return json(res, 429, recorded.rateLimitError, { 'retry-after': '42' });
      case 'GET /settings':
        return json(res, 500, recorded.legacyServerError);
      default:
        if (req.method === 'PUT' && /\/admin\/users\/[^/]+\/factors\/[^/]+$/.test(url.pathname)) return json(res, 200, { ...recorded.adminFactor, ...JSON.parse(req.body) });
        return json(res, 404, { code: 404, error_code: 'not_found', msg: 'no fixture' });
    }
  });
  gotrue = gotrueIdentityFor(server.asUpstream, { GOTRUE_RETRIES: '0' });
});
afterAll(async () => {
  await gotrue.close();
  await server.close();
});

const errorOf = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: unknown) => e as ProviderError,
  );

describe('GoTrue client against recorded GoTrue answers', () => {
  it('authorize and callback return the redirect; identity linking returns the IdP URL', async () => {
    expect(await gotrue.client.authorize({ provider: 'github', redirect_to: 'http://localhost:3000/auth/callback', scopes: 'user:email' })).toEqual(recorded.authorizeRedirect);
    const authorizeUrl = new URL(server.requests.at(-1)!.url, 'http://x');
    expect(Object.fromEntries(authorizeUrl.searchParams)).toEqual({ provider: 'github', redirect_to: 'http://localhost:3000/auth/callback', scopes: 'user:email' });
    expect(await gotrue.client.callback({ code: 'idp-code', state: '9f0c' })).toEqual(recorded.callbackRedirect);
    expect(await gotrue.client.authorizeIdentity('user-token', { provider: 'github' })).toEqual(recorded.identityAuthorize);
    expect(new URL(server.requests.at(-1)!.url, 'http://x').searchParams.get('skip_http_redirect')).toBe('true');
    expect(server.requests.at(-1)!.headers.authorization).toBe('Bearer user-token');
  });

  it('SSO answers {url} (skip_http_redirect sent); an unknown domain is 404 sso_provider_not_found; SAML metadata is XML; ACS redirects', async () => {
    expect(await gotrue.client.sso({ domain: 'example.com' })).toEqual(recorded.ssoUrl);
    expect(JSON.parse(server.requests.at(-1)!.body)).toEqual({ skip_http_redirect: true, domain: 'example.com' });
    expect(await errorOf(gotrue.client.sso({ domain: 'unknown.example' }))).toMatchObject({ status: 404, errorCode: 'sso_provider_not_found' });
    expect(await gotrue.client.samlMetadata()).toBe(recorded.samlMetadata);
    expect(await gotrue.client.samlAcs({ SAMLResponse: 'PHNhbWw+', RelayState: 'r1' })).toEqual(recorded.samlAcsRedirect);
    const acs = server.requests.at(-1)!;
    expect([acs.headers['content-type'], acs.body]).toEqual(['application/x-www-form-urlencoded', 'SAMLResponse=PHNhbWw%2B&RelayState=r1']);
  });

  it('parses the legacy, versioned, OAuth-style, weak-password and rate-limit error shapes', async () => {
    expect(await errorOf(gotrue.client.admin.createUser({ email: 'a@example.com' }))).toMatchObject({
      status: 422,
      errorCode: 'email_exists',
      message: recorded.legacyError.msg,
    });
    expect(await errorOf(gotrue.client.tokenIdToken({ provider: 'google', id_token: 'x' }))).toMatchObject({
      status: 400,
      errorCode: 'validation_failed',
      message: 'Bad ID token',
      extra: { oauth: 'invalid request' },
    });
    expect(await errorOf(gotrue.client.signup({ email: 'a@example.com', password: 'abc' }))).toMatchObject({
      status: 422,
      errorCode: 'weak_password',
      extra: { weakPassword: { reasons: ['characters'] } },
    });
    expect(await errorOf(gotrue.client.otp({ email: 'a@example.com' }))).toMatchObject({
      status: 429,
      errorCode: 'over_email_send_rate_limit',
      extra: { retryAfterSeconds: 42 },
    });
    // A 500 with a body is GoTrue answering (not a transport failure): its own code, no retry.
    expect(await errorOf(gotrue.client.settings())).toMatchObject({ status: 500, errorCode: 'unexpected_failure' });
  });

  it('admin factor update', async () => {
    expect(await gotrue.client.admin.updateFactor('u1', recorded.adminFactor.id, { friendly_name: 'Renamed' })).toMatchObject({ id: recorded.adminFactor.id, friendly_name: 'Renamed' });
  });

  it('sends apikey, the Bearer, the API version, the request id and the end user as X-Forwarded-For', async () => {
    await errorOf(gotrue.client.tokenPassword({ email: 'a@example.com', password: 'secret-1' }, { ip: '198.51.100.23', userAgent: null, requestId: 'req-42' }));
    const sent = server.requests.at(-1)!;
    expect(sent.url).toBe('/auth/v1/token?grant_type=password');
    expect(sent.headers).toMatchObject({
      apikey: 'anon-key-0123456789abcdef',
      authorization: 'Bearer anon-key-0123456789abcdef',
      'x-supabase-api-version': '2024-01-01',
      'x-request-id': 'req-42',
      'x-forwarded-for': '198.51.100.23',
      'content-type': 'application/json',
    });
    await gotrue.client.admin.updateFactor('u1', 'f1', {});
    expect(server.requests.at(-1)!.headers.authorization).toBe('Bearer service-key-0123456789abcdef');
  });
});

describe('parseGotrueError', () => {
  it('reads every shape; an unknown body keeps the status', () => {
    expect(parseGotrueError(422, recorded.legacyError)).toMatchObject({ status: 422, errorCode: 'email_exists' });
    expect(parseGotrueError(404, recorded.versionedError)).toMatchObject({ errorCode: 'sso_provider_not_found', message: recorded.versionedError.message });
    expect(parseGotrueError(400, { error: 'invalid_request', error_description: 'refresh_token required' })).toMatchObject({ extra: { oauth: 'invalid_request' } });
    expect(parseGotrueError(502, null)).toMatchObject({ status: 502, errorCode: 'unexpected_failure' });
    expect(parseGotrueError(418, 'teapot')).toMatchObject({ status: 418, errorCode: 'unknown' });
  });
});
