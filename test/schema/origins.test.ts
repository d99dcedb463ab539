import http from 'node:http';
import { print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { createEventStore } from '../../src/events/store.js';
import { schema } from '../../src/schema/index.js';
import { credentialMutations } from '../../src/server/origin-check.js';
import { createOriginService, normalizeOrigin } from '../../src/services/origins.js';
import { AddOriginDocument, OriginsDocument, RemoveOriginDocument, SignInDocument } from '../generated/graphql.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { signInRealmAdmin, signUpUser, type SignedIn } from '../helpers/realm.js';

let t: TestApp;
let admin: SignedIn;
let user: SignedIn;

beforeAll(async () => {
  t = await startTestApp();
  admin = await signInRealmAdmin(t);
  user = await signUpUser(t);
});
afterAll(() => t.close());

const prisma = () => t.app.db.prisma;
const originEvents = () => prisma().event.findMany({ where: { aggregateType: 'origin' }, orderBy: { position: 'asc' } });
/** Rows and events: what a refused operation must leave as it was. */
const snapshot = async () => ({ origins: await prisma().origin.count(), events: await prisma().event.count() });

describe('normalizeOrigin', () => {
  it.each([
    ['example.com', 'example.com'],
    ['  Example.COM  ', 'example.com'],
    ['https://app.example.com', 'app.example.com'],
    ['HTTPS://App.Example.com:8443/path?q=1#frag', 'app.example.com'],
    ['http://localhost:3000', 'localhost'],
    ['app.example.com:443', 'app.example.com'],
    ['app.example.com/login', 'app.example.com'],
    ['example.com.', 'example.com'],
    ['https://bücher.example', 'xn--bcher-kva.example'],
    ['MÜNCHEN.example', 'xn--mnchen-3ya.example'],
    ['http://127.0.0.1:5173', '127.0.0.1'],
    ['http://[::1]:8080', '[::1]'],
    ['chrome-extension://abcdefghijklmnop', 'abcdefghijklmnop'],
    ['a-b.example.co.uk', 'a-b.example.co.uk'],
  ])('%s → %s', (raw, host) => {
    expect(normalizeOrigin(raw)).toBe(host);
  });

  it.each(
    [
      '',
      '   ',
      'https://',
      '*.example.com',
      'https://user:secret@example.com',
      'evil.com@good.com',
      'exa mple.com',
      '-bad.example',
      'under_score.example',
      'example..com',
      'null',
      'javascript:alert(1)',
      'https://example.com:99999',
      `${'a'.repeat(64)}.example`,
      `${'abcdefghij.'.repeat(25)}example`,
      'x'.repeat(3000),
    ].map((raw) => [raw.length > 40 ? `${raw.slice(0, 16)}… (${raw.length} characters)` : JSON.stringify(raw), raw]),
  )('%s is bad_request naming the field origin', (_label, raw) => {
    let error: unknown;
    try {
      normalizeOrigin(raw);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ code: 'bad_request', extensions: { field: 'origin' } });
  });
});

describe('origins, addOrigin, removeOrigin', () => {
  it('a realm admin adds an origin: stored as its bare host, origin.added appended', async () => {
    const { body } = await t.execute(AddOriginDocument, { input: { origin: 'https://Admin.Example.com:8443/console' } }, admin.headers);
    expect(body.errors).toBeUndefined();
    const added = body.data!.addOrigin.origin;
    expect(added.host).toBe('admin.example.com');
    const row = await prisma().origin.findUniqueOrThrow({ where: { id: added.id } });
    expect(row).toMatchObject({ host: 'admin.example.com', realmId: await t.app.services.realms.defaultRealmId(), createdById: admin.userId });
    const [event] = (await originEvents()).filter((e) => e.aggregateId === added.id);
    expect(event).toMatchObject({
      type: 'origin.added',
      version: 1,
      realmId: row.realmId,
      tenantId: null,
      payload: { host: 'admin.example.com' },
      metadata: { actorId: admin.userId },
    });
  });

  it('adding a host that is already listed returns the entry and appends nothing', async () => {
    const first = await t.execute(AddOriginDocument, { input: { origin: 'twice.example.com' } }, admin.headers);
    const before = await snapshot();
    const again = await t.execute(AddOriginDocument, { input: { origin: 'HTTPS://TWICE.example.com/other' } }, admin.headers);
    expect(again.body.data?.addOrigin.origin).toEqual(first.body.data?.addOrigin.origin);
    expect(await snapshot()).toEqual(before);
  });

  it('concurrent adds of one host create one entry and one event', async () => {
    const results = await Promise.all(
      Array.from({ length: 4 }, () => t.execute(AddOriginDocument, { input: { origin: 'race.example.com' } }, admin.headers)),
    );
    const ids = new Set(results.map((r) => r.body.data?.addOrigin.origin.id));
    expect(ids.size).toBe(1);
    const events = (await originEvents()).filter((e) => e.aggregateId === [...ids][0]);
    expect(events.map((e) => e.type)).toEqual(['origin.added']);
  });

  it('origins lists the realm’s hosts in order, as a connection', async () => {
    await t.execute(AddOriginDocument, { input: { origin: 'aaa.example.com' } }, admin.headers);
    const all = await t.execute(OriginsDocument, { first: 100 }, admin.headers);
    const hosts = all.body.data!.origins.edges.map((e) => e.node.host);
    expect(hosts).toEqual([...hosts].sort());
    expect(hosts).toEqual(expect.arrayContaining(['aaa.example.com', 'admin.example.com', 'twice.example.com']));
    const page1 = await t.execute(OriginsDocument, { first: 2 }, admin.headers);
    const page2 = await t.execute(OriginsDocument, { first: 100, after: page1.body.data!.origins.pageInfo.endCursor }, admin.headers);
    expect(page1.body.data!.origins.pageInfo.hasNextPage).toBe(true);
    expect([...page1.body.data!.origins.edges, ...page2.body.data!.origins.edges].map((e) => e.node.host)).toEqual(hosts);
  });

  it('removeOrigin deletes the entry and appends origin.removed; a second removal is not_found and writes nothing', async () => {
    const { body } = await t.execute(AddOriginDocument, { input: { origin: 'gone.example.com' } }, admin.headers);
    const id = body.data!.addOrigin.origin.id;
    const removed = await t.execute(RemoveOriginDocument, { input: { origin: 'https://gone.example.com' } }, admin.headers);
    expect(removed.body.data?.removeOrigin.origin).toEqual({ id, host: 'gone.example.com' });
    expect(await prisma().origin.findUnique({ where: { id } })).toBeNull();
    const events = (await originEvents()).filter((e) => e.aggregateId === id);
    expect(events.map((e) => [e.type, e.version, e.payload])).toEqual([
      ['origin.added', 1, { host: 'gone.example.com' }],
      ['origin.removed', 2, { host: 'gone.example.com' }],
    ]);
    const before = await snapshot();
    const again = await t.execute(RemoveOriginDocument, { input: { origin: 'gone.example.com' } }, admin.headers);
    expect(again.body.errors?.[0]?.extensions?.code).toBe('not_found');
    expect(await snapshot()).toEqual(before);
  });

  it('an ordinary user is forbidden and anonymous callers unauthenticated; nothing is written', async () => {
    await t.execute(AddOriginDocument, { input: { origin: 'kept.example.com' } }, admin.headers);
    const before = await snapshot();
    for (const [headers, code] of [
      [user.headers, 'forbidden'],
      [{}, 'unauthenticated'],
    ] as const) {
      const add = await t.execute(AddOriginDocument, { input: { origin: 'intruder.example.com' } }, headers);
      expect(add.body.errors?.[0]?.extensions?.code).toBe(code);
      const remove = await t.execute(RemoveOriginDocument, { input: { origin: 'kept.example.com' } }, headers);
      expect(remove.body.errors?.[0]?.extensions?.code).toBe(code);
      const list = await t.execute(OriginsDocument, {}, headers);
      expect(list.body.errors?.[0]?.extensions?.code).toBe(code);
    }
    expect(await snapshot()).toEqual(before);
  });

  it('bad input is bad_request naming the field, before anything is written', async () => {
    const before = await snapshot();
    for (const origin of ['', '*.example.com', 'https://user:pw@example.com']) {
      const add = await t.execute(AddOriginDocument, { input: { origin } }, admin.headers);
      expect(add.body.errors?.[0]?.extensions).toMatchObject({ code: 'bad_request', field: 'origin' });
      const remove = await t.execute(RemoveOriginDocument, { input: { origin } }, admin.headers);
      expect(remove.body.errors?.[0]?.extensions).toMatchObject({ code: 'bad_request', field: 'origin' });
    }
    expect(await snapshot()).toEqual(before);
  });
});

describe('origin allowlist enforcement', () => {
  const allowed = 'https://app.example.com';

  /** POST /auth/v1/token over real HTTP with the given browser headers. */
  const passwordGrant = (headers: Record<string, string>) =>
    fetch(`${t.url}/auth/v1/token?grant_type=password`, {
      method: 'POST',
      headers: { apikey: t.apiKeys().anon, 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ email: user.email, password: user.password }),
    });
  /** The GraphQL signIn mutation over real HTTP with the given browser headers. */
  const graphqlSignIn = async (headers: Record<string, string>) => {
    const response = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ query: print(SignInDocument), variables: { input: { email: user.email, password: user.password } } }),
    });
    return (await response.json()) as { data?: { signIn: { session: { accessToken: string } | null } } | null; errors?: Array<{ extensions: { code: string } }> };
  };
  const signInEvents = () => prisma().event.count({ where: { aggregateId: user.userId, type: 'user.signed_in' } });

  beforeAll(async () => {
    for (const host of (await prisma().origin.findMany()).map((o) => o.host)) {
      await t.execute(RemoveOriginDocument, { input: { origin: host } }, admin.headers);
    }
  });

  it('an empty allowlist lets every origin through', async () => {
    expect((await passwordGrant({ origin: 'https://anywhere.example', 'sec-fetch-site': 'cross-site' })).status).toBe(200);
    expect((await graphqlSignIn({ origin: 'https://anywhere.example', 'sec-fetch-site': 'cross-site' })).data?.signIn.session).toBeTruthy();
    expect((await passwordGrant({ 'sec-fetch-site': 'cross-site' })).status).toBe(200);
  });

  describe('with app.example.com on the list', () => {
    beforeAll(async () => {
      await t.execute(AddOriginDocument, { input: { origin: allowed } }, admin.headers);
    });
    afterAll(async () => {
      await t.execute(RemoveOriginDocument, { input: { origin: allowed } }, admin.headers);
    });

    it('/auth/v1/token: the allowed origin (any port) passes; another origin is realm_origin_mismatch in GoTrue’s shape', async () => {
      expect((await passwordGrant({ origin: allowed, 'sec-fetch-site': 'cross-site' })).status).toBe(200);
      expect((await passwordGrant({ origin: 'https://APP.example.com:8443' })).status).toBe(200);
      for (const origin of ['https://evil.example', 'https://app.example.com.evil.example', 'null']) {
        const refused = await passwordGrant({ origin, 'sec-fetch-site': 'cross-site' });
        expect(refused.status).toBe(403);
        expect(await refused.json()).toMatchObject({ code: 403, error_code: 'realm_origin_mismatch' });
      }
    });

    it('/auth/v1/token: a browser call without Origin is missing_origin; servers and curl (no fetch metadata) pass', async () => {
      const refused = await passwordGrant({ 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'cors' });
      expect(refused.status).toBe(403);
      expect(await refused.json()).toMatchObject({ error_code: 'missing_origin' });
      // Node's fetch sends `sec-fetch-mode: cors` on its own: that alone is not a browser.
      expect((await passwordGrant({})).status).toBe(200);
    });

    it('every /auth/v1 route is guarded; OPTIONS preflight still answers', async () => {
      const settings = await fetch(`${t.url}/auth/v1/settings`, { headers: { apikey: t.apiKeys().anon, origin: 'https://evil.example' } });
      expect(settings.status).toBe(403);
      expect(settings.headers.get('access-control-allow-origin')).toBe('*');
      const preflight = await fetch(`${t.url}/auth/v1/token?grant_type=password`, {
        method: 'OPTIONS',
        headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST', 'sec-fetch-site': 'cross-site' },
      });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get('access-control-allow-methods')).toContain('POST');
    });

    it('email links (top-level navigations carry no Origin) and same-origin pages pass', async () => {
      // node:http, because Node's fetch always sends `sec-fetch-mode: cors`.
      const status = await new Promise<number | undefined>((resolve, reject) => {
        http
          .get(`${t.url}/auth/v1/verify?token=bogus&type=signup`, { headers: { 'sec-fetch-site': 'none', 'sec-fetch-mode': 'navigate' } }, (res) => {
            res.resume();
            resolve(res.statusCode);
          })
          .on('error', reject);
      });
      expect(status).toBe(303);
      expect((await passwordGrant({ origin: t.url, 'sec-fetch-site': 'same-origin' })).status).toBe(200);
    });

    it('GraphQL signIn: allowed origin passes; another origin or a browser call without Origin is refused before anything runs', async () => {
      expect((await graphqlSignIn({ origin: allowed, 'sec-fetch-site': 'cross-site' })).data?.signIn.session).toBeTruthy();
      expect((await graphqlSignIn({})).data?.signIn.session).toBeTruthy();
      const before = await signInEvents();
      const mismatch = await graphqlSignIn({ origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' });
      expect(mismatch.data ?? null).toBeNull();
      expect(mismatch.errors?.[0]?.extensions.code).toBe('realm_origin_mismatch');
      const missing = await graphqlSignIn({ 'sec-fetch-site': 'cross-site' });
      expect(missing.errors?.[0]?.extensions.code).toBe('missing_origin');
      expect(await signInEvents()).toBe(before);
    });

    it('other GraphQL operations are not auth calls: a query from any origin runs', async () => {
      const response = await fetch(`${t.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: 'https://evil.example', 'sec-fetch-site': 'cross-site', ...admin.headers },
        body: JSON.stringify({ query: '{ origins { edges { node { host } } } }' }),
      });
      expect(await response.json()).toEqual({ data: { origins: { edges: [{ node: { host: 'app.example.com' } }] } } });
    });

    it('a credential mutation reached through a fragment is guarded too', async () => {
      const response = await fetch(`${t.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
        body: JSON.stringify({
          query: 'mutation { ...F } fragment F on Mutation { sendMagicLink(input: { email: "x@example.com" }) { accepted } }',
        }),
      });
      expect(((await response.json()) as { errors: Array<{ extensions: { code: string } }> }).errors[0]?.extensions.code).toBe('realm_origin_mismatch');
    });
  });

  it('the guarded mutation names all exist on the schema', () => {
    const mutations = Object.keys(schema.getMutationType()!.getFields());
    expect(mutations).toEqual(expect.arrayContaining([...credentialMutations]));
  });

  it('another replica’s change reaches this one within the cache TTL', async () => {
    let now = 1_000_000;
    const services = t.app.services;
    const replica = createOriginService({ db: prisma(), events: createEventStore({ destinations: [] }), access: services.access, realms: services.realms, clock: () => now });
    const browser = { origin: 'https://evil.example', fetchSite: 'cross-site', fetchMode: 'cors' };
    await expect(replica.assertRequestAllowed(browser)).resolves.toBeUndefined();
    await t.execute(AddOriginDocument, { input: { origin: 'other-replica.example.com' } }, admin.headers);
    now += 9_000;
    await expect(replica.assertRequestAllowed(browser)).resolves.toBeUndefined();
    now += 2_000;
    await expect(replica.assertRequestAllowed(browser)).rejects.toMatchObject({ code: 'realm_origin_mismatch' });
    await t.execute(RemoveOriginDocument, { input: { origin: 'other-replica.example.com' } }, admin.headers);
  });
});
