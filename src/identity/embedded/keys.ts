import { createPrivateKey, type JsonWebKey, type KeyObject, randomUUID, sign } from 'node:crypto';
import { createLocalJWKSet, exportJWK, generateKeyPair, type JWK, type JWTPayload, jwtVerify } from 'jose';
import type { PrismaClient } from '../../generated/prisma/client.js';
import type { SecretBox } from './crypto.js';

const ALG = 'ES256';

interface LoadedKey {
  kid: string;
  status: string;
  publicJwk: JWK;
  /** The active key's private half, and its encoded JWS header. */
  signer?: { key: KeyObject; header: string };
}

const base64url = (value: string | Buffer) => Buffer.from(value).toString('base64url');

/**
 * A compact JWS (RFC 7515) with ES256: node's ECDSA over SHA-256 with the raw
 * r||s signature encoding JWS requires. Done with node:crypto directly, a
 * token costs a fifth of WebCrypto's asynchronous signing; verifiers (jose,
 * GoTrue clients) read it like any other.
 */
function signJws(signer: { key: KeyObject; header: string }, claims: JWTPayload): string {
  const input = `${signer.header}.${base64url(JSON.stringify(claims))}`;
  return `${input}.${sign('sha256', Buffer.from(input), { key: signer.key, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}

/**
 * The engine's ES256 signing keys: generated on first start, persisted (private
 * half sealed by the SecretBox), rotated on demand with the previous public key
 * kept in the JWKS so tokens it signed still verify.
 */
export function createKeyStore({ db, box }: { db: PrismaClient; box: SecretBox }) {
  let keys: LoadedKey[] = [];
  let loadedAt = 0;
  // One object per key set: verifiers cache their imported keys by its identity.
  let publicSet: { keys: JWK[] } = { keys: [] };

  async function load() {
    const rows = await db.authSigningKey.findMany({ where: { status: { in: ['active', 'previous'] } }, orderBy: { createdAt: 'desc' } });
    keys = rows.map((row) => ({
      kid: row.kid,
      status: row.status,
      publicJwk: row.publicJwk as JWK,
      signer:
        row.status === 'active'
          ? {
              key: createPrivateKey({ key: JSON.parse(box.open(row.privateJwk)) as JsonWebKey, format: 'jwk' }),
              header: base64url(JSON.stringify({ alg: ALG, kid: row.kid, typ: 'JWT' })),
            }
          : undefined,
    }));
    loadedAt = Date.now();
    publicSet = { keys: keys.map((k) => k.publicJwk) };
  }

  async function createKey(status: 'active') {
    const { publicKey, privateKey } = await generateKeyPair(ALG, { extractable: true });
    const kid = randomUUID();
    const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: ALG, use: 'sig', key_ops: ['verify'] };
    const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: ALG };
    return { kid, alg: ALG, status, publicJwk, privateJwk: box.seal(JSON.stringify(privateJwk)) };
  }

  const active = () => keys.find((k) => k.status === 'active');

  return {
    /** Creates the first key when there is none (idempotent across replicas: the oldest active key wins). */
    async init() {
      await load();
      if (!active()) {
        const key = await createKey('active');
        await db.$transaction(async (tx) => {
          await tx.$executeRaw`SELECT pg_advisory_xact_lock(7419052318225)`;
          if ((await tx.authSigningKey.count({ where: { status: 'active' } })) === 0) await tx.authSigningKey.create({ data: key });
        });
        await load();
      }
    },

    /** Makes a new key active; the old one stays in the JWKS as `previous` until retired. */
    async rotate() {
      const key = await createKey('active');
      await db.$transaction([
        db.authSigningKey.updateMany({ where: { status: 'previous' }, data: { status: 'retired' } }),
        db.authSigningKey.updateMany({ where: { status: 'active' }, data: { status: 'previous', rotatedAt: new Date() } }),
        db.authSigningKey.create({ data: key }),
      ]);
      await load();
      return key.kid;
    },

    /** The public keys; the same object until the keys change. */
    jwks(): { keys: JWK[] } {
      return publicSet;
    },

    async sign(claims: JWTPayload): Promise<string> {
      const key = active();
      if (!key?.signer) throw new Error('no active signing key');
      return signJws(key.signer, claims);
    },

    /** Reloads the keys when a token names a kid not seen here (another replica rotated), at most once a second. */
    async reloadForUnknownKid(): Promise<boolean> {
      if (Date.now() - loadedAt <= 1000) return false;
      await load();
      return true;
    },

    /** Verifies a token signed by one of the keys (reloading once if the kid is new). */
    async verify(token: string, options: { issuer?: string; audience?: string; clockToleranceSeconds?: number } = {}) {
      const attempt = () =>
        jwtVerify(token, createLocalJWKSet(this.jwks()), {
          algorithms: [ALG],
          issuer: options.issuer,
          audience: options.audience,
          clockTolerance: options.clockToleranceSeconds ?? 0,
        });
      try {
        return await attempt();
      } catch (error) {
        if ((error as { code?: string }).code === 'ERR_JWKS_NO_MATCHING_KEY' && (await this.reloadForUnknownKid())) return attempt();
        throw error;
      }
    },
  };
}

export type KeyStore = ReturnType<typeof createKeyStore>;
