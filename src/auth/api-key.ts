import { randomBytes } from 'node:crypto';
import { constantTimeEqual, randomUrlToken, sha256Hex } from '../crypto.js';
import { AppError } from '../errors.js';
import type { PrismaClient } from '../generated/prisma/client.js';
import { isUuid } from '../uuid.js';
import type { UserStatus } from './revocation.js';
import type { Viewer } from './viewer.js';

/**
 * How long a key's row (with its owner's status) may be reused from memory.
 * A revocation on this replica drops the entry at once; another replica on the
 * same database may accept a just-revoked key, or a just-suspended owner's key,
 * for at most this long (a status change on this replica clears the cache). The secret is compared on every request regardless,
 * and permissions are never cached (access reads them per request).
 */
export const API_KEY_CACHE_MS = 5_000;
/** last_used_at is written at most this often per key, from an in-memory map. */
export const LAST_USED_FLUSH_MS = 60_000;
const MAX_CACHED_KEYS = 10_000;
/** The longest lifetime of a key, and the default when createApiKey is given no expiry. */
export const MAX_API_KEY_LIFETIME_MS = 365 * 24 * 60 * 60 * 1000;

// idg_<prefix>.<secret>: 12 hex characters (stored, shown, looked up) and 32 random bytes, base64url.
const KEY_PATTERN = /^idg_([0-9a-f]{12})\.([A-Za-z0-9_-]{43})$/;
/** What is stored of a key, as generateApiKey makes it: the prefix, and the SHA-256 hex of the secret. */
export const storedKeyParts = { prefix: /^[0-9a-f]{12}$/, secretHash: /^[0-9a-f]{64}$/ } as const;
/** Text carrying a key, or most of one (a cut secret is still a secret): it has no place where keys are stored hashed. */
export const containsApiKey = (text: string) => /idg_[0-9a-f]{12}\.[A-Za-z0-9_-]{8,}/i.test(text);
// Compared against when no row matched, so an unknown prefix costs the same work as a wrong secret.
const NO_DIGEST = '0'.repeat(64);

/** A new key: the full value is shown once; only the SHA-256 hex of its secret is kept. */
export function generateApiKey() {
  const prefix = randomBytes(6).toString('hex');
  const secret = randomUrlToken();
  return { prefix, key: `idg_${prefix}.${secret}`, secretHash: sha256Hex(secret) };
}

/** The claims of a platform token minted by exchangeApiKey. */
export interface PlatformTokenClaims {
  sub: string;
  exp: number;
  jti?: string;
  api_key_id?: string;
  tenant_id?: string;
  scp?: string[];
}

interface KeyState {
  id: string;
  prefix: string;
  tenantId: string;
  ownerId: string;
  secretHash: string;
  scopes: string[];
  expiresAt: Date | null;
  revokedAt: Date | null;
  ownerStatus: UserStatus;
}

// One message for a malformed, unknown or wrong key: no oracle for which it was.
const invalidKey = () => new AppError('unauthenticated', 'The API key is invalid.');

export interface ApiKeyAuthenticatorOptions {
  db: PrismaClient;
  clock: () => number;
  cacheMs?: number;
  flushEveryMs?: number;
  /** A background flush of last_used_at failed (the uses are kept for the next one). */
  onFlushError?: (error: unknown) => void;
}

/**
 * Turns an API key (`Authorization: ApiKey <key>`) or a platform token minted
 * from one into a Viewer acting for the key's owner in the key's tenant, with
 * the key's scopes; access narrows them to the owner's current permissions.
 */
export function createApiKeyAuthenticator({
  db,
  clock,
  cacheMs = API_KEY_CACHE_MS,
  flushEveryMs = LAST_USED_FLUSH_MS,
  onFlushError,
}: ApiKeyAuthenticatorOptions) {
  const cache = new Map<string, { until: number; state: Promise<KeyState | null> }>();
  const uses = new Map<string, number>();
  let flushTimer: NodeJS.Timeout | undefined;

  function load(where: { prefix: string } | { id: string }): Promise<KeyState | null> {
    const cacheKey = 'prefix' in where ? `p:${where.prefix}` : `i:${where.id}`;
    const now = clock();
    const hit = cache.get(cacheKey);
    if (hit && hit.until > now) return hit.state;
    const state = db.apiKey
      .findUnique({
        where,
        select: {
          id: true,
          prefix: true,
          tenantId: true,
          ownerId: true,
          secretHash: true,
          scopes: true,
          expiresAt: true,
          revokedAt: true,
          owner: { select: { status: true } },
        },
      })
      .then((row) => row && { ...row, ownerStatus: row.owner.status as UserStatus });
    if (cacheMs <= 0) return state;
    // Concurrent requests for one key share the lookup. Unknown keys and failures are not kept.
    const entry = { until: now + cacheMs, state };
    const drop = () => cache.get(cacheKey) === entry && cache.delete(cacheKey);
    state.then((found) => found || drop(), drop);
    cache.delete(cacheKey);
    cache.set(cacheKey, entry);
    if (cache.size > MAX_CACHED_KEYS) cache.delete(cache.keys().next().value!);
    return state;
  }

  function recordUse(id: string, at: number) {
    uses.set(id, at);
    if (flushTimer) return;
    flushTimer = setTimeout(() => void flush().catch((error: unknown) => onFlushError?.(error)), flushEveryMs);
    flushTimer.unref();
  }

  /** Writes every pending last_used_at in one UPDATE. */
  async function flush() {
    clearTimeout(flushTimer);
    flushTimer = undefined;
    if (uses.size === 0) return;
    const batch = [...uses];
    uses.clear();
    try {
      await db.$executeRaw`
        UPDATE api_keys AS k SET last_used_at = u.used_at
        FROM unnest(${batch.map(([id]) => id)}::uuid[], ${batch.map(([, at]) => new Date(at).toISOString())}::timestamptz[]) AS u(id, used_at)
        WHERE k.id = u.id AND (k.last_used_at IS NULL OR k.last_used_at < u.used_at)`;
    } catch (error) {
      for (const [id, at] of batch) if (!uses.has(id)) uses.set(id, at);
      throw error;
    }
  }

  function viewerOf(state: KeyState, credential: { jti: string | null; expiresAt: Date | null }): Viewer {
    const now = clock();
    if (state.revokedAt) throw new AppError('unauthenticated', 'The API key has been revoked.', { reason: 'api_key_revoked' });
    if (state.expiresAt && state.expiresAt.getTime() <= now) {
      throw new AppError('unauthenticated', 'The API key has expired.', { reason: 'api_key_expired' });
    }
    if (state.ownerStatus === 'suspended') throw new AppError('account_suspended');
    if (state.ownerStatus === 'deactivated') throw new AppError('account_deactivated');
    recordUse(state.id, now);
    return {
      userId: state.ownerId,
      sessionId: null,
      jti: credential.jti,
      // A key without an expiry (only rows written outside createApiKey) reports the longest lifetime a key may have.
      expiresAt: credential.expiresAt ?? new Date(now + MAX_API_KEY_LIFETIME_MS),
      aal: 'aal1',
      mfaAt: null,
      tenantId: state.tenantId,
      tenantRole: null,
      serviceRole: false,
      apiKey: { id: state.id, tenantId: state.tenantId, scopes: state.scopes },
    };
  }

  return {
    /** The viewer a raw key stands for; unauthenticated (one message) unless it is well-formed, known and its secret matches. */
    async authenticate(presented: string): Promise<Viewer> {
      const match = KEY_PATTERN.exec(presented);
      const digest = sha256Hex(match?.[2] ?? presented);
      const state = match ? await load({ prefix: match[1]! }) : null;
      const matches = constantTimeEqual(digest, state?.secretHash ?? NO_DIGEST);
      if (!state || !matches) throw invalidKey();
      return viewerOf(state, { jti: null, expiresAt: state.expiresAt });
    },

    /** The viewer of a verified platform token: the key must still be valid (same cache window as raw keys). */
    async authenticateToken(claims: PlatformTokenClaims): Promise<Viewer> {
      const state = claims.api_key_id && isUuid(claims.api_key_id) ? await load({ id: claims.api_key_id }) : null;
      if (!state || state.ownerId !== claims.sub || state.tenantId !== claims.tenant_id) throw invalidKey();
      return viewerOf(state, { jti: claims.jti ?? null, expiresAt: new Date(claims.exp * 1000) });
    },

    /** Drops a key from this replica's cache (after revoking it). */
    forget(key: { id: string; prefix: string }) {
      cache.delete(`p:${key.prefix}`);
      cache.delete(`i:${key.id}`);
    },

    /** Drops every cached key: a user's status changed, and their keys must see it at once on this replica. */
    forgetAll() {
      cache.clear();
    },

    flushLastUsed: flush,

    /** Stops the timer and writes what is pending (app shutdown). */
    stop: flush,
  };
}

export type ApiKeyAuthenticator = ReturnType<typeof createApiKeyAuthenticator>;
