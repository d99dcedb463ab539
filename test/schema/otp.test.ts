import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ErrorCode } from '../../src/errors.js';
import type { Caller } from '../../src/services/caller.js';
import { ConsumeOtpDocument, IssueOtpDocument, ViewOtpDocument } from '../generated/graphql.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { errorOf, expectErrors } from '../helpers/errors.js';
import { seedMember, seedRole, seedTenant, signInRealmAdmin, signUpUser, type SignedIn } from '../helpers/realm.js';

// The partner OTP primitive through GraphQL: issueOtp, viewOtp, consumeOtp.

let t: TestApp;
let owner: SignedIn; // owner of the tenant: every permission
let colleague: SignedIn; // otp:issue and otp:verify
let verifier: SignedIn; // otp:verify only
let issuerOnly: SignedIn; // otp:issue only
let reader: SignedIn; // the system member role: tenant:read
let outsider: SignedIn; // owner of another tenant
let admin: SignedIn; // realm admin
let tenantId: string;
let otherTenantId: string;

const missingId = '00000000-0000-4000-8000-000000000000';
let subjectSeq = 0;
const subject = () => `order:${++subjectSeq}`;

const prisma = () => t.app.db.prisma;
const counts = async () => ({ otps: await prisma().otp.count(), events: await prisma().event.count() });

async function issue(user: SignedIn, input: { subjectRef?: string; purpose?: string; ttlSeconds?: number; digits?: number; maxAttempts?: number } = {}) {
  const { body } = await t.execute(
    IssueOtpDocument,
    { input: { tenantId, subjectRef: input.subjectRef ?? subject(), purpose: input.purpose ?? 'delivery_confirm', ...input } },
    user.headers,
  );
  expect(body.errors).toBeUndefined();
  return body.data!.issueOtp;
}

const consume = (user: SignedIn | null, input: { subjectRef: string; purpose: string; presented: string; tenantId?: string }) =>
  t.execute(ConsumeOtpDocument, { input: { tenantId, ...input } }, user?.headers);

/** A value that is not `value` (same length, so it is a well-formed guess). */
const wrong = (value: string) => value.replace(/^./, (d) => String((Number(d) + 1) % 10));

beforeAll(async () => {
  t = await startTestApp();
  [owner, colleague, verifier, issuerOnly, reader, outsider] = await Promise.all([signUpUser(t), signUpUser(t), signUpUser(t), signUpUser(t), signUpUser(t), signUpUser(t)]);
  admin = await signInRealmAdmin(t);
  tenantId = (await seedTenant(t, owner.userId)).id;
  otherTenantId = (await seedTenant(t, outsider.userId)).id;
  await seedRole(t, 'otp_agent', ['otp:issue', 'otp:verify']);
  await seedRole(t, 'otp_verifier', ['otp:verify']);
  await seedRole(t, 'otp_issuer', ['otp:issue']);
  await seedMember(t, tenantId, colleague.userId, 'otp_agent');
  await seedMember(t, tenantId, verifier.userId, 'otp_verifier');
  await seedMember(t, tenantId, issuerOnly.userId, 'otp_issuer');
  await seedMember(t, tenantId, reader.userId, 'member');
});
afterAll(() => t.close());

describe('issueOtp', () => {
  it('returns the value once, stores only a salted hash and records otp.issued without the value', async () => {
    const subjectRef = subject();
    const { value, otp } = await issue(owner, { subjectRef, purpose: 'handover' });
    expect(value).toMatch(/^\d{6}$/);
    expect(otp).toMatchObject({ subjectRef, purpose: 'handover', attempts: 0, maxAttempts: 5, status: 'ACTIVE', consumedAt: null, consumedBy: null });
    expect(otp.issuedBy?.id).toBe(owner.userId);
    expect(Date.parse(otp.expiresAt) - Date.parse(otp.issuedAt)).toBe(300_000);
    const row = await prisma().otp.findUniqueOrThrow({ where: { id: otp.id } });
    expect(row).toMatchObject({ tenantId, issuerId: owner.userId });
    expect(row.valueHash).toMatch(/^[\w-]{22}\.[\w-]{43}$/);
    expect(row.valueHash).not.toContain(value);
    const events = await prisma().event.findMany({ where: { aggregateId: otp.id } });
    expect(events.map((e) => [e.aggregateType, e.type, e.tenantId])).toEqual([['otp', 'otp.issued', tenantId]]);
    expect(events[0]!.payload).toEqual({ subjectRef, purpose: 'handover', digits: 6, maxAttempts: 5, expiresAt: otp.expiresAt, superseded: 0 });
  });

  it('honours ttlSeconds, digits and maxAttempts; values are zero-padded to the digit count', async () => {
    const { value, otp } = await issue(colleague, { ttlSeconds: 30, digits: 10, maxAttempts: 1 });
    expect(value).toMatch(/^\d{10}$/);
    expect(otp.maxAttempts).toBe(1);
    expect(Date.parse(otp.expiresAt) - Date.parse(otp.issuedAt)).toBe(30_000);
    const values = await Promise.all(Array.from({ length: 20 }, () => issue(owner).then((r) => r.value)));
    for (const v of values) expect(v).toMatch(/^\d{6}$/);
  });

  it('the value is HMAC-SHA256 keyed with the row salt (no pepper without AUTH_KEY_ENCRYPTION_KEY)', async () => {
    const { value, otp } = await issue(owner);
    const [salt, digest] = (await prisma().otp.findUniqueOrThrow({ where: { id: otp.id } })).valueHash.split('.');
    expect(createHmac('sha256', Buffer.from(salt!, 'base64url')).update(value).digest('base64url')).toBe(digest);
  });

  it('issuing again for the same subject and purpose supersedes the open code: it expires and its value no longer matches', async () => {
    const subjectRef = subject();
    const first = await issue(owner, { subjectRef, digits: 10 });
    const second = await issue(owner, { subjectRef, digits: 10 });
    expect(first.value).not.toBe(second.value);
    const issued = await prisma().event.findFirstOrThrow({ where: { aggregateId: second.otp.id } });
    expect(issued.payload).toMatchObject({ superseded: 1 });
    const old = await t.execute(ViewOtpDocument, { id: first.otp.id }, owner.headers);
    expect(old.body.data?.viewOtp?.status).toBe('EXPIRED');
    const stale = await consume(verifier, { subjectRef, purpose: 'delivery_confirm', presented: first.value });
    expect(errorOf(stale.body)?.code).toBe('invalid_otp');
    const fresh = await consume(verifier, { subjectRef, purpose: 'delivery_confirm', presented: second.value });
    expect(fresh.body.data?.consumeOtp.otp.id).toBe(second.otp.id);
  });

  it('refuses anonymous (unauthenticated), outsiders (not_found) and members without otp:issue (forbidden), writing nothing', async () => {
    const before = await counts();
    const input = { tenantId, subjectRef: subject(), purpose: 'delivery_confirm' };
    await expectErrors((user: SignedIn | null) => t.execute(IssueOtpDocument, { input }, user?.headers), [
      [null, { code: 'unauthenticated' }],
      [outsider, { code: 'not_found' }],
      [reader, { code: 'forbidden', permission: 'otp:issue' }],
      [verifier, { code: 'forbidden', permission: 'otp:issue' }],
    ]);
    expect(await counts()).toEqual(before);
  });

  it('bad input: invalid_subject_ref, invalid_purpose, or bad_request naming the field; nothing written', async () => {
    const before = await counts();
    const base = { tenantId, subjectRef: 'order:1', purpose: 'delivery_confirm' };
    const cases: Array<[Record<string, unknown>, ErrorCode, string]> = [
      [{ tenantId: 'not-an-id' }, 'bad_request', 'tenantId'],
      [{ subjectRef: '' }, 'invalid_subject_ref', 'subjectRef'],
      [{ subjectRef: 'has space' }, 'invalid_subject_ref', 'subjectRef'],
      [{ subjectRef: 'tab\there' }, 'invalid_subject_ref', 'subjectRef'],
      // NUL never reaches the service: the input rule refuses it for every operation, naming the variable path.
      [{ subjectRef: 'nul\u0000' }, 'bad_request', 'input.subjectRef'],
      [{ subjectRef: 'x'.repeat(257) }, 'invalid_subject_ref', 'subjectRef'],
      [{ purpose: '' }, 'invalid_purpose', 'purpose'],
      [{ purpose: 'Delivery' }, 'invalid_purpose', 'purpose'],
      [{ purpose: '1st' }, 'invalid_purpose', 'purpose'],
      [{ purpose: 'with-dash' }, 'invalid_purpose', 'purpose'],
      [{ purpose: `a${'b'.repeat(64)}` }, 'invalid_purpose', 'purpose'],
      [{ ttlSeconds: 29 }, 'bad_request', 'ttlSeconds'],
      [{ ttlSeconds: 3601 }, 'bad_request', 'ttlSeconds'],
      [{ digits: 5 }, 'bad_request', 'digits'],
      [{ digits: 11 }, 'bad_request', 'digits'],
      [{ maxAttempts: 0 }, 'bad_request', 'maxAttempts'],
      [{ maxAttempts: 11 }, 'bad_request', 'maxAttempts'],
    ];
    await expectErrors(
      (patch: Record<string, unknown>) => t.execute(IssueOtpDocument, { input: { ...base, ...patch } as never }, owner.headers),
      cases.map(([patch, code, field]) => [patch, { code, field }] as const),
    );
    // Limits are inclusive; Unicode subject references are accepted.
    await issue(owner, { subjectRef: `ü${'x'.repeat(255)}`, purpose: `a${'b'.repeat(63)}`, ttlSeconds: 3600, maxAttempts: 10 });
    expect((await counts()).otps).toBe(before.otps + 1);
  });
});

describe('viewOtp', () => {
  it('shows the issuer the metadata; everyone else, realm admins included, gets the error of a nonexistent id', async () => {
    const { otp } = await issue(colleague);
    const own = await t.execute(ViewOtpDocument, { id: otp.id }, colleague.headers);
    expect(own.body.data?.viewOtp).toEqual(otp);
    const missing = await t.execute(ViewOtpDocument, { id: missingId }, colleague.headers);
    expect(errorOf(missing.body)?.code).toBe('not_found');
    for (const user of [owner, verifier, reader, outsider, admin]) {
      const other = await t.execute(ViewOtpDocument, { id: otp.id }, user.headers);
      expect(other.body.data).toEqual({ viewOtp: null });
      expect(other.status).toBe(missing.status);
      expect(other.body.errors).toEqual(missing.body.errors);
    }
  });

  it('anonymous is unauthenticated; a malformed id is bad_request', async () => {
    const { otp } = await issue(owner);
    expect(errorOf((await t.execute(ViewOtpDocument, { id: otp.id })).body)?.code).toBe('unauthenticated');
    expect(errorOf((await t.execute(ViewOtpDocument, { id: 'nope' }, owner.headers)).body)).toMatchObject({ code: 'bad_request', field: 'id' });
  });

  it('an issuer who lost otp:issue in the tenant no longer sees the code', async () => {
    const { otp } = await issue(issuerOnly);
    const role = await prisma().role.findFirstOrThrow({ where: { name: 'otp_verifier' } });
    await prisma().membership.updateMany({ where: { tenantId, userId: issuerOnly.userId }, data: { roleId: role.id } });
    try {
      const { body } = await t.execute(ViewOtpDocument, { id: otp.id }, issuerOnly.headers);
      expect(errorOf(body)?.code).toBe('not_found');
    } finally {
      const issuerRole = await prisma().role.findFirstOrThrow({ where: { name: 'otp_issuer' } });
      await prisma().membership.updateMany({ where: { tenantId, userId: issuerOnly.userId }, data: { roleId: issuerRole.id } });
    }
  });

  it('API keys: the issuer’s key in the code’s tenant sees it; another owner’s key or a key of another tenant does not', async () => {
    const { otp } = await issue(owner);
    const keyCaller = async (user: SignedIn, keyTenantId: string): Promise<Caller> => ({
      viewer: { ...(await t.app.resolveViewer(`Bearer ${user.accessToken}`))!, apiKey: { id: 'key', tenantId: keyTenantId, scopes: ['otp:issue'] } },
      accessToken: null,
      meta: { ip: null, userAgent: null },
    });
    const otpService = t.app.services.otp;
    expect((await otpService.viewOtp({ id: otp.id }, await keyCaller(owner, tenantId))).id).toBe(otp.id);
    await expect(otpService.viewOtp({ id: otp.id }, await keyCaller(colleague, tenantId))).rejects.toMatchObject({ code: 'not_found' });
    await expect(otpService.viewOtp({ id: otp.id }, await keyCaller(owner, otherTenantId))).rejects.toMatchObject({ code: 'not_found' });
  });
});

describe('consumeOtp', () => {
  it('consumes a matching value once, with issuer attribution, and records otp.consumed', async () => {
    const subjectRef = subject();
    const { value, otp } = await issue(owner, { subjectRef });
    const { body } = await consume(verifier, { subjectRef, purpose: 'delivery_confirm', presented: value });
    expect(body.errors).toBeUndefined();
    const consumed = body.data!.consumeOtp.otp;
    expect(consumed).toMatchObject({ id: otp.id, status: 'CONSUMED', issuedBy: { id: owner.userId }, consumedBy: { id: verifier.userId } });
    expect(consumed.consumedAt).not.toBeNull();
    const row = await prisma().otp.findUniqueOrThrow({ where: { id: otp.id } });
    expect(row.consumedById).toBe(verifier.userId);
    const events = await prisma().event.findMany({ where: { aggregateId: otp.id }, orderBy: { position: 'asc' } });
    expect(events.map((e) => e.type)).toEqual(['otp.issued', 'otp.consumed']);
    expect(events[1]!.payload).toEqual({ subjectRef, purpose: 'delivery_confirm', issuedBy: owner.userId });
    expect(events[1]!.metadata).toMatchObject({ actorId: verifier.userId });
    const again = await consume(verifier, { subjectRef, purpose: 'delivery_confirm', presented: value });
    expect(errorOf(again.body)?.code).toBe('otp_not_found');
  });

  it('otp_not_found without a code for the subject and purpose (the purpose is part of the key)', async () => {
    const subjectRef = subject();
    const { value } = await issue(owner, { subjectRef, purpose: 'pickup' });
    expect(errorOf((await consume(verifier, { subjectRef, purpose: 'dropoff', presented: value })).body)?.code).toBe('otp_not_found');
    expect(errorOf((await consume(verifier, { subjectRef: subject(), purpose: 'pickup', presented: value })).body)?.code).toBe('otp_not_found');
  });

  it('a wrong value is invalid_otp and counts; the attempt reaching the limit is invalid_otp (otp.locked), later ones otp_locked', async () => {
    const subjectRef = subject();
    const { value, otp } = await issue(owner, { subjectRef, maxAttempts: 2 });
    const target = { subjectRef, purpose: 'delivery_confirm' };
    expect(errorOf((await consume(verifier, { ...target, presented: wrong(value) })).body)).toMatchObject({ code: 'invalid_otp', attemptsRemaining: 1 });
    expect((await prisma().otp.findUniqueOrThrow({ where: { id: otp.id } })).attempts).toBe(1);
    expect(errorOf((await consume(verifier, { ...target, presented: wrong(value) })).body)).toMatchObject({ code: 'invalid_otp', attemptsRemaining: 0 });
    expect(errorOf((await consume(verifier, { ...target, presented: value })).body)?.code).toBe('otp_locked');
    expect(errorOf((await consume(verifier, { ...target, presented: wrong(value) })).body)?.code).toBe('otp_locked');
    const row = await prisma().otp.findUniqueOrThrow({ where: { id: otp.id } });
    expect(row).toMatchObject({ attempts: 2, consumedAt: null });
    const events = await prisma().event.findMany({ where: { aggregateId: otp.id }, orderBy: { position: 'asc' } });
    expect(events.map((e) => e.type)).toEqual(['otp.issued', 'otp.locked']);
    expect(events[1]!.payload).toEqual({ ...target, attempts: 2 });
    const viewed = await t.execute(ViewOtpDocument, { id: otp.id }, owner.headers);
    expect(viewed.body.data?.viewOtp?.status).toBe('LOCKED');
  });

  it('otp_expired once the newest code is past its expiry; nothing is written', async () => {
    const subjectRef = subject();
    const { value, otp } = await issue(owner, { subjectRef });
    await prisma().otp.update({ where: { id: otp.id }, data: { expiresAt: new Date(Date.parse(otp.issuedAt) - 1000) } });
    const before = await counts();
    expect(errorOf((await consume(verifier, { subjectRef, purpose: 'delivery_confirm', presented: value })).body)?.code).toBe('otp_expired');
    expect(errorOf((await consume(verifier, { subjectRef, purpose: 'delivery_confirm', presented: wrong(value) })).body)?.code).toBe('otp_expired');
    expect(await counts()).toEqual(before);
    expect((await prisma().otp.findUniqueOrThrow({ where: { id: otp.id } })).attempts).toBe(0);
    expect((await t.execute(ViewOtpDocument, { id: otp.id }, owner.headers)).body.data?.viewOtp?.status).toBe('EXPIRED');
  });

  it('refuses anonymous, outsiders, members without otp:verify; no attempt is counted and nothing written', async () => {
    const subjectRef = subject();
    const { value, otp } = await issue(owner, { subjectRef });
    const before = await counts();
    for (const presented of [value, wrong(value)]) {
      await expectErrors((user: SignedIn | null) => consume(user, { subjectRef, purpose: 'delivery_confirm', presented }), [
        [null, { code: 'unauthenticated' }],
        [outsider, { code: 'not_found' }],
        [reader, { code: 'forbidden', permission: 'otp:verify' }],
        [issuerOnly, { code: 'forbidden', permission: 'otp:verify' }],
      ]);
    }
    // An outsider with otp:verify in their own tenant cannot reach this tenant's codes either.
    const { body } = await consume(outsider, { tenantId: otherTenantId, subjectRef, purpose: 'delivery_confirm', presented: value });
    expect(errorOf(body)?.code).toBe('otp_not_found');
    expect(await counts()).toEqual(before);
    expect(await prisma().otp.findUniqueOrThrow({ where: { id: otp.id } })).toMatchObject({ attempts: 0, consumedAt: null });
  });

  it('bad input: invalid_subject_ref, invalid_purpose, bad_request for tenantId and presented; nothing written', async () => {
    const subjectRef = subject();
    const { value } = await issue(owner, { subjectRef });
    const before = await counts();
    const base = { subjectRef, purpose: 'delivery_confirm', presented: value };
    await expectErrors((patch: Record<string, unknown>) => consume(verifier, { ...base, ...patch } as never), [
      [{ tenantId: 'x' }, { code: 'bad_request', field: 'tenantId' }],
      [{ subjectRef: 'a b' }, { code: 'invalid_subject_ref', field: 'subjectRef' }],
      [{ purpose: 'Nope' }, { code: 'invalid_purpose', field: 'purpose' }],
      [{ presented: 'abcdef' }, { code: 'bad_request', field: 'presented' }],
      [{ presented: '12345' }, { code: 'bad_request', field: 'presented' }],
      [{ presented: '12345678901' }, { code: 'bad_request', field: 'presented' }],
    ]);
    expect(await counts()).toEqual(before);
  });
});

describe('OTP secrets', () => {
  it('no event carries an issued value or its hash', async () => {
    const issued = await Promise.all([issue(owner, { digits: 10 }), issue(colleague, { digits: 10 }), issue(issuerOnly, { digits: 10 })]);
    const rows = await prisma().otp.findMany();
    const events = JSON.stringify(await prisma().event.findMany({ select: { type: true, payload: true, metadata: true } }));
    expect(events).toContain('otp.issued');
    for (const { value } of issued) expect(events).not.toContain(value);
    for (const row of rows) {
      for (const part of row.valueHash.split('.')) expect(events).not.toContain(part);
    }
  });

  it('with AUTH_KEY_ENCRYPTION_KEY the hash is peppered: the salt alone does not reproduce it, and codes still verify', async () => {
    const peppered = await startTestApp({ env: { AUTH_KEY_ENCRYPTION_KEY: Buffer.alloc(32, 5).toString('base64') } });
    try {
      const user = await signUpUser(peppered);
      const { id } = await seedTenant(peppered, user.userId);
      const input = { tenantId: id, subjectRef: 'parcel:9', purpose: 'delivery_confirm' };
      const { body } = await peppered.execute(IssueOtpDocument, { input }, user.headers);
      const { value, otp } = body.data!.issueOtp;
      const [salt, digest] = (await peppered.app.db.prisma.otp.findUniqueOrThrow({ where: { id: otp.id } })).valueHash.split('.');
      expect(createHmac('sha256', Buffer.from(salt!, 'base64url')).update(value).digest('base64url')).not.toBe(digest);
      const consumed = await peppered.execute(ConsumeOtpDocument, { input: { ...input, presented: value } }, user.headers);
      expect(consumed.body.data?.consumeOtp.otp.status).toBe('CONSUMED');
    } finally {
      await peppered.close();
    }
  });
});

describe('consumeOtp under concurrency (PostgreSQL)', () => {
  it.skipIf(process.env.IDGRAPH_TEST_DB !== 'postgres')('100 parallel consumes of one value: exactly one succeeds', async () => {
    const subjectRef = subject();
    const { value, otp } = await issue(owner, { subjectRef });
    const results = await Promise.all(
      Array.from({ length: 100 }, () => consume(verifier, { subjectRef, purpose: 'delivery_confirm', presented: value })),
    );
    const codes = results.map(({ body }) => (body.errors ? String(errorOf(body)?.code) : 'ok'));
    expect(codes.filter((c) => c === 'ok')).toHaveLength(1);
    expect(codes.filter((c) => c === 'otp_not_found')).toHaveLength(99);
    const events = await prisma().event.findMany({ where: { aggregateId: otp.id } });
    expect(events.map((e) => e.type).sort()).toEqual(['otp.consumed', 'otp.issued']);
  });

  it.skipIf(process.env.IDGRAPH_TEST_DB !== 'postgres')('30 parallel wrong values: exactly maxAttempts are counted, one otp.locked', async () => {
    const subjectRef = subject();
    const { value, otp } = await issue(owner, { subjectRef, maxAttempts: 5 });
    const results = await Promise.all(
      Array.from({ length: 30 }, () => consume(verifier, { subjectRef, purpose: 'delivery_confirm', presented: wrong(value) })),
    );
    const codes = results.map(({ body }) => String(errorOf(body)?.code));
    expect(codes.filter((c) => c === 'invalid_otp')).toHaveLength(5);
    expect(codes.filter((c) => c === 'otp_locked')).toHaveLength(25);
    expect((await prisma().otp.findUniqueOrThrow({ where: { id: otp.id } })).attempts).toBe(5);
    const locked = await prisma().event.count({ where: { aggregateId: otp.id, type: 'otp.locked' } });
    expect(locked).toBe(1);
  });
});
