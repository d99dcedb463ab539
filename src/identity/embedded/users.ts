import type { AuthIdentity, AuthMfaFactor, AuthUser } from '../../generated/prisma/client.js';
import { canonicalEmail, canonicalPhone } from '../../identifiers.js';
import { ProviderError } from '../errors.js';
import type { Factor, Identity, User } from '../types.js';

export type UserRow = AuthUser & { identities: AuthIdentity[]; factors: AuthMfaFactor[] };

export const userInclude = { identities: { orderBy: { createdAt: 'asc' } }, factors: { orderBy: { createdAt: 'asc' } } } as const;

/** The stored and looked-up spelling (canonicalEmail, as the rate limits key on it), checked. */
export function normalizeEmail(value: unknown): string {
  if (typeof value !== 'string') throw new ProviderError(400, 'validation_failed', 'Unable to validate email address: invalid format');
  const email = canonicalEmail(value);
  if (email.length > 255 || !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) {
    throw new ProviderError(400, 'validation_failed', 'Unable to validate email address: invalid format');
  }
  return email;
}

/** GoTrue stores phones without '+': "+1 555 123 4567" → "15551234567" (canonicalPhone), checked as E.164 digits. */
export function normalizePhone(value: unknown): string {
  const phone = typeof value === 'string' ? canonicalPhone(value) : '';
  if (!/^[1-9]\d{1,14}$/.test(phone)) throw new ProviderError(400, 'validation_failed', 'Invalid phone number format (E.164 required)');
  return phone;
}

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : undefined);

function minDate(a: Date | null, b: Date | null): Date | null {
  if (a && b) return a < b ? a : b;
  return a ?? b;
}

export function toFactor(row: AuthMfaFactor): Factor {
  return {
    id: row.id,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
    status: row.status as Factor['status'],
    ...(row.friendlyName ? { friendly_name: row.friendlyName } : {}),
    factor_type: row.factorType as Factor['factor_type'],
    phone: row.phone ?? '',
    last_challenged_at: iso(row.lastChallengedAt) ?? null,
  };
}

export function toIdentity(row: AuthIdentity): Identity {
  return {
    identity_id: row.id,
    id: row.providerId,
    user_id: row.userId,
    identity_data: row.identityData as Record<string, unknown>,
    provider: row.provider,
    ...(row.lastSignInAt ? { last_sign_in_at: row.lastSignInAt.toISOString() } : {}),
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
    ...(row.email ? { email: row.email } : {}),
  };
}

/** The GoTrue User shape: optional fields omitted when null. */
export function toUser(row: UserRow): User {
  const optional: Record<string, string | undefined> = {
    email_confirmed_at: iso(row.emailConfirmedAt),
    invited_at: iso(row.invitedAt),
    phone_confirmed_at: iso(row.phoneConfirmedAt),
    confirmation_sent_at: iso(row.confirmationSentAt),
    confirmed_at: iso(minDate(row.emailConfirmedAt, row.phoneConfirmedAt)),
    recovery_sent_at: iso(row.recoverySentAt),
    new_email: row.newEmail ?? undefined,
    email_change_sent_at: iso(row.emailChangeSentAt),
    new_phone: row.newPhone ?? undefined,
    phone_change_sent_at: iso(row.phoneChangeSentAt),
    reauthentication_sent_at: iso(row.reauthenticationSentAt),
    last_sign_in_at: iso(row.lastSignInAt),
    banned_until: iso(row.bannedUntil),
    deleted_at: iso(row.deletedAt),
  };
  const factors = row.factors.map(toFactor);
  return {
    id: row.id,
    aud: row.aud,
    role: row.role,
    email: row.email ?? '',
    phone: row.phone ?? '',
    ...Object.fromEntries(Object.entries(optional).filter(([, v]) => v !== undefined)),
    app_metadata: row.appMetadata as User['app_metadata'],
    user_metadata: row.userMetadata as Record<string, unknown>,
    ...(factors.length ? { factors } : {}),
    identities: row.identities.map(toIdentity),
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
    is_anonymous: row.isAnonymous,
  } as User;
}

export const isBanned = (row: Pick<AuthUser, 'bannedUntil'>, now: Date) => row.bannedUntil !== null && row.bannedUntil > now;

/** Shallow merge where null deletes a key (GoTrue's data / app_metadata semantics). */
export function mergeMetadata(current: unknown, patch: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = { ...((current as Record<string, unknown>) ?? {}) };
  if (patch && typeof patch === 'object') {
    for (const [k, v] of Object.entries(patch)) {
      if (v === null) delete out[k];
      else out[k] = v;
    }
  }
  return out;
}
