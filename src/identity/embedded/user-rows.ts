import { type AuthSession, Prisma } from '../../generated/prisma/client.js';
import type { UserRow } from './users.js';

/**
 * A user with identities and factors in raw SQL, for the statements on the
 * token hot paths (refresh, password sign-in) that read the user in the same
 * statement as their writes. Selects from `auth_users u`; the columns come out
 * as UserRow's fields, identities and factors as JSON arrays oldest first, as
 * userInclude orders them.
 */
export const userRowColumns = Prisma.sql`
  u.id::text AS id, u.aud, u.role, u.email, u.phone, u.password_hash AS "passwordHash",
  u.email_confirmed_at AS "emailConfirmedAt", u.phone_confirmed_at AS "phoneConfirmedAt", u.invited_at AS "invitedAt",
  u.confirmation_sent_at AS "confirmationSentAt", u.recovery_sent_at AS "recoverySentAt", u.new_email AS "newEmail",
  u.email_change_sent_at AS "emailChangeSentAt", u.new_phone AS "newPhone", u.phone_change_sent_at AS "phoneChangeSentAt",
  u.reauthentication_sent_at AS "reauthenticationSentAt", u.last_sign_in_at AS "lastSignInAt", u.app_metadata AS "appMetadata",
  u.user_metadata AS "userMetadata", u.banned_until AS "bannedUntil", u.is_anonymous AS "isAnonymous",
  u.created_at AS "createdAt", u.updated_at AS "updatedAt", u.deleted_at AS "deletedAt",
  COALESCE((SELECT jsonb_agg(jsonb_build_object(
      'id', i.id, 'providerId', i.provider_id, 'userId', i.user_id, 'provider', i.provider, 'identityData', i.identity_data,
      'email', i.email, 'lastSignInAt', i.last_sign_in_at, 'createdAt', i.created_at, 'updatedAt', i.updated_at
    ) ORDER BY i.created_at) FROM auth_identities i WHERE i.user_id = u.id), '[]') AS identities,
  COALESCE((SELECT jsonb_agg(jsonb_build_object(
      'id', f.id, 'userId', f.user_id, 'friendlyName', f.friendly_name, 'factorType', f.factor_type, 'status', f.status,
      'secret', f.secret, 'phone', f.phone, 'lastChallengedAt', f.last_challenged_at, 'createdAt', f.created_at, 'updatedAt', f.updated_at
    ) ORDER BY f.created_at) FROM auth_mfa_factors f WHERE f.user_id = u.id), '[]') AS factors`;

type Json = Record<string, unknown>;
const date = (value: unknown) => (value == null ? null : new Date(value as string));

/** A row selected with userRowColumns, as Prisma would have returned it with userInclude. */
export function userRowFrom(row: Json): UserRow {
  const identities = (row.identities as Json[]).map((i) => ({
    ...(i as Omit<UserRow['identities'][number], 'lastSignInAt' | 'createdAt' | 'updatedAt'>),
    lastSignInAt: date(i.lastSignInAt),
    createdAt: date(i.createdAt)!,
    updatedAt: date(i.updatedAt)!,
  }));
  const factors = (row.factors as Json[]).map((f) => ({
    ...(f as Omit<UserRow['factors'][number], 'lastChallengedAt' | 'createdAt' | 'updatedAt'>),
    lastChallengedAt: date(f.lastChallengedAt),
    createdAt: date(f.createdAt)!,
    updatedAt: date(f.updatedAt)!,
  }));
  return { ...(row as unknown as UserRow), identities, factors };
}

/** auth_sessions `s` columns, prefixed "session." so they sit beside userRowColumns in one row. */
export const sessionRowColumns = Prisma.sql`
  s.id::text AS "session.id", s.user_id::text AS "session.userId", s.aal AS "session.aal", s.factor_id::text AS "session.factorId",
  s.amr AS "session.amr", s.mfa_at AS "session.mfaAt", s.ip AS "session.ip", s.user_agent AS "session.userAgent",
  s.created_at AS "session.createdAt", s.updated_at AS "session.updatedAt", s.refreshed_at AS "session.refreshedAt",
  s.not_after AS "session.notAfter"`;

/** A row selected with sessionRowColumns and userRowColumns: the session and its user. */
export function sessionWithUserFrom(row: Json): { session: AuthSession; user: UserRow } {
  const session: Json = {};
  const user: Json = {};
  for (const [key, value] of Object.entries(row)) {
    if (key.startsWith('session.')) session[key.slice('session.'.length)] = value;
    else user[key] = value;
  }
  return { session: session as unknown as AuthSession, user: userRowFrom(user) };
}
