import type { Prisma } from '../generated/prisma/client.js';
import type { LogoutScope } from './provider.js';

/**
 * A change to a user's sessions or credentials that the user should hear about ("was this you?"), whichever
 * surface made it (GraphQL, /auth/v1, the admin API). Ids and kinds only: never a token, password, code or secret.
 */
export type SecurityAction =
  /** The user signed out: this session (local), every session (global) or every other one (others). */
  | { action: 'signed_out'; scope: LogoutScope }
  /** The user ended one of their sessions by its id. */
  | { action: 'session_revoked'; sessionId: string }
  /** An administrator ended the user's sessions: a sign-out with the service role, or a ban. */
  | { action: 'sessions_revoked'; scope: LogoutScope; reason: 'admin_sign_out' | 'banned' }
  /** A factor was verified for the first time, or removed (by the user or an administrator). */
  | { action: 'factor_enrolled' | 'factor_unenrolled'; factorId: string; factorType: string | null }
  | { action: 'password_changed' | 'email_change_requested' | 'email_changed' | 'phone_change_requested' | 'phone_changed' };

/** The event type of each action: the one place that names them (dotted, past tense, on the user's aggregate). */
export const securityEventTypes = {
  signed_out: 'user.signed_out',
  session_revoked: 'user.session_revoked',
  sessions_revoked: 'user.sessions_revoked',
  factor_enrolled: 'user.factor_enrolled',
  factor_unenrolled: 'user.factor_unenrolled',
  password_changed: 'user.password_changed',
  email_change_requested: 'user.email_change_requested',
  email_changed: 'user.email_changed',
  phone_change_requested: 'user.phone_change_requested',
  phone_changed: 'user.phone_changed',
} as const satisfies Record<SecurityAction['action'], `user.${string}`>;

export interface SecurityEvent {
  userId: string;
  /** Who did it: the user, or null for an administrator or the service role (whose address is not the user's). */
  actorId: string | null;
  ip?: string | null;
  requestId?: string | null;
  what: SecurityAction;
}

/** Appends a security event inside the transaction that made the change (the embedded engine's), or alone without one. */
export type SecurityEventRecorder = (event: SecurityEvent, tx?: Prisma.TransactionClient) => Promise<void>;
