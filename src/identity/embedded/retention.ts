import type { RetentionRule } from '../../services/cleanup.js';

const DAY_MS = 86_400_000;
const ago = (now: Date, ms: number) => new Date(now.getTime() - ms);

/**
 * The engine's rows that outlived their use, with GoTrue's retention: rotated
 * refresh tokens a day after their rotation, sessions three days after their
 * time box ended (their tokens go with them), PKCE flow states, MFA challenges
 * and never-verified factors after a day.
 */
export const engineRetentionRules: readonly RetentionRule[] = [
  {
    name: 'auth_refresh_tokens',
    removeBatch: (db, now, limit) => db.$executeRaw`
      DELETE FROM auth_refresh_tokens WHERE id IN (
        SELECT id FROM auth_refresh_tokens WHERE revoked AND updated_at < ${ago(now, DAY_MS)} LIMIT ${limit} FOR UPDATE SKIP LOCKED)`,
  },
  {
    name: 'auth_sessions',
    removeBatch: (db, now, limit) => db.$executeRaw`
      DELETE FROM auth_sessions WHERE id IN (
        SELECT id FROM auth_sessions WHERE not_after < ${ago(now, 3 * DAY_MS)} LIMIT ${limit} FOR UPDATE SKIP LOCKED)`,
  },
  {
    name: 'auth_flow_states',
    removeBatch: (db, now, limit) => db.$executeRaw`
      DELETE FROM auth_flow_states WHERE id IN (
        SELECT id FROM auth_flow_states WHERE created_at < ${ago(now, DAY_MS)} LIMIT ${limit} FOR UPDATE SKIP LOCKED)`,
  },
  {
    name: 'auth_mfa_challenges',
    removeBatch: (db, now, limit) => db.$executeRaw`
      DELETE FROM auth_mfa_challenges WHERE id IN (
        SELECT id FROM auth_mfa_challenges WHERE created_at < ${ago(now, DAY_MS)} LIMIT ${limit} FOR UPDATE SKIP LOCKED)`,
  },
  {
    name: 'auth_mfa_factors (unverified)',
    removeBatch: (db, now, limit) => db.$executeRaw`
      DELETE FROM auth_mfa_factors WHERE id IN (
        SELECT id FROM auth_mfa_factors WHERE status = 'unverified' AND created_at < ${ago(now, DAY_MS)} LIMIT ${limit} FOR UPDATE SKIP LOCKED)`,
  },
];
