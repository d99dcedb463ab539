import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors,
  type JSONWebKeySet,
  type JWTVerifyGetKey,
  jwtVerify,
} from 'jose';
import { AppError, type ErrorCode } from '../errors.js';
import type { AccessTokenClaims } from '../identity/types.js';

export type KeySource =
  /** The embedded engine's keys, read in process; `reload` once when a kid is unknown (another replica rotated). */
  | { kind: 'local'; jwks: () => JSONWebKeySet; reload?: () => Promise<boolean> }
  /** A GoTrue JWKS URL, fetched and cached (with a cooldown after a miss). */
  | { kind: 'remote'; url: string; cacheMaxAgeMs?: number; cooldownMs?: number; timeoutMs?: number };

export interface TokenVerifierOptions {
  issuer: string | null;
  audience: string;
  /** Asymmetric algorithms accepted from the key source; anything else is wrong_algorithm. */
  algorithms: readonly string[];
  keys: KeySource;
  /** Legacy GoTrue projects sign with HS256 and a shared secret; only then is HS256 accepted. */
  hs256Secret?: string | null;
  leewaySeconds: number;
  clock: () => number;
}

const fail = (code: ErrorCode, cause?: unknown) => new AppError(code, undefined, {}, { cause });

/** Maps jose's failures onto the token-verification codes of the taxonomy. */
function classify(error: unknown): AppError {
  if (error instanceof AppError) return error;
  if (error instanceof errors.JWTExpired) return fail('expired', error);
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'iss') return fail('wrong_issuer', error);
    if (error.claim === 'aud') return fail('wrong_audience', error);
    // A missing or non-numeric nbf/iat is malformed; one in the future is not_yet_valid.
    if ((error.claim === 'nbf' || error.claim === 'iat') && error.reason === 'check_failed') return fail('not_yet_valid', error);
    return fail('malformed', error);
  }
  if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) return fail('unknown_kid', error);
  if (error instanceof errors.JWSSignatureVerificationFailed) return fail('bad_signature', error);
  if (error instanceof errors.JOSEAlgNotAllowed) return fail('wrong_algorithm', error);
  if (error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid) return fail('jwks_fetch_failed', error);
  if (error instanceof errors.JOSEError) return fail('malformed', error);
  // A failed JWKS fetch surfaces as a plain network error.
  return fail('jwks_fetch_failed', error);
}

/**
 * Verifies idgraph / GoTrue access tokens with jose: pinned algorithms and key
 * ids, issuer, audience, required sub, exp and iat, and one clock-skew leeway
 * (`leewaySeconds`) for exp, nbf and iat alike: a token issued further in the
 * future than that is not_yet_valid. Every failure is one taxonomy code. The
 * same verifier serves GraphQL and the embedded engine's /auth/v1 routes.
 */
export function createTokenVerifier(options: TokenVerifierOptions) {
  // Local keys: jose imports a key set once; a new set (after a rotation) is imported once again.
  const localSets = new WeakMap<JSONWebKeySet, JWTVerifyGetKey>();
  const localKey = (jwks: () => JSONWebKeySet): JWTVerifyGetKey => (header, token) => {
    const set = jwks();
    let getter = localSets.get(set);
    if (!getter) {
      getter = createLocalJWKSet(set);
      localSets.set(set, getter);
    }
    return getter(header, token);
  };
  const getKey: JWTVerifyGetKey =
    options.keys.kind === 'local'
      ? localKey(options.keys.jwks)
      : createRemoteJWKSet(new URL(options.keys.url), {
          cacheMaxAge: options.keys.cacheMaxAgeMs ?? 600_000,
          cooldownDuration: options.keys.cooldownMs ?? 30_000,
          timeoutDuration: options.keys.timeoutMs ?? 5000,
        });
  const secret = options.hs256Secret ? new TextEncoder().encode(options.hs256Secret) : null;

  return {
    async verify(token: string): Promise<AccessTokenClaims> {
      let alg: string | undefined;
      try {
        alg = decodeProtectedHeader(token).alg;
      } catch (error) {
        throw fail('malformed', error);
      }
      if (token.split('.').length !== 3) throw fail('malformed');
      const symmetric = alg === 'HS256' && secret !== null;
      if (!alg || (!symmetric && !options.algorithms.includes(alg))) throw fail('wrong_algorithm');
      try {
        const verifyOptions = {
          algorithms: symmetric ? ['HS256'] : [...options.algorithms],
          ...(options.issuer ? { issuer: options.issuer } : {}),
          audience: options.audience,
          clockTolerance: options.leewaySeconds,
          currentDate: new Date(options.clock()),
          requiredClaims: ['sub', 'exp', 'iat'],
        };
        const verifyWithKeys = async () => {
          try {
            return await jwtVerify(token, getKey, verifyOptions);
          } catch (error) {
            const reload = options.keys.kind === 'local' ? options.keys.reload : undefined;
            if (error instanceof errors.JWKSNoMatchingKey && reload && (await reload())) return jwtVerify(token, getKey, verifyOptions);
            throw error;
          }
        };
        const { payload } = symmetric ? await jwtVerify(token, secret, verifyOptions) : await verifyWithKeys();
        // jose checks iat only against a maximum age: a token from the future would otherwise pass.
        if ((payload.iat as number) > options.clock() / 1000 + options.leewaySeconds) throw fail('not_yet_valid');
        return payload as unknown as AccessTokenClaims;
      } catch (error) {
        throw classify(error);
      }
    },
  };
}

export type TokenVerifier = ReturnType<typeof createTokenVerifier>;
