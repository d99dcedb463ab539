import { Prisma } from '../../generated/prisma/client.js';
import type { RetentionRule } from '../../services/cleanup.js';

const DAY_MS = 86_400_000;
const ago = (now: Date, ms: number) => new Date(now.getTime() - ms);

/**
 * The engine's rows that outlived their use, with GoTrue's retention: rotated
 * refresh tokens a day after their rotation, sessions three days after their
 * time box ended (their tokens go with them), PKCE flow states, MFA challenges
 * and never-verified factors after a day. One-time tokens (OTPs and link tokens)
 * go a day after they were sent: no OTP lives longer (AUTH_OTP_EXP and
 * AUTH_SMS_OTP_EXP are at most 86400 s).
 */
export const engineRetentionRules: readonly RetentionRule[] = [
  {
    name: 'auth_refresh_tokens',
    table: 'auth_refresh_tokens',
    key: 'id',
    expired: (now) => Prisma.sql`revoked AND updated_at < ${ago(now, DAY_MS)}`,
  },
  { name: 'auth_sessions', table: 'auth_sessions', key: 'id', expired: (now) => Prisma.sql`not_after < ${ago(now, 3 * DAY_MS)}` },
  { name: 'auth_flow_states', table: 'auth_flow_states', key: 'id', expired: (now) => Prisma.sql`created_at < ${ago(now, DAY_MS)}` },
  { name: 'auth_one_time_tokens', table: 'auth_one_time_tokens', key: 'id', expired: (now) => Prisma.sql`created_at < ${ago(now, DAY_MS)}` },
  { name: 'auth_mfa_challenges', table: 'auth_mfa_challenges', key: 'id', expired: (now) => Prisma.sql`created_at < ${ago(now, DAY_MS)}` },
  {
    name: 'auth_mfa_factors (unverified)',
    table: 'auth_mfa_factors',
    key: 'id',
    expired: (now) => Prisma.sql`status = 'unverified' AND created_at < ${ago(now, DAY_MS)}`,
  },
];
