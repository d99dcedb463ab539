import type http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { ProviderError } from '../../src/identity/errors.js';
import { closedPort, gotrueIdentityFor, json, startStubServer } from '../helpers/gotrue.js';

// Faults between idgraph and GoTrue, against tiny local servers: each ends as
// upstream_unavailable within the configured timeouts, never as a hung call.

const fast = { GOTRUE_CONNECT_TIMEOUT_MS: '300', GOTRUE_HEADERS_TIMEOUT_MS: '300', GOTRUE_BODY_TIMEOUT_MS: '300', GOTRUE_RETRIES: '2', GOTRUE_BREAKER_THRESHOLD: '100' };
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function stub(handler: (req: { url: string; method: string }, res: http.ServerResponse) => void) {
  const server = await startStubServer(handler);
  cleanups.push(server.close);
  return server;
}

function clientOf(upstream: { url: string; apiKeys(): { anon: string; serviceRole: string } }, env: Record<string, string> = {}, deps = {}) {
  const identity = gotrueIdentityFor(upstream, { ...fast, ...env }, { random: () => 0, ...deps });
  cleanups.push(identity.close);
  return identity;
}

async function timed(call: Promise<unknown>) {
  const started = performance.now();
  const error = await call.then(
    () => null,
    (e: unknown) => e,
  );
  return { error: error as ProviderError, ms: performance.now() - started };
}

const unavailable = { status: 503, errorCode: 'upstream_unavailable' };

describe('GoTrue transport faults', () => {
  it('connection refused → upstream_unavailable at once', async () => {
    const port = await closedPort();
    const gotrue = clientOf({ url: `http://127.0.0.1:${port}`, apiKeys: () => ({ anon: 'a'.repeat(20), serviceRole: 's'.repeat(20) }) });
    const { error, ms } = await timed(gotrue.client.health());
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject(unavailable);
    expect(ms).toBeLessThan(1000);
  });

  it('headers slower than the timeout → upstream_unavailable after the timeout (GET retried, POST not)', async () => {
    const server = await stub(() => {
      /* never answers */
    });
    const gotrue = clientOf(server.asUpstream);
    const get = await timed(gotrue.client.settings());
    expect(get.error).toMatchObject(unavailable);
    expect(server.requests.filter((r) => r.method === 'GET')).toHaveLength(3);
    // Each attempt may spend the connect and the headers timeouts (300 ms each).
    expect(get.ms).toBeLessThan(3 * 600 + 500);
    const post = await timed(gotrue.client.tokenPassword({ email: 'a@example.com', password: 'x' }));
    expect(post.error).toMatchObject(unavailable);
    expect(server.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
    expect(post.ms).toBeLessThan(900);
  });

  it('503 is retried for idempotent calls only, with backoff, then upstream_unavailable', async () => {
    const server = await stub((_req, res) => json(res, 503, { message: 'upstream connect error' }));
    const gotrue = clientOf(server.asUpstream);
    expect((await timed(gotrue.client.health())).error).toMatchObject(unavailable);
    expect(server.requests).toHaveLength(3);
    expect((await timed(gotrue.client.signup({ email: 'a@example.com', password: 'secret-1' }))).error).toMatchObject(unavailable);
    expect(server.requests).toHaveLength(4);
  });

  it('a 503 then a 200: the retry succeeds', async () => {
    let calls = 0;
    const server = await stub((_req, res) => (calls++ === 0 ? json(res, 503, {}) : json(res, 200, { version: '2.170.0', name: 'GoTrue', description: 'x' })));
    const gotrue = clientOf(server.asUpstream);
    expect(await gotrue.client.health()).toMatchObject({ name: 'GoTrue' });
    expect(calls).toBe(2);
  });

  it('a truncated body and invalid JSON → upstream_unavailable', async () => {
    const truncated = await stub((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"version":');
      setTimeout(() => res.socket?.destroy(), 20);
    });
    expect((await timed(clientOf(truncated.asUpstream, { GOTRUE_RETRIES: '0' }).client.health())).error).toMatchObject(unavailable);
    const html = await stub((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>Bad gateway</html>');
    });
    expect((await timed(clientOf(html.asUpstream).client.health())).error).toMatchObject(unavailable);
    expect(html.requests).toHaveLength(1);
  });

  it('a body that trickles slower than the body timeout → upstream_unavailable, not a hung call', async () => {
    const server = await stub((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{');
      // Never finishes.
    });
    const { error, ms } = await timed(clientOf(server.asUpstream, { GOTRUE_RETRIES: '0' }).client.health());
    expect(error).toMatchObject(unavailable);
    expect(ms).toBeLessThan(1500);
  });

  it('failures are logged without any credential: no body, header or query string', async () => {
    const server = await stub((_req, res) => json(res, 503, {}));
    const gotrue = clientOf(server.asUpstream);
    await timed(gotrue.client.tokenRefresh({ refresh_token: 'refresh-secret-4242' }));
    await timed(gotrue.client.verifyLink({ token: 'link-secret-4242', type: 'magiclink' }));
    await timed(gotrue.client.getUser('access-secret-4242'));
    const text = gotrue.logs.text();
    expect(gotrue.logs.lines.filter((l) => l.msg === 'GoTrue call failed').length).toBeGreaterThanOrEqual(3);
    expect(text).not.toMatch(/secret-4242|anon-key|service-key/);
  });

  it('GoTrue error answers are not transport failures: not retried, the breaker stays closed', async () => {
    const server = await stub((_req, res) => json(res, 400, { code: 'invalid_credentials', message: 'Invalid login credentials' }, { 'x-supabase-api-version': '2024-01-01' }));
    const gotrue = clientOf(server.asUpstream, { GOTRUE_BREAKER_THRESHOLD: '2' });
    for (let i = 0; i < 4; i++) {
      expect((await timed(gotrue.client.tokenPassword({ email: 'a@example.com', password: 'x' }))).error).toMatchObject({ status: 400, errorCode: 'invalid_credentials' });
    }
    expect(server.requests).toHaveLength(4);
    expect(gotrue.transport.breaker.state()).toBe('closed');
  });
});

describe('GoTrue circuit breaker', () => {
  it('opens after the threshold (calls fail fast without reaching GoTrue), half-opens after the cooldown, closes on a good trial', async () => {
    let now = 1_000_000;
    let healthy = false;
    const server = await stub((_req, res) => (healthy ? json(res, 200, { version: '1', name: 'GoTrue', description: '' }) : json(res, 502, {})));
    const gotrue = clientOf(server.asUpstream, { GOTRUE_RETRIES: '0', GOTRUE_BREAKER_THRESHOLD: '3', GOTRUE_BREAKER_COOLDOWN_MS: '10000' }, { clock: () => now });
    for (let i = 0; i < 3; i++) expect((await timed(gotrue.client.health())).error).toMatchObject(unavailable);
    expect(gotrue.transport.breaker.state()).toBe('open');
    const fastFail = await timed(gotrue.client.health());
    expect(fastFail.error).toMatchObject({ ...unavailable, extra: { retryAfterSeconds: 10 } });
    expect(fastFail.ms).toBeLessThan(50);
    expect(server.requests).toHaveLength(3);

    now += 10_000;
    expect(gotrue.transport.breaker.state()).toBe('half-open');
    // A failed trial opens the circuit again for a full cooldown.
    expect((await timed(gotrue.client.health())).error).toMatchObject(unavailable);
    expect(server.requests).toHaveLength(4);
    expect(gotrue.transport.breaker.state()).toBe('open');

    now += 10_000;
    healthy = true;
    expect(await gotrue.client.health()).toMatchObject({ name: 'GoTrue' });
    expect(gotrue.transport.breaker.state()).toBe('closed');
  });

  it('in half-open only one trial goes out; concurrent calls fail fast', async () => {
    let now = 0;
    let release: (() => void) | undefined;
    const server = await stub((_req, res) => {
      if (server.requests.length <= 1) return json(res, 502, {});
      release = () => json(res, 200, { version: '1', name: 'GoTrue', description: '' });
    });
    const gotrue = clientOf(server.asUpstream, { GOTRUE_RETRIES: '0', GOTRUE_BREAKER_THRESHOLD: '1', GOTRUE_BREAKER_COOLDOWN_MS: '1000' }, { clock: () => now });
    await timed(gotrue.client.health());
    now += 1000;
    const trial = gotrue.client.health();
    await new Promise((r) => setTimeout(r, 50));
    expect((await timed(gotrue.client.health())).error).toMatchObject(unavailable);
    release!();
    await expect(trial).resolves.toMatchObject({ name: 'GoTrue' });
    expect(server.requests).toHaveLength(2);
  });
});
