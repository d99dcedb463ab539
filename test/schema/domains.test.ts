import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DomainChallenge, DomainVerifier } from '../../src/services/domain-verifier.js';
import { ClaimDomainDocument, DomainsDocument, VerifyDomainDocument } from '../generated/graphql.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { errorOf, expectErrors } from '../helpers/errors.js';
import { seedMember, seedTenant, signInRealmAdmin, signUpUser, type SignedIn } from '../helpers/realm.js';

// Domains through GraphQL: claimDomain, verifyDomain, domains; DNS and HTTP are a fake verifier.

/** What the world publishes: `${method}:${domain}` → the published values (TXT records); domains whose lookup fails. */
const published = new Map<string, Set<string>>();
const failing = new Set<string>();
const fakeVerifier: DomainVerifier = {
  async isPublished({ domain, method, challenge }: DomainChallenge) {
    if (failing.has(domain)) throw Object.assign(new Error(`queryTxt ESERVFAIL ${domain}`), { code: 'ESERVFAIL' });
    return published.get(`${method}:${domain}`)?.has(challenge) ?? false;
  },
};
const publish = ({ domain, method, challenge }: { domain: string; method: string; challenge: string }) => {
  const key = `${method.toLowerCase()}:${domain}`;
  published.set(key, new Set([...(published.get(key) ?? []), challenge]));
};

let t: TestApp;
let owner: SignedIn; // owner of the tenant: domains:manage
let reader: SignedIn; // the system member role: tenant:read
let outsider: SignedIn; // owner of the other tenant
let admin: SignedIn; // realm admin
let tenantId: string;
let otherTenantId: string;
let domainSeq = 0;
const uniqueDomain = () => `d${++domainSeq}-${Date.now().toString(36)}.example.com`;

const prisma = () => t.app.db.prisma;
const counts = async () => ({ domains: await prisma().domain.count(), events: await prisma().event.count() });

async function claim(user: SignedIn, domain: string, method: 'DNS_TXT' | 'HTML_FILE' = 'DNS_TXT', tenant = tenantId) {
  const { body } = await t.execute(ClaimDomainDocument, { input: { tenantId: tenant, domain, method } }, user.headers);
  expect(body.errors).toBeUndefined();
  return body.data!.claimDomain.domain;
}
const verify = (user: SignedIn | null, domainId: string) => t.execute(VerifyDomainDocument, { input: { domainId } }, user?.headers);
const eventsOf = async (aggregateId: string) =>
  (await prisma().event.findMany({ where: { aggregateId }, orderBy: { position: 'asc' } })).map((e) => ({ type: e.type, payload: e.payload }));

/** The deny paths of every domain operation: anonymous, another tenant's owner, a member without domains:manage. */
const denied = () =>
  [
    [null, { code: 'unauthenticated' }],
    [outsider, { code: 'not_found' }],
    [reader, { code: 'forbidden', permission: 'domains:manage' }],
  ] as const;

beforeAll(async () => {
  t = await startTestApp({ domainVerifier: fakeVerifier });
  [owner, reader, outsider] = await Promise.all([signUpUser(t), signUpUser(t), signUpUser(t)]);
  admin = await signInRealmAdmin(t);
  tenantId = (await seedTenant(t, owner.userId)).id;
  otherTenantId = (await seedTenant(t, outsider.userId)).id;
  await seedMember(t, tenantId, reader.userId, 'member');
});
afterAll(() => t.close());

describe('claimDomain', () => {
  it('normalises the domain, returns a random public challenge with DNS instructions, records domain.claimed', async () => {
    const name = uniqueDomain();
    const { body } = await t.execute(ClaimDomainDocument, { input: { tenantId, domain: `  ${name.toUpperCase()} ` } }, owner.headers);
    expect(body.errors).toBeUndefined();
    const domain = body.data!.claimDomain.domain;
    expect(domain).toMatchObject({ domain: name, method: 'DNS_TXT', status: 'PENDING', verifiedAt: null });
    expect(domain.challenge).toMatch(/^[\w-]{43}$/);
    expect(domain.instructions).toEqual({
      dnsRecordName: `_idgraph-challenge.${name}`,
      dnsRecordValue: domain.challenge,
      fileUrl: null,
      fileContent: null,
    });
    expect(await prisma().domain.findUniqueOrThrow({ where: { id: domain.id } })).toMatchObject({ tenantId, claimedById: owner.userId, status: 'pending' });
    const [event] = await prisma().event.findMany({ where: { aggregateId: domain.id } });
    expect(event).toMatchObject({ aggregateType: 'domain', type: 'domain.claimed', tenantId, payload: { domain: name, method: 'dns_txt' } });
  });

  it('claiming again is idempotent; another method switches it (domain.method_changed) and keeps the challenge', async () => {
    const name = uniqueDomain();
    const first = await claim(owner, name);
    const again = await claim(owner, name);
    expect(again).toEqual(first);
    const switched = await claim(owner, name, 'HTML_FILE');
    expect(switched).toMatchObject({ id: first.id, method: 'HTML_FILE', challenge: first.challenge });
    expect(switched.instructions).toEqual({
      dnsRecordName: null,
      dnsRecordValue: null,
      fileUrl: `https://${name}/.well-known/idgraph-challenge.txt`,
      fileContent: first.challenge,
    });
    expect(await claim(owner, name, 'HTML_FILE')).toEqual(switched);
    expect(await eventsOf(first.id)).toEqual([
      { type: 'domain.claimed', payload: { domain: name, method: 'dns_txt' } },
      { type: 'domain.method_changed', payload: { domain: name, method: 'html_file', previousMethod: 'dns_txt' } },
    ]);
  });

  it('a realm admin may claim in any tenant', async () => {
    const domain = await claim(admin, uniqueDomain());
    expect((await prisma().domain.findUniqueOrThrow({ where: { id: domain.id } })).tenantId).toBe(tenantId);
  });

  it('refuses anonymous, outsiders and members without domains:manage, writing nothing', async () => {
    const before = await counts();
    const input = { tenantId, domain: uniqueDomain() };
    await expectErrors((user: SignedIn | null) => t.execute(ClaimDomainDocument, { input }, user?.headers), denied());
    expect(await counts()).toEqual(before);
  });

  it('bad input is bad_request naming the field; nothing written', async () => {
    const before = await counts();
    const fields: Array<[Record<string, unknown>, string]> = [
      [{ tenantId: 'nope' }, 'tenantId'],
      [{ domain: 'not a domain' }, 'domain'],
      [{ domain: 'localhost' }, 'domain'],
      [{ domain: '-bad.example.com' }, 'domain'],
      [{ domain: 'a..example.com' }, 'domain'],
      [{ domain: 'https://example.com' }, 'domain'],
      [{ domain: `${'a'.repeat(64)}.com` }, 'domain'],
    ];
    await expectErrors(
      (patch: Record<string, unknown>) => t.execute(ClaimDomainDocument, { input: { tenantId, domain: 'example.org', ...patch } as never }, owner.headers),
      fields.map(([patch, field]) => [patch, { code: 'bad_request', field }] as const),
    );
    const caller = { viewer: await t.app.resolveViewer(`Bearer ${owner.accessToken}`), accessToken: null, meta: { ip: null, userAgent: null } };
    await expect(t.app.services.domains.claimDomain({ tenantId, domain: 'example.org', method: 'smtp' as never }, caller)).rejects.toMatchObject({
      code: 'bad_request',
      extensions: { field: 'method' },
    });
    expect(await counts()).toEqual(before);
  });
});

describe('verifyDomain', () => {
  it('challenge not published: bad_request challenge_not_found, still pending, no event; a wrong value likewise', async () => {
    const domain = await claim(owner, uniqueDomain());
    const before = await counts();
    expect(errorOf((await verify(owner, domain.id)).body)).toMatchObject({ code: 'bad_request', reason: 'challenge_not_found' });
    publish({ ...domain, challenge: 'someone-else' });
    expect(errorOf((await verify(owner, domain.id)).body)).toMatchObject({ code: 'bad_request', reason: 'challenge_not_found' });
    publish({ ...domain, method: 'html_file' }); // published for the other method
    expect(errorOf((await verify(owner, domain.id)).body)).toMatchObject({ code: 'bad_request', reason: 'challenge_not_found' });
    expect(await counts()).toEqual(before);
    expect((await prisma().domain.findUniqueOrThrow({ where: { id: domain.id } })).status).toBe('pending');
  });

  it('a failing lookup is upstream_unavailable and writes nothing', async () => {
    const domain = await claim(owner, uniqueDomain());
    failing.add(domain.domain);
    const before = await counts();
    expect(errorOf((await verify(owner, domain.id)).body)?.code).toBe('upstream_unavailable');
    expect(await counts()).toEqual(before);
  });

  it('published: VERIFIED with verifiedAt and domain.verified; verifying or claiming again changes nothing', async () => {
    const domain = await claim(owner, uniqueDomain(), 'HTML_FILE');
    publish(domain);
    const { body } = await verify(owner, domain.id);
    expect(body.errors).toBeUndefined();
    const verified = body.data!.verifyDomain.domain;
    expect(verified).toMatchObject({ id: domain.id, status: 'VERIFIED', method: 'HTML_FILE' });
    expect(verified.verifiedAt).not.toBeNull();
    expect((await verify(owner, domain.id)).body.data?.verifyDomain.domain).toEqual(verified);
    expect(await claim(owner, domain.domain)).toEqual(verified);
    expect(await eventsOf(domain.id)).toEqual([
      { type: 'domain.claimed', payload: { domain: domain.domain, method: 'html_file' } },
      { type: 'domain.verified', payload: { domain: domain.domain, method: 'html_file' } },
    ]);
  });

  it('refuses anonymous, outsiders (as for a nonexistent id) and members without domains:manage, writing nothing', async () => {
    const domain = await claim(owner, uniqueDomain());
    publish(domain);
    const before = await counts();
    await expectErrors((user: SignedIn | null) => verify(user, domain.id), denied());
    const missing = await verify(outsider, '00000000-0000-4000-8000-000000000000');
    expect((await verify(outsider, domain.id)).body.errors).toEqual(missing.body.errors);
    expect(errorOf((await verify(owner, 'nope')).body)).toMatchObject({ code: 'bad_request', field: 'domainId' });
    expect(await counts()).toEqual(before);
  });
});

describe('one verified owner per domain', () => {
  it('claiming a domain another tenant verified is conflict domain_taken; nothing written', async () => {
    const domain = await claim(owner, uniqueDomain());
    publish(domain);
    await verify(owner, domain.id);
    const before = await counts();
    const { body } = await t.execute(ClaimDomainDocument, { input: { tenantId: otherTenantId, domain: domain.domain } }, outsider.headers);
    expect(errorOf(body)).toMatchObject({ code: 'conflict', reason: 'domain_taken' });
    expect(await counts()).toEqual(before);
  });

  it('verifying a claim of a domain another tenant verified meanwhile is conflict domain_taken; the claim stays pending', async () => {
    const name = uniqueDomain();
    const mine = await claim(owner, name);
    const theirs = await claim(outsider, name, 'DNS_TXT', otherTenantId);
    expect(theirs.challenge).not.toBe(mine.challenge);
    publish(theirs);
    expect((await verify(outsider, theirs.id)).body.data?.verifyDomain.domain.status).toBe('VERIFIED');
    publish(mine);
    const before = await counts();
    expect(errorOf((await verify(owner, mine.id)).body)).toMatchObject({ code: 'conflict', reason: 'domain_taken' });
    expect(await counts()).toEqual(before);
    expect((await prisma().domain.findUniqueOrThrow({ where: { id: mine.id } })).status).toBe('pending');
  });

  it.skipIf(process.env.IDGRAPH_TEST_DB !== 'postgres')('two tenants verifying one domain at once: exactly one wins', async () => {
    const name = uniqueDomain();
    const mine = await claim(owner, name);
    const theirs = await claim(outsider, name, 'DNS_TXT', otherTenantId);
    publish(mine);
    publish(theirs);
    const results = await Promise.all([verify(owner, mine.id), verify(outsider, theirs.id)]);
    const codes = results.map(({ body }) => (body.errors ? String(errorOf(body)?.code) : 'ok'));
    expect(codes.sort()).toEqual(['conflict', 'ok']);
    expect(await prisma().domain.count({ where: { domain: name, status: 'verified' } })).toBe(1);
  });
});

describe('domains', () => {
  it('lists a tenant’s domains as a connection, oldest first, page by page', async () => {
    const { id } = await seedTenant(t, owner.userId);
    const names = [uniqueDomain(), uniqueDomain(), uniqueDomain()];
    for (const name of names) await claim(owner, name, 'DNS_TXT', id);
    const first = await t.execute(DomainsDocument, { tenantId: id, first: 2 }, owner.headers);
    expect(first.body.errors).toBeUndefined();
    expect(first.body.data!.domains.edges.map((e) => e.node.domain)).toEqual(names.slice(0, 2));
    expect(first.body.data!.domains.pageInfo.hasNextPage).toBe(true);
    const rest = await t.execute(DomainsDocument, { tenantId: id, first: 2, after: first.body.data!.domains.pageInfo.endCursor }, owner.headers);
    expect(rest.body.data!.domains.edges.map((e) => e.node.domain)).toEqual(names.slice(2));
    expect(rest.body.data!.domains.pageInfo.hasNextPage).toBe(false);
  });

  it('refuses anonymous, outsiders and members without domains:manage; a malformed tenantId is bad_request', async () => {
    await expectErrors((user: SignedIn | null) => t.execute(DomainsDocument, { tenantId }, user?.headers), denied());
    expect(errorOf((await t.execute(DomainsDocument, { tenantId: 'x' }, owner.headers)).body)).toMatchObject({ code: 'bad_request', field: 'tenantId' });
  });
});

