import type { AuthConfig } from '../config.js';
import { canonicalEmail, canonicalPhone } from '../identifiers.js';
import { createRateLimit, type RateLimit, type RateLimitStore } from './rate-limits.js';

/**
 * The counters an attempt is charged to, each a 5-minute window. The per-IP ones
 * are GoTrue's groups (AUTH_RATE_LIMIT_OTP, _VERIFY, _TOKEN) plus one for every
 * credential operation (AUTH_RATE_LIMIT_CREDENTIALS_PER_IP); `perIdentifier`
 * (AUTH_RATE_LIMIT_CREDENTIALS_PER_IDENTIFIER) counts once under each email,
 * phone, factor and user the attempt is about, so spreading attempts over many
 * IPs does not buy more guesses at one account.
 */
type Counter = 'otpPerIp' | 'verifyPerIp' | 'tokenPerIp' | 'credentialsPerIp' | 'perIdentifier';

/**
 * What each authentication action costs, whatever the surface: GraphQL over HTTP
 * or graphql-ws (services/auth.ts, once per executed field, so aliases each count)
 * and /auth/v1 (server/auth-routes.ts). One table, so no surface is a cheaper way
 * to the same thing.
 */
export const authRateLimitPolicy = {
  signUp: ['otpPerIp', 'credentialsPerIp', 'perIdentifier'],
  /** The password grant. */
  signIn: ['tokenPerIp', 'credentialsPerIp', 'perIdentifier'],
  /** The id_token grant, also when it links an identity. */
  idToken: ['tokenPerIp', 'credentialsPerIp'],
  /** The refresh_token and pkce grants, and switching tenant (a refresh). */
  refresh: ['tokenPerIp'],
  /** A code or magic link (/otp, /magiclink). */
  sendOtp: ['otpPerIp', 'credentialsPerIp', 'perIdentifier'],
  /** A typed code or a link's token (POST and GET /verify). */
  verifyOtp: ['verifyPerIp', 'credentialsPerIp', 'perIdentifier'],
  recover: ['otpPerIp', 'credentialsPerIp', 'perIdentifier'],
  resend: ['otpPerIp', 'credentialsPerIp', 'perIdentifier'],
  /** Per identifier only when it tries a reauthentication nonce (a code guess), keyed on the user. */
  updateUser: ['otpPerIp', 'perIdentifier'],
  /** Sends a code to the user. */
  reauthenticate: ['otpPerIp', 'perIdentifier'],
  /** May send an SMS; keyed on the factor and its user. */
  challengeFactor: ['otpPerIp', 'perIdentifier'],
  /** A TOTP or SMS code guess; keyed on the factor and its user. */
  verifyFactor: ['verifyPerIp', 'credentialsPerIp', 'perIdentifier'],
} as const satisfies Record<string, readonly Counter[]>;

export type AuthAction = keyof typeof authRateLimitPolicy;

/** What an attempt is about. Factor and user ids must already be canonical (canonicalUuid). */
export interface AttemptSubject {
  email?: string | null;
  phone?: string | null;
  factorId?: string | null;
  userId?: string | null;
}

/** The per-identifier keys: the same canonical spelling the account lookup uses, so no variant opens a fresh bucket. */
function identifierKeys(subject: AttemptSubject): string[] {
  return [
    subject.email ? canonicalEmail(subject.email) : null,
    subject.phone ? canonicalPhone(subject.phone) : null,
    subject.factorId ? `factor:${subject.factorId}` : null,
    subject.userId ? `user:${subject.userId}` : null,
  ].filter((key): key is string => Boolean(key));
}

export function createAuthRateLimits(store: RateLimitStore, config: AuthConfig['rateLimits']) {
  const limit = (name: string, points: number) => createRateLimit(store, { name, points, durationSeconds: 300 });
  // The stored names predate GraphQL and /auth/v1 sharing them; kept so counts survive an upgrade.
  const counters: Record<Counter, RateLimit> = {
    otpPerIp: limit('auth_otp', config.otpPer5Min),
    verifyPerIp: limit('auth_verify', config.verifyPer5Min),
    tokenPerIp: limit('auth_token', config.tokenPer5Min),
    credentialsPerIp: limit('gql_credentials_ip', config.credentialsPerIpPer5Min),
    perIdentifier: limit('gql_credentials_id', config.credentialsPerIdentifierPer5Min),
  };
  const longestWait = (waits: Array<number | null>) => {
    const over = waits.filter((wait): wait is number => wait !== null);
    return over.length > 0 ? Math.max(...over) : null;
  };

  const perIp = async (action: AuthAction, ip: string | null) => {
    if (!ip) return null;
    const ipCounters = authRateLimitPolicy[action].filter((counter) => counter !== 'perIdentifier');
    return longestWait(await Promise.all(ipCounters.map((counter) => counters[counter].consume(ip))));
  };

  const perIdentifier = async (action: AuthAction, subject: AttemptSubject) => {
    if (!(authRateLimitPolicy[action] as readonly Counter[]).includes('perIdentifier')) return null;
    return longestWait(await Promise.all(identifierKeys(subject).map((key) => counters.perIdentifier.consume(key))));
  };

  return {
    /**
     * Counts one attempt of `action` from `ip` on the action's per-IP counters;
     * resolves with the seconds to wait when one of them is over its limit, or null.
     */
    perIp,
    /** The same for the action's per-identifier counter, once under each identifier of `subject`. */
    perIdentifier,
    /** Both at once: every counter is charged even when one is already over. */
    async attempt(action: AuthAction, ip: string | null, subject: AttemptSubject): Promise<number | null> {
      return longestWait(await Promise.all([perIp(action, ip), perIdentifier(action, subject)]));
    },
  };
}

export type AuthRateLimits = ReturnType<typeof createAuthRateLimits>;
