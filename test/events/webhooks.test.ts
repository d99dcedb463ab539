import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runInTenantScope } from '../../src/db/tenant-scope.js';
import { createWebhookDestination } from '../../src/events/webhooks.js';
import type { ResolveHost } from '../../src/events/webhook-network.js';
import { createSecretBox } from '../../src/identity/embedded/crypto.js';
import { MAX_ENDPOINTS_PER_OWNER } from '../../src/services/webhooks.js';
import { createLogger } from '../../src/log.js';
import {
  CreateWebhookEndpointDocument,
  DeleteWebhookEndpointDocument,
  ReplayWebhookDeliveryDocument,
  RotateWebhookSecretDocument,
  UpdateTenantConfigDocument,
  UpdateTenantDocument,
  UpdateWebhookEndpointDocument,
  WebhookDeliveriesDocument,
  WebhookEndpointsDocument,
} from '../generated/graphql.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { errorOf, expectErrors } from '../helpers/errors.js';
import { seedMember, seedTenant, signInRealmAdmin, signUpUser, type SignedIn } from '../helpers/realm.js';

// Webhook endpoints end to end: GraphQL manages them, the relay delivers to a real HTTP receiver on port 0,
// which checks every signature with the standardwebhooks package's own verifier.

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A receiver that records every request; `answer` decides per path: a status, or 'hang' (never answers). */
function startReceiver() {
  const received: Received[] = [];
  const answers = new Map<string, number | 'hang'>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const pathname = (req.url ?? '').split('?')[0]!;
      received.push({ path: pathname, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      const answer = answers.get(pathname) ?? 204;
      if (answer === 'hang') return;
      res.writeHead(answer).end(answer >= 400 ? 'nope' : '');
    });
  });
  return {
    received,
    answers,
    at: (path: string) => received.filter((r) => r.path === path),
    async listen() {
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return (server.address() as AddressInfo).port;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A fake DNS: name → addresses; unknown names do not exist. */
function fakeDns() {
  const names = new Map<string, string[]>();
  const resolveHost: ResolveHost = async (hostname) => {
    const addresses = names.get(hostname);
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return { names, resolveHost };
}

const verify = (secret: string, request: Received) =>
  new Webhook(secret).verify(request.body, {
    'webhook-id': String(request.headers['webhook-id']),
    'webhook-timestamp': String(request.headers['webhook-timestamp']),
    'webhook-signature': String(request.headers['webhook-signature']),
  });

const receiver = startReceiver();
let port: number;
let t: TestApp;
let owner: SignedIn;
let reader: SignedIn;
let outsider: SignedIn;
let admin: SignedIn;
let seq = 0;
const path = (tag: string) => `/${tag}-${++seq}`;

const prisma = () => t.app.db.prisma;
const ok = <R>(result: { body: { data?: R | null; errors?: unknown } }): R => {
  expect(result.body.errors).toBeUndefined();
  return result.body.data!;
};

async function createEndpoint(user: SignedIn, input: { tenantId?: string | null; url: string; eventTypes?: string[] }) {
  return ok(await t.execute(CreateWebhookEndpointDocument, { input }, user.headers)).createWebhookEndpoint;
}
const renameTenant = (user: SignedIn, tenantId: string) => t.execute(UpdateTenantDocument, { input: { tenantId, displayName: `Renamed ${++seq}` } }, user.headers).then(ok);
const reconfigureTenant = (user: SignedIn, tenantId: string) =>
  t.execute(UpdateTenantConfigDocument, { input: { tenantId, config: { locale: ++seq % 2 ? 'en' : 'de' } } }, user.headers).then(ok);
const deliveriesOf = async (user: SignedIn, endpointId: string) =>
  ok(await t.execute(WebhookDeliveriesDocument, { endpointId, first: 50 }, user.headers)).webhookDeliveries.edges.map((e) => e.node);
const outboxRows = (endpointId: string) => prisma().outbox.findMany({ where: { destination: `webhook:${endpointId}` }, include: { event: true } });

beforeAll(async () => {
  port = await receiver.listen();
  t = await startTestApp({
    env: {
      WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true',
      WEBHOOK_TIMEOUT_MS: '300',
      WEBHOOK_DISABLE_AFTER_FAILURES: '2',
      // Signing secrets are then kept encrypted, and every signature below went through that.
      AUTH_KEY_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'),
    },
    // Retries come due within a fraction of a second, so every attempt runs during the test.
    relay: { backoff: { baseMs: 20, capMs: 100 }, pollIntervalMs: 50 },
  });
  [owner, reader, outsider] = await Promise.all([signUpUser(t), signUpUser(t), signUpUser(t)]);
  admin = await signInRealmAdmin(t);
});
afterAll(async () => {
  await t?.close();
  await receiver.close();
});

describe('delivery', () => {
  it("delivers the tenant's events of the endpoint's types, signed per Standard Webhooks, and nothing else", async () => {
    const tenantId = (await seedTenant(t, owner.userId)).id;
    const otherTenantId = (await seedTenant(t, outsider.userId)).id;
    const exact = path('exact');
    const family = path('family');
    const one = await createEndpoint(owner, { tenantId, url: `http://127.0.0.1:${port}${exact}`, eventTypes: ['tenant.updated'] });
    const all = await createEndpoint(owner, { tenantId, url: `http://127.0.0.1:${port}${family}`, eventTypes: ['tenant.*'] });
    expect(one.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(one.endpoint).toMatchObject({ tenant: { id: tenantId }, realmWide: false, eventTypes: ['tenant.updated'], enabled: true, consecutiveFailures: 0 });

    await renameTenant(owner, tenantId);
    await reconfigureTenant(owner, tenantId);
    await renameTenant(outsider, otherTenantId);

    // The routing is decided when each event is appended: one outbox row per endpoint that takes it.
    expect((await outboxRows(one.endpoint.id)).map((r) => r.event.type)).toEqual(['tenant.updated']);
    expect((await outboxRows(all.endpoint.id)).map((r) => r.event.type).sort()).toEqual(['tenant.config_updated', 'tenant.updated']);
    await vi.waitFor(() => expect(receiver.at(exact).length + receiver.at(family).length).toBe(3), { timeout: 10_000 });

    const [request] = receiver.at(exact);
    const event = await prisma().event.findFirstOrThrow({ where: { tenantId, type: 'tenant.updated' } });
    expect(verify(one.secret, request!)).toMatchObject({
      type: 'tenant.updated',
      timestamp: event.occurredAt.toISOString(),
      data: { id: event.id, position: event.position.toString(), aggregateType: 'tenant', aggregateId: tenantId, version: event.version, tenantId, realmId: event.realmId },
    });
    // webhook-id is the event id, so a receiver de-duplicates redeliveries.
    expect(request!.headers['webhook-id']).toBe(event.id);
    expect(request!.headers['content-type']).toBe('application/json');
    // Each endpoint signs with its own secret.
    expect(() => verify(all.secret, request!)).toThrow(WebhookVerificationError);
    for (const r of receiver.at(family)) expect(verify(all.secret, r)).toMatchObject({ data: { tenantId } });

    await vi.waitFor(async () => expect((await deliveriesOf(owner, one.endpoint.id))[0]).toMatchObject({ status: 'SENT', attempts: 1, lastResponseStatus: 204 }));
    expect((await deliveriesOf(owner, one.endpoint.id))[0]).toMatchObject({ eventId: event.id, eventType: 'tenant.updated', lastError: null });
  });

  it('realm-wide endpoints (realm admins) get every tenant’s events', async () => {
    const tenantId = (await seedTenant(t, outsider.userId)).id;
    const at = path('realm');
    const created = await createEndpoint(admin, { url: `http://127.0.0.1:${port}${at}`, eventTypes: ['tenant.updated'] });
    expect(created.endpoint).toMatchObject({ tenant: null, realmWide: true });
    await renameTenant(outsider, tenantId);
    await vi.waitFor(() => expect(receiver.at(at)).toHaveLength(1), { timeout: 10_000 });
    expect(verify(created.secret, receiver.at(at)[0]!)).toMatchObject({ data: { tenantId } });
    ok(await t.execute(DeleteWebhookEndpointDocument, { input: { endpointId: created.endpoint.id } }, admin.headers));
  });

  it('retries with backoff on 500, keeping the status and error of the last attempt, until the endpoint answers 2xx', async () => {
    const tenantId = (await seedTenant(t, owner.userId)).id;
    const at = path('flaky');
    receiver.answers.set(at, 500);
    const { endpoint, secret } = await createEndpoint(owner, { tenantId, url: `http://127.0.0.1:${port}${at}`, eventTypes: ['tenant.updated'] });
    await renameTenant(owner, tenantId);
    await vi.waitFor(async () => expect((await deliveriesOf(owner, endpoint.id))[0]).toMatchObject({ status: 'PENDING', lastResponseStatus: 500, lastError: 'HTTP 500' }), {
      timeout: 10_000,
    });
    await vi.waitFor(() => expect(receiver.at(at).length).toBeGreaterThanOrEqual(2), { timeout: 10_000 });
    receiver.answers.set(at, 200);
    await vi.waitFor(async () => expect((await deliveriesOf(owner, endpoint.id))[0]).toMatchObject({ status: 'SENT', lastResponseStatus: 200, lastError: null }), {
      timeout: 10_000,
    });
    const requests = receiver.at(at);
    const [delivery] = await deliveriesOf(owner, endpoint.id);
    expect(delivery!.attempts).toBe(requests.length);
    // Every attempt is the same message: same id, verifiable.
    expect(new Set(requests.map((r) => r.headers['webhook-id']))).toEqual(new Set([delivery!.eventId]));
    for (const r of requests) verify(secret, r);
  });

  it('counts an endpoint that does not answer within WEBHOOK_TIMEOUT_MS as a failed attempt and retries it', async () => {
    const tenantId = (await seedTenant(t, owner.userId)).id;
    const at = path('slow');
    receiver.answers.set(at, 'hang');
    const { endpoint } = await createEndpoint(owner, { tenantId, url: `http://127.0.0.1:${port}${at}`, eventTypes: ['tenant.updated'] });
    await renameTenant(owner, tenantId);
    await vi.waitFor(
      async () => {
        const [delivery] = await deliveriesOf(owner, endpoint.id);
        expect(delivery).toMatchObject({ status: 'PENDING', lastResponseStatus: null, lastError: 'no answer within 300 ms' });
        expect(delivery!.attempts).toBeGreaterThanOrEqual(2);
      },
      { timeout: 10_000 },
    );
    receiver.answers.set(at, 204);
    await vi.waitFor(async () => expect((await deliveriesOf(owner, endpoint.id))[0]).toMatchObject({ status: 'SENT', lastResponseStatus: 204 }), { timeout: 10_000 });
  });

  it('disables an endpoint whose deliveries keep failing after every retry, with webhook.disabled; replay sends again once enabled', async () => {
    const tenantId = (await seedTenant(t, owner.userId)).id;
    const at = path('down');
    receiver.answers.set(at, 503);
    const url = `http://127.0.0.1:${port}${at}?token=receiver-token`;
    const { endpoint, secret } = await createEndpoint(owner, { tenantId, url, eventTypes: ['tenant.updated'] });
    await renameTenant(owner, tenantId);
    await renameTenant(owner, tenantId);
    await vi.waitFor(async () => expect(await prisma().webhookEndpoint.findUniqueOrThrow({ where: { id: endpoint.id } })).toMatchObject({ enabled: false }), {
      timeout: 15_000,
    });
    const [disabled] = await prisma().event.findMany({ where: { aggregateId: endpoint.id, type: 'webhook.disabled' } });
    expect(disabled).toMatchObject({
      tenantId,
      payload: { reason: 'consecutive_failures', failures: 2, lastError: 'HTTP 503', origin: `http://127.0.0.1:${port}` },
    });
    // The event names the endpoint by its origin: a token in the URL stays out of the log.
    expect(JSON.stringify(disabled!.payload)).not.toContain('receiver-token');
    const listed = ok(await t.execute(WebhookEndpointsDocument, { tenantId }, owner.headers)).webhookEndpoints.edges.map((e) => e.node);
    expect(listed).toEqual([expect.objectContaining({ id: endpoint.id, url, enabled: false, consecutiveFailures: 2, disabledReason: expect.stringContaining('2 deliveries in a row failed') })]);
    const failed = await deliveriesOf(owner, endpoint.id);
    expect(failed.map((d) => [d.status, d.attempts, d.lastResponseStatus])).toEqual([
      ['FAILED', 5, 503],
      ['FAILED', 5, 503],
    ]);

    // While disabled, new events are not queued for it, and its deliveries are not replayed.
    await renameTenant(owner, tenantId);
    expect(await outboxRows(endpoint.id)).toHaveLength(2);
    const replay = (deliveryId: string) => t.execute(ReplayWebhookDeliveryDocument, { input: { deliveryId } }, owner.headers);
    expect(errorOf((await replay(failed[0]!.id)).body)).toMatchObject({ code: 'conflict', reason: 'endpoint_disabled' });

    receiver.answers.set(at, 200);
    const enabled = ok(await t.execute(UpdateWebhookEndpointDocument, { input: { endpointId: endpoint.id, enabled: true } }, owner.headers));
    expect(enabled.updateWebhookEndpoint.endpoint).toMatchObject({ enabled: true, disabledReason: null, consecutiveFailures: 0 });
    const before = receiver.at(at).length;
    const replayed = ok(await replay(failed[0]!.id)).replayWebhookDelivery.delivery;
    expect(replayed).toMatchObject({ id: failed[0]!.id, status: 'PENDING', attempts: 0, lastError: null, lastResponseStatus: null });
    await vi.waitFor(async () => expect((await deliveriesOf(owner, endpoint.id)).find((d) => d.id === failed[0]!.id)).toMatchObject({ status: 'SENT', attempts: 1 }), {
      timeout: 10_000,
    });
    const resent = receiver.at(at).slice(before);
    expect(resent).toHaveLength(1);
    expect(resent[0]!.headers['webhook-id']).toBe(failed[0]!.eventId);
    verify(secret, resent[0]!);
    // A sent delivery may be replayed too (the receiver lost it); one still pending may not.
    const again = ok(await replay(failed[0]!.id)).replayWebhookDelivery.delivery;
    expect(again.status).toBe('PENDING');
    const pending = await replay(failed[0]!.id);
    expect(['conflict', undefined]).toContain(errorOf(pending.body)?.code);
    expect(await prisma().event.count({ where: { aggregateId: endpoint.id, type: 'webhook.delivery_replayed' } })).toBeGreaterThanOrEqual(2);
  });

  it('signs with the new secret once rotated: the old secret no longer verifies', async () => {
    const tenantId = (await seedTenant(t, owner.userId)).id;
    const at = path('rotated');
    const { endpoint, secret: oldSecret } = await createEndpoint(owner, { tenantId, url: `http://127.0.0.1:${port}${at}`, eventTypes: ['tenant.updated'] });
    await renameTenant(owner, tenantId);
    await vi.waitFor(() => expect(receiver.at(at)).toHaveLength(1), { timeout: 10_000 });
    const rotated = ok(await t.execute(RotateWebhookSecretDocument, { input: { endpointId: endpoint.id } }, owner.headers)).rotateWebhookSecret;
    expect(rotated.secret).toMatch(/^whsec_/);
    expect(rotated.secret).not.toBe(oldSecret);
    await renameTenant(owner, tenantId);
    await vi.waitFor(() => expect(receiver.at(at)).toHaveLength(2), { timeout: 10_000 });
    const [before, after] = receiver.at(at);
    verify(oldSecret, before!);
    verify(rotated.secret, after!);
    expect(() => verify(oldSecret, after!)).toThrow(WebhookVerificationError);
    const events = await prisma().event.findMany({ where: { aggregateId: endpoint.id }, orderBy: { position: 'asc' } });
    expect(events.map((e) => e.type)).toEqual(['webhook.created', 'webhook.secret_rotated']);
    // Kept encrypted; no secret in any event, in clear or as stored.
    const stored = await prisma().webhookEndpoint.findUniqueOrThrow({ where: { id: endpoint.id } });
    expect(stored.secret).toMatch(/^enc:v1:/);
    expect(stored.secret).not.toContain(rotated.secret.slice('whsec_'.length));
    for (const e of events) for (const value of [oldSecret, rotated.secret, stored.secret]) expect(JSON.stringify([e.payload, e.metadata])).not.toContain(value);
  });

  it('deleting an endpoint removes its queue and history', async () => {
    const tenantId = (await seedTenant(t, owner.userId)).id;
    const { endpoint } = await createEndpoint(owner, { tenantId, url: `http://127.0.0.1:${port}${path('gone')}`, eventTypes: ['tenant.updated'] });
    await renameTenant(owner, tenantId);
    ok(await t.execute(DeleteWebhookEndpointDocument, { input: { endpointId: endpoint.id } }, owner.headers));
    expect(await outboxRows(endpoint.id)).toHaveLength(0);
    expect(await prisma().webhookEndpoint.count({ where: { id: endpoint.id } })).toBe(0);
    expect(errorOf((await t.execute(WebhookDeliveriesDocument, { endpointId: endpoint.id }, owner.headers)).body)).toMatchObject({ code: 'not_found' });
    expect(await prisma().event.count({ where: { aggregateId: endpoint.id, type: 'webhook.deleted' } })).toBe(1);
  });
});

describe('validation and authorization', () => {
  let tenantId: string;
  let endpointId: string;
  beforeAll(async () => {
    tenantId = (await seedTenant(t, owner.userId)).id;
    await seedMember(t, tenantId, reader.userId, 'member');
    endpointId = (await createEndpoint(owner, { tenantId, url: `http://127.0.0.1:${port}${path('guarded')}`, eventTypes: ['realm.created'] })).endpoint.id;
  });

  it('refuses bad URLs and unknown event types with a code, writing nothing', async () => {
    const before = await prisma().webhookEndpoint.count();
    await expectErrors(
      (input: { url?: string; eventTypes?: string[] }) =>
        t.execute(CreateWebhookEndpointDocument, { input: { tenantId, url: `http://127.0.0.1:${port}/x`, ...input } }, owner.headers),
      [
        [{ url: 'ftp://hooks.example.com/x' }, { code: 'bad_request', field: 'url', reason: 'url_not_https' }],
        [{ url: 'https://user:pw@hooks.example.com/x' }, { code: 'bad_request', field: 'url', reason: 'url_has_credentials' }],
        [{ url: 'not a url' }, { code: 'bad_request', field: 'url', reason: 'invalid_url' }],
        [{ url: `https://hooks.example.com/${'a'.repeat(2048)}` }, { code: 'bad_request', field: 'url' }],
        [{ eventTypes: ['tenant.created', 'nonsense'] }, { code: 'bad_request', field: 'eventTypes.1' }],
        [{ eventTypes: ['*'] }, { code: 'bad_request', field: 'eventTypes.0' }],
        [{ eventTypes: ['billing.*'] }, { code: 'bad_request', field: 'eventTypes.0' }],
      ],
    );
    expect(await prisma().webhookEndpoint.count()).toBe(before);
  });

  it('caps the endpoints of a tenant, since each one multiplies the deliveries of every event', async () => {
    const capped = (await seedTenant(t, owner.userId)).id;
    const realmId = await t.app.services.realms.defaultRealmId();
    await prisma().webhookEndpoint.createMany({
      data: Array.from({ length: MAX_ENDPOINTS_PER_OWNER }, (_, i) => ({ realmId, tenantId: capped, url: `http://127.0.0.1:${port}/cap-${i}`, secret: 'whsec_c2VjcmV0', eventTypes: ['realm.created'] })),
    });
    const { body } = await t.execute(CreateWebhookEndpointDocument, { input: { tenantId: capped, url: `http://127.0.0.1:${port}/one-more` } }, owner.headers);
    expect(errorOf(body)).toMatchObject({ code: 'conflict', reason: 'too_many_endpoints' });
    expect(await prisma().webhookEndpoint.count({ where: { tenantId: capped } })).toBe(MAX_ENDPOINTS_PER_OWNER);
  });

  it('refuses callers who may not manage the endpoint', async () => {
    const create = (user: SignedIn | null, input: { tenantId?: string }) =>
      t.execute(CreateWebhookEndpointDocument, { input: { url: `http://127.0.0.1:${port}/x`, ...input } }, user?.headers);
    await expectErrors((user: SignedIn | null) => create(user, { tenantId }), [
      [null, { code: 'unauthenticated' }],
      [outsider, { code: 'not_found' }],
      [reader, { code: 'forbidden', permission: 'webhooks:manage' }],
    ]);
    // Realm-wide endpoints are the realm admins': a tenant owner is refused.
    await expectErrors((user: SignedIn | null) => create(user, {}), [
      [null, { code: 'unauthenticated' }],
      [owner, { code: 'forbidden' }],
    ]);
    for (const [user, code] of [[outsider, 'not_found'], [reader, 'forbidden'], [null, 'unauthenticated']] as const) {
      expect(errorOf((await t.execute(RotateWebhookSecretDocument, { input: { endpointId } }, user?.headers)).body)?.code).toBe(code);
      expect(errorOf((await t.execute(WebhookDeliveriesDocument, { endpointId }, user?.headers)).body)?.code).toBe(code);
      expect(errorOf((await t.execute(UpdateWebhookEndpointDocument, { input: { endpointId, enabled: false } }, user?.headers)).body)?.code).toBe(code);
    }
    // An owner does not see the realm-wide endpoints.
    expect(errorOf((await t.execute(WebhookEndpointsDocument, {}, owner.headers)).body)?.code).toBe('forbidden');
    expect(await prisma().webhookEndpoint.findUniqueOrThrow({ where: { id: endpointId } })).toMatchObject({ enabled: true });
  });
  it('row-level security hides a tenant’s endpoints from the scopes of other tenants’ members', async () => {
    const visibleTo = (userId: string) =>
      runInTenantScope(`user:${userId}`, async () => (await prisma().webhookEndpoint.findMany({ where: { tenantId } })).map((e) => e.id));
    expect(await visibleTo(owner.userId)).toContain(endpointId);
    expect(await visibleTo(outsider.userId)).toEqual([]);
  });
});

describe('addresses that are not public (WEBHOOK_ALLOW_PRIVATE_NETWORKS unset)', () => {
  let guarded: TestApp;
  let guardedOwner: SignedIn;
  let tenantId: string;
  const dns = fakeDns();
  beforeAll(async () => {
    dns.names.set('public.example', ['93.184.215.14']);
    dns.names.set('internal.example', ['127.0.0.1']);
    dns.names.set('mixed.example', ['93.184.215.14', '10.0.0.7']);
    dns.names.set('metadata.example', ['fd00:ec2::254']);
    dns.names.set('rebinding.example', ['93.184.215.14']);
    guarded = await startTestApp({ resolveWebhookHost: dns.resolveHost, relay: { backoff: { baseMs: 20, capMs: 100 }, pollIntervalMs: 50 } });
    guardedOwner = await signUpUser(guarded);
    tenantId = (await seedTenant(guarded, guardedOwner.userId)).id;
  });
  afterAll(() => guarded?.close());

  // Types no event of these tests has, unless given: nothing is sent to the public address the fake DNS names.
  const create = (url: string, eventTypes = ['realm.created']) =>
    guarded.execute(CreateWebhookEndpointDocument, { input: { tenantId, url, eventTypes } }, guardedOwner.headers);

  it('refuses, when saved, URLs whose host is or resolves to a loopback, private, link-local or otherwise non-public address', async () => {
    const refused = [
      'https://127.0.0.1/hook',
      'https://127.1/hook',
      'https://2130706433/hook',
      'https://0.0.0.0/hook',
      'https://10.1.2.3/hook',
      'https://172.16.0.1/hook',
      'https://192.168.1.1/hook',
      'https://169.254.169.254/latest/meta-data',
      'https://100.64.0.1/hook',
      'https://224.0.0.1/hook',
      'https://[::1]/hook',
      'https://[::]/hook',
      'https://[::ffff:127.0.0.1]/hook',
      'https://[::ffff:a9fe:a9fe]/hook',
      'https://[fd00::1]/hook',
      'https://[fe80::1]/hook',
      'https://[64:ff9b::a00:1]/hook',
      'https://[2002:7f00:1::]/hook',
      'https://internal.example/hook',
      'https://mixed.example/hook',
      'https://metadata.example/hook',
    ];
    for (const url of refused) {
      expect(errorOf((await create(url)).body), url).toMatchObject({ code: 'bad_request', field: 'url', reason: 'url_not_public' });
    }
    expect(errorOf((await create('http://public.example/hook')).body)).toMatchObject({ code: 'bad_request', reason: 'url_not_https' });
    expect(errorOf((await create('https://nowhere.example/hook')).body)).toMatchObject({ code: 'bad_request', reason: 'url_host_not_found' });
    expect(await guarded.app.db.prisma.webhookEndpoint.count()).toBe(0);
    expect((await create('https://public.example/hook')).body.errors).toBeUndefined();
  });

  it('refuses at connect time a name that resolves to 127.0.0.1 since it was saved (DNS rebinding): nothing reaches the receiver', async () => {
    const at = path('rebound');
    const created = await create(`https://rebinding.example:${port}${at}`, ['tenant.updated']);
    expect(created.body.errors).toBeUndefined();
    const endpointId = created.body.data!.createWebhookEndpoint.endpoint.id;
    dns.names.set('rebinding.example', ['127.0.0.1']);
    await guarded.execute(UpdateTenantDocument, { input: { tenantId, displayName: 'Rebound' } }, guardedOwner.headers).then(ok);
    await vi.waitFor(
      async () => {
        const [row] = await guarded.app.db.prisma.outbox.findMany({ where: { destination: `webhook:${endpointId}` } });
        expect(row?.lastError).toMatch(/rebinding\.example resolves only to addresses that are not public \(127\.0\.0\.1\)/);
      },
      { timeout: 10_000 },
    );
    expect(receiver.at(at)).toHaveLength(0);
  });

  it('refuses at connect time a literal private address stored before (the guard is in the delivery, not only in the service)', async () => {
    const at = path('literal');
    const box = createSecretBox(null);
    const endpoint = await guarded.app.db.prisma.webhookEndpoint.create({
      data: { realmId: await guarded.app.services.realms.defaultRealmId(), tenantId, url: `http://127.0.0.1:${port}${at}`, secret: box.seal('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'), enabled: true },
    });
    const destination = createWebhookDestination({
      db: guarded.app.db.prisma,
      events: { appendEvent: async () => { throw new Error('unused'); }, appendCall: () => { throw new Error('unused'); } },
      config: { allowPrivateNetworks: false, timeoutMs: 2000, disableAfterFailures: 5 },
      secrets: box,
      resolveHost: dns.resolveHost,
      clock: Date.now,
      log: createLogger({ level: 'silent' }),
    });
    try {
      const event = await guarded.app.db.prisma.event.findFirstOrThrow();
      const result = await destination.deliver({ outboxId: '00000000-0000-4000-8000-000000000000', destination: `webhook:${endpoint.id}`, attempt: 1, event: { ...event, metadata: {}, payload: {} } as never });
      expect(result).toMatchObject({ ok: false, error: expect.stringMatching(/127\.0\.0\.1 resolves only to addresses that are not public/) });
      expect(receiver.at(at)).toHaveLength(0);
    } finally {
      await destination.close();
    }
  });
});
