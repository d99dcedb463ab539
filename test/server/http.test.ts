import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.close());

const graphqlHeaders = { 'content-type': 'application/json', accept: 'application/graphql-response+json' };

function post(body: string, headers: Record<string, string> = graphqlHeaders) {
  return fetch(`${t.url}/graphql`, { method: 'POST', headers, body });
}

describe('HTTP transport', () => {
  it('answers /healthz and /readyz', async () => {
    const live = await fetch(`${t.url}/healthz`);
    expect(live.status).toBe(200);
    expect(await live.json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${t.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', checks: { database: 'up' } });
  });

  it('serves GraphiQL at /graphql outside production', async () => {
    const page = await fetch(`${t.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(await page.text()).toContain('<title>idgraph</title>');
  });

  it('runs a query over real HTTP', async () => {
    const response = await post(JSON.stringify({ query: '{ realm { slug } }' }));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ data: { realm: { slug: 'default' } } });
  });

  it('streams a result over SSE', async () => {
    const response = await post(JSON.stringify({ query: '{ realm { slug } }' }), {
      'content-type': 'application/json',
      accept: 'text/event-stream',
    });
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const text = await response.text();
    expect(text).toContain('event: next');
    expect(text).toContain('"slug":"default"');
    expect(text).toContain('event: complete');
  });

  it('unknown routes get a 404 with a code and the request id', async () => {
    const response = await fetch(`${t.url}/nope`, { headers: { 'x-request-id': 'req-123' } });
    expect(response.status).toBe(404);
    expect(response.headers.get('x-request-id')).toBe('req-123');
    expect(await response.json()).toEqual({ code: 404, error_code: 'not_found', msg: 'No route for GET /nope.', request_id: 'req-123' });
  });

  it('a wrong method on a known route is refused with Allow', async () => {
    const response = await fetch(`${t.url}/healthz`, { method: 'POST', body: '{}' });
    expect(response.status).toBe(400);
    expect(response.headers.get('allow')).toBe('GET');
    expect((await response.json()).error_code).toBe('bad_request');
  });

  it('refuses a body over 1 MiB with 413 before reading it', async () => {
    const big = JSON.stringify({ query: `{ realm { slug } }`, variables: { pad: 'x'.repeat(1024 * 1024) } });
    const response = await post(big);
    expect(response.status).toBe(413);
    expect((await response.json()).errors[0].extensions).toMatchObject({ code: 'payload_too_large', limit: 1024 * 1024 });
  });

  it('refuses a chunked body without a length', async () => {
    const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(`${t.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
        let data = '';
        res.on('data', (c) => (data += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
      });
      req.on('error', reject);
      req.write('{"query":');
      req.end('"{ realm { slug } }"}');
    });
    expect(status).toBe(400);
    expect(JSON.parse(body).errors[0].extensions.code).toBe('bad_request');
  });

  it('malformed GraphQL is a 400 bad_request without a stack', async () => {
    const response = await post(JSON.stringify({ query: '{ realm { ' }));
    expect(response.status).toBe(400);
    const body = await response.json();
    expect(body.errors[0].extensions.code).toBe('bad_request');
    expect(body.errors[0].message).toMatch(/^Syntax Error/);
    expect(JSON.stringify(body)).not.toMatch(/at .*\.ts:\d+/);
  });

  it('invalid JSON and unknown fields are bad_request', async () => {
    const invalid = await post('{"query":');
    expect(invalid.status).toBe(400);
    expect((await invalid.json()).errors[0].extensions.code).toBe('bad_request');
    const unknown = await post(JSON.stringify({ query: '{ tenants { id } }' }));
    expect(unknown.status).toBe(400);
    expect((await unknown.json()).errors[0].extensions.code).toBe('bad_request');
  });

  it('refuses more aliases than allowed', async () => {
    const query = `{ ${Array.from({ length: 31 }, (_, i) => `a${i}: health { version }`).join(' ')} }`;
    const response = await post(JSON.stringify({ query }));
    expect(response.status).toBe(400);
    const body = await response.json();
    expect(body.errors[0].extensions.code).toBe('query_too_complex');
    expect(body.data).toBeUndefined();
  });

  it('refuses GET queries without a CSRF header; allows them with one', async () => {
    const url = `${t.url}/graphql?query=${encodeURIComponent('{ realm { slug } }')}`;
    const refused = await fetch(url, { headers: { accept: 'application/json' } });
    expect(refused.status).toBe(403);
    const { errors } = await refused.json();
    expect(errors[0].extensions.code).toBe('bad_request');
    expect(errors[0].message).toContain('x-graphql-yoga-csrf: 1');
    const allowed = await fetch(url, { headers: { accept: 'application/json', 'x-graphql-yoga-csrf': '1' } });
    expect(allowed.status).toBe(200);
    expect(await allowed.json()).toEqual({ data: { realm: { slug: 'default' } } });
  });

  it('masks unexpected errors, and logs them once with the request id', async () => {
    const spy = vi
      .spyOn(t.app.services.realms, 'getDefaultRealm')
      .mockRejectedValueOnce(new Error('connection to db.internal:5432 failed for user admin'));
    const response = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { ...graphqlHeaders, 'x-request-id': 'req-masked-1' },
      body: JSON.stringify({ query: '{ realm { slug } }' }),
    });
    spy.mockRestore();
    const body = await response.json();
    expect(body.errors).toEqual([
      { message: 'Unexpected error.', locations: [{ line: 1, column: 3 }], path: ['realm'], extensions: { code: 'server_error' } },
    ]);
    expect(JSON.stringify(body)).not.toContain('db.internal');
    const logged = t.logs.lines.filter((l) => l.msg === 'unexpected error in a resolver');
    expect(logged).toHaveLength(1);
    expect(logged[0]!.requestId).toBe('req-masked-1');
    expect(JSON.stringify(logged[0]!.err)).toContain('db.internal');
  });

  it('mints a request id when the caller sends none or a bad one', async () => {
    const none = await fetch(`${t.url}/healthz`);
    expect(none.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const bad = await fetch(`${t.url}/healthz`, { headers: { 'x-request-id': 'a b\tc' } });
    expect(bad.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('HTTP transport, configured limits', () => {
  let limited: TestApp;
  beforeAll(async () => {
    limited = await startTestApp({ env: { GRAPHQL_MAX_DEPTH: '1', GRAPHQL_MAX_TOKENS: '40', GRAPHIQL: 'false' } });
  });
  afterAll(() => limited.close());

  const send = (query: string) =>
    fetch(`${limited.url}/graphql`, { method: 'POST', headers: graphqlHeaders, body: JSON.stringify({ query }) });

  it('refuses a query deeper than GRAPHQL_MAX_DEPTH', async () => {
    const response = await send('{ health { version } }');
    expect(response.status).toBe(400);
    const body = await response.json();
    expect(body.errors[0].extensions.code).toBe('query_too_complex');
    expect(body.errors[0].message).toContain('depth');
  });

  it('refuses a query over GRAPHQL_MAX_TOKENS', async () => {
    const response = await send(`{ ${'__typename '.repeat(60)} }`);
    expect(response.status).toBe(400);
    expect((await response.json()).errors[0].extensions.code).toBe('query_too_complex');
  });

  it('serves no GraphiQL when GRAPHIQL=false', async () => {
    const page = await fetch(`${limited.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(page.headers.get('content-type') ?? '').not.toContain('text/html');
  });
});
