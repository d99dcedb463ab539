import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { AppError, assertThat } from '../errors.js';
import type { EventStore } from '../events/store.js';
import type { Otp, Prisma, PrismaClient } from '../generated/prisma/client.js';
import type { AccessService } from './access.js';
import { type Caller, eventMetadata, requireViewer } from './caller.js';
import { fields, parseInput } from './input.js';
import { lockFor } from './locks.js';
import { numericOtp } from '../crypto.js';

export interface OtpServiceDeps {
  db: PrismaClient;
  events: EventStore;
  access: AccessService;
  clock: () => number;
  /** AUTH_KEY_ENCRYPTION_KEY when configured: the pepper is derived from it. */
  keyEncryptionKey: Buffer | null;
}

export type OtpStatus = 'active' | 'consumed' | 'expired' | 'locked';

const PURPOSE = /^[a-z][a-z0-9_]{0,63}$/;
// Printable and without whitespace, in any script: what partners use as an
// entity reference (an order id, an email address, a URN).
const SUBJECT_REF = /^[^\s\p{C}\p{Z}]{1,256}$/u;

/** An optional Int: absent or null takes the default, anything else must be in range. */
const intInRange = (min: number, max: number, fallback: number) =>
  z
    .number()
    .int()
    .min(min, `must be between ${min} and ${max}`)
    .max(max, `must be between ${min} and ${max}`)
    .nullish()
    .transform((value) => value ?? fallback);

const issueSchema = z.object({
  tenantId: fields.uuid,
  subjectRef: z.string(),
  purpose: z.string(),
  ttlSeconds: intInRange(30, 3600, 300),
  digits: intInRange(6, 10, 6),
  maxAttempts: intInRange(1, 10, 5),
});
const consumeSchema = z.object({
  tenantId: fields.uuid,
  subjectRef: z.string(),
  purpose: z.string(),
  presented: z.string().regex(/^\d{6,10}$/, 'must be 6 to 10 digits'),
});
const viewSchema = z.object({ id: fields.uuid });

/** The subject and purpose have their own codes (seed 002): invalid_subject_ref, invalid_purpose. */
function checkTarget({ subjectRef, purpose }: { subjectRef: string; purpose: string }) {
  assertThat(SUBJECT_REF.test(subjectRef), 'invalid_subject_ref', 'subjectRef must be 1 to 256 printable characters without spaces.', {
    field: 'subjectRef',
  });
  assertThat(PURPOSE.test(purpose), 'invalid_purpose', undefined, { field: 'purpose' });
}

export function otpStatus(otp: Pick<Otp, 'consumedAt' | 'attempts' | 'maxAttempts' | 'expiresAt'>, now: number): OtpStatus {
  if (otp.consumedAt) return 'consumed';
  if (otp.attempts >= otp.maxAttempts) return 'locked';
  if (otp.expiresAt.getTime() <= now) return 'expired';
  return 'active';
}

/** Why an OTP that is not active refuses a value. */
function refusal(otp: Otp, now: number): AppError {
  const status = otpStatus(otp, now);
  if (status === 'locked') return new AppError('otp_locked');
  if (status === 'expired') return new AppError('otp_expired');
  return new AppError('otp_not_found');
}

/**
 * OTP values are stored as HMAC-SHA256(key, value), the key being a random
 * per-row salt, itself keyed with a server-side pepper when one is configured.
 * Why not plain SHA-256 as for tokens: an OTP has only 10^6 to 10^10 values, so
 * a plain hash gives the code back to anyone who reads the table after at most
 * that many hashes (well under a second for six digits). The salt stops one
 * precomputed table from covering every row; the pepper, derived from
 * AUTH_KEY_ENCRYPTION_KEY and never stored in the database, makes a leaked
 * table (backup, replica, injection) useless on its own. A slow KDF would add
 * little against so small a search space and would be paid on every consume;
 * online guessing is bounded by the lifetime and the attempt limit instead.
 * Without a configured key (embedded development) only the salt applies.
 */
function createOtpHasher(keyEncryptionKey: Buffer | null) {
  // A key of its own, so AUTH_KEY_ENCRYPTION_KEY is never used directly for a second purpose.
  const pepper = keyEncryptionKey ? createHmac('sha256', keyEncryptionKey).update('idgraph:otp-pepper').digest() : null;
  const mac = (salt: Buffer, value: string) => {
    const key = pepper ? createHmac('sha256', pepper).update(salt).digest() : salt;
    return createHmac('sha256', key).update(value).digest();
  };
  return {
    hash(value: string): string {
      const salt = randomBytes(16);
      return `${salt.toString('base64url')}.${mac(salt, value).toString('base64url')}`;
    },
    matches(stored: string, presented: string): boolean {
      const [salt, digest] = stored.split('.');
      if (!salt || !digest) return false;
      const expected = Buffer.from(digest, 'base64url');
      const actual = mac(Buffer.from(salt, 'base64url'), presented);
      return expected.length === actual.length && timingSafeEqual(expected, actual);
    },
  };
}

/**
 * The partner OTP primitive: codes bound to a tenant, a subject reference and a
 * purpose, issued by one member and consumed (once) by whoever verifies them.
 */
export function createOtpService({ db, events, access, clock, keyEncryptionKey }: OtpServiceDeps) {
  const hasher = createOtpHasher(keyEncryptionKey);

  // Still usable at `now`: the condition every consuming or counting UPDATE carries, so the row count decides races.
  const usable = (id: string, now: Date) => ({
    id,
    consumedAt: null,
    expiresAt: { gt: now },
    attempts: { lt: db.otp.fields.maxAttempts },
  });

  return {
    /**
     * Issues a code and returns its value, the only time it is ever shown.
     * Older codes for the same subject and purpose that are still open expire
     * at once (their expiresAt is set to now), so only the newest can match.
     */
    async issueOtp(input: z.input<typeof issueSchema>, caller: Caller): Promise<{ otp: Otp; value: string }> {
      const { tenantId, subjectRef, purpose, ttlSeconds, digits, maxAttempts } = parseInput(issueSchema, input);
      checkTarget({ subjectRef, purpose });
      const { viewer, tenant } = await access.tenantAccess(caller, tenantId, 'otp:issue');
      const value = numericOtp(digits);
      const target = { tenantId, subjectRef, purpose };
      const otp = await db.$transaction(async (tx) => {
        // Concurrent issues for one target must not both stay open.
        await lockFor(tx, `otp:${tenantId}:${purpose}:${subjectRef}`);
        const now = new Date(clock());
        const newest = await tx.otp.findFirst({ where: target, orderBy: { createdAt: 'desc' }, select: { createdAt: true } });
        // "Newest" is decided by createdAt, so it must grow even within one millisecond.
        const createdAt = newest && newest.createdAt >= now ? new Date(newest.createdAt.getTime() + 1) : now;
        const superseded = await tx.otp.updateMany({ where: { ...target, consumedAt: null, expiresAt: { gt: now } }, data: { expiresAt: now } });
        const row = await tx.otp.create({
          data: {
            ...target,
            valueHash: hasher.hash(value),
            issuerId: viewer.userId,
            maxAttempts,
            createdAt,
            expiresAt: new Date(createdAt.getTime() + ttlSeconds * 1000),
          },
        });
        await events.appendEvent(tx, {
          aggregateType: 'otp',
          aggregateId: row.id,
          type: 'otp.issued',
          realmId: tenant.realmId,
          tenantId,
          payload: { subjectRef, purpose, digits, maxAttempts, expiresAt: row.expiresAt.toISOString(), superseded: superseded.count },
          metadata: eventMetadata(caller),
        });
        return row;
      });
      return { otp, value };
    },

    /**
     * An OTP's metadata, for its issuer only (for an API key, the key's owner,
     * within the key's tenant), while the issuer may still issue codes there.
     * Everyone else gets the very error a nonexistent id gets.
     */
    async viewOtp<Q extends Omit<Prisma.OtpFindFirstArgs, 'where'>>(input: { id: string }, caller: Caller, query: Q = {} as Q) {
      const viewer = requireViewer(caller);
      const { id } = parseInput(viewSchema, input);
      const otp = await db.otp.findFirst({ ...query, where: { id, issuerId: viewer.userId, tenant: { deletedAt: null } } });
      const mayStillIssue =
        otp !== null &&
        (await access.tenantAccess(caller, otp.tenantId, 'otp:issue').then(
          () => true,
          (error: unknown) => {
            if (error instanceof AppError && (error.code === 'not_found' || error.code === 'forbidden')) return false;
            throw error;
          },
        ));
      if (!mayStillIssue) throw new AppError('not_found');
      return otp;
    },

    /**
     * Matches a presented value against the newest code for the subject and
     * purpose and consumes it. The consuming UPDATE is conditional (still
     * unconsumed, unexpired, under the attempt limit): its row count decides,
     * so concurrent consumers of one value cannot both succeed. A mismatch
     * counts an attempt atomically; the attempt that reaches the limit answers
     * invalid_otp and records otp.locked, later ones answer otp_locked.
     */
    async consumeOtp(input: z.input<typeof consumeSchema>, caller: Caller): Promise<{ otp: Otp }> {
      const { tenantId, subjectRef, purpose, presented } = parseInput(consumeSchema, input);
      checkTarget({ subjectRef, purpose });
      const { viewer, tenant } = await access.tenantAccess(caller, tenantId, 'otp:verify');
      const now = new Date(clock());
      const newest = await db.otp.findFirst({ where: { tenantId, subjectRef, purpose }, orderBy: { createdAt: 'desc' } });
      if (!newest) throw new AppError('otp_not_found');
      if (otpStatus(newest, now.getTime()) !== 'active') throw refusal(newest, now.getTime());
      const event = (type: string, payload: Record<string, unknown>) => ({
        aggregateType: 'otp',
        aggregateId: newest.id,
        type,
        realmId: tenant.realmId,
        tenantId,
        payload: { subjectRef, purpose, ...payload },
        metadata: eventMetadata(caller),
      });

      if (!hasher.matches(newest.valueHash, presented)) {
        const counted = await db.$transaction(async (tx) => {
          const [row] = await tx.otp.updateManyAndReturn({ where: usable(newest.id, now), data: { attempts: { increment: 1 } } });
          if (row && row.attempts >= row.maxAttempts) await events.appendEvent(tx, event('otp.locked', { attempts: row.attempts }));
          return row ?? null;
        });
        if (!counted) throw refusal(await db.otp.findUniqueOrThrow({ where: { id: newest.id } }), now.getTime());
        throw new AppError('invalid_otp', undefined, { attemptsRemaining: counted.maxAttempts - counted.attempts });
      }

      const consumed = await db.$transaction(async (tx) => {
        const [row] = await tx.otp.updateManyAndReturn({ where: usable(newest.id, now), data: { consumedAt: now, consumedById: viewer.userId } });
        if (row) await events.appendEvent(tx, event('otp.consumed', { issuedBy: row.issuerId }));
        return row ?? null;
      });
      if (!consumed) throw refusal(await db.otp.findUniqueOrThrow({ where: { id: newest.id } }), now.getTime());
      return { otp: consumed };
    },
  };
}

export type OtpService = ReturnType<typeof createOtpService>;
