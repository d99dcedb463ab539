import { randomUUID } from 'node:crypto';
import type { JWTPayload } from 'jose';
import { z } from 'zod';
import { type ApiKeyAuthenticator, generateApiKey, MAX_API_KEY_LIFETIME_MS } from '../auth/api-key.js';
import { AppError, assertThat } from '../errors.js';
import type { EventStore } from '../events/store.js';
import { type ApiKey, Prisma, type PrismaClient } from '../generated/prisma/client.js';
import { type AccessService, assertGrantable } from './access.js';
import { type Caller, eventMetadata, requireViewer } from './caller.js';
import { fields, parseInput } from './input.js';
import type { RateLimit } from './rate-limits.js';

/** Platform tokens live five minutes: a machine re-exchanges its key rather than carrying it on every call. */
export const PLATFORM_TOKEN_TTL_SECONDS = 300;
const PREFIX_ATTEMPTS = 3;

export interface ApiKeyServiceDeps {
  db: PrismaClient;
  events: EventStore;
  access: AccessService;
  clock: () => number;
  authenticator: ApiKeyAuthenticator;
  /** Signs platform tokens with the keys access tokens are verified with, as the app's issuer and audience. */
  /** Null when idgraph signs no tokens of its own (in front of GoTrue): exchangeApiKey is then refused. */
  platformTokens: { sign(claims: JWTPayload): Promise<string>; issuer: string; audience: string } | null;
  exchangePerIp: RateLimit;
}

const createInputSchema = (now: number) =>
  z.object({
    tenantId: fields.uuid,
    displayName: fields.displayName,
    scopes: z.array(fields.permission).min(1, 'must name at least one permission').max(100, 'must name at most 100 permissions'),
    expiresAt: z
      .date({ message: 'must be a date' })
      .nullish()
      .refine((at) => !at || at.getTime() > now, 'must be in the future')
      .refine((at) => !at || at.getTime() <= now + MAX_API_KEY_LIFETIME_MS, 'must be at most one year from now'),
  });
const listInputSchema = z.object({ tenantId: fields.uuid });
const revokeInputSchema = z.object({ apiKeyId: fields.uuid });
const exchangeInputSchema = z.object({ key: z.string().min(1, 'must not be empty').max(200, 'is not an API key') });

const isPrefixClash = (error: unknown) =>
  error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002' && JSON.stringify(error.meta ?? {}).includes('prefix');

/**
 * API keys: machine credentials bound to one tenant, acting for their owner
 * with at most the owner's current permissions there.
 */
export function createApiKeyService({ db, events, access, clock, authenticator, platformTokens, exchangePerIp }: ApiKeyServiceDeps) {
  return {
    /** A new key whose scopes the caller holds; the full key is returned once and never stored. */
    async createApiKey(
      input: { tenantId: string; displayName: string; scopes: string[]; expiresAt?: Date | null },
      caller: Caller,
    ): Promise<{ apiKey: ApiKey; key: string }> {
      const now = clock();
      const { tenantId, displayName, scopes, expiresAt } = parseInput(createInputSchema(now), input);
      const viewer = requireViewer(caller);
      assertThat(!viewer.apiKey, 'forbidden', 'API keys cannot create API keys.', { reason: 'api_key_caller' });
      const tenant = await access.tenantAccess(caller, tenantId, 'apikeys:manage');
      // A key acts through its owner's membership: a realm admin's key in a tenant they do not belong to could do nothing.
      assertThat(tenant.role, 'forbidden', 'API keys act as a member of their tenant: join it first.', { reason: 'not_a_member' });
      const requested = [...new Set(scopes)];
      // Nobody mints a key stronger than themselves; a key acts through its owner's role, so only that role's permissions count.
      assertGrantable({ held: tenant.rolePermissions, realmDefined: false }, requested, 'scopes');
      const expiry = expiresAt ?? new Date(now + MAX_API_KEY_LIFETIME_MS);
      for (let attempt = 1; ; attempt++) {
        const { prefix, key, secretHash } = generateApiKey();
        try {
          const apiKey = await db.$transaction(async (tx) => {
            const created = await tx.apiKey.create({
              data: { realmId: tenant.tenant.realmId, tenantId, ownerId: viewer.userId, displayName, prefix, secretHash, scopes: requested, expiresAt: expiry },
            });
            await events.appendEvent(tx, {
              aggregateType: 'api_key',
              aggregateId: created.id,
              type: 'apikey.created',
              realmId: tenant.tenant.realmId,
              tenantId,
              payload: { displayName, prefix, scopes: requested, expiresAt: expiry.toISOString(), ownerId: viewer.userId },
              metadata: eventMetadata(caller),
            });
            return created;
          });
          return { apiKey, key };
        } catch (error) {
          // 48 random bits rarely collide; when they do, draw again.
          if (attempt < PREFIX_ATTEMPTS && isPrefixClash(error)) continue;
          throw error;
        }
      }
    },

    /** The tenant's keys, newest first, revoked ones included (for audit). */
    async listApiKeys(input: { tenantId: string }, caller: Caller) {
      const { tenantId } = parseInput(listInputSchema, { tenantId: input.tenantId });
      await access.tenantAccess(caller, tenantId, 'apikeys:manage');
      return {
        page: <Q extends Omit<Prisma.ApiKeyFindManyArgs, 'where' | 'orderBy'>>(query: Q) =>
          db.apiKey.findMany({ ...query, where: { tenantId }, orderBy: [{ createdAt: 'desc' }, { id: 'desc' }] }),
        count: () => db.apiKey.count({ where: { tenantId } }),
      };
    },

    /** Revokes a key at once on this replica (and within the cache window on others). */
    async revokeApiKey(input: { apiKeyId: string }, caller: Caller): Promise<ApiKey> {
      const { apiKeyId } = parseInput(revokeInputSchema, input);
      requireViewer(caller);
      const found = await db.apiKey.findUnique({ where: { id: apiKeyId }, select: { tenantId: true } });
      assertThat(found, 'not_found', 'No such API key.');
      const tenant = await access.tenantAccess(caller, found.tenantId, 'apikeys:manage');
      const revoked = await db.$transaction(async (tx) => {
        const { count } = await tx.apiKey.updateMany({ where: { id: apiKeyId, revokedAt: null }, data: { revokedAt: new Date(clock()) } });
        assertThat(count === 1, 'conflict', 'The API key is already revoked.', { reason: 'already_revoked' });
        const apiKey = await tx.apiKey.findUniqueOrThrow({ where: { id: apiKeyId } });
        await events.appendEvent(tx, {
          aggregateType: 'api_key',
          aggregateId: apiKey.id,
          type: 'apikey.revoked',
          realmId: tenant.tenant.realmId,
          tenantId: apiKey.tenantId,
          payload: { displayName: apiKey.displayName, prefix: apiKey.prefix },
          metadata: eventMetadata(caller),
        });
        return apiKey;
      });
      authenticator.forget(revoked);
      return revoked;
    },

    /**
     * A short-lived platform token for a valid key (seed 002's dual-token flow):
     * the raw key is presented once, the token on each call. Limited per IP.
     */
    async exchangeApiKey(input: { key: string }, caller: Caller) {
      const wait = caller.meta.ip ? await exchangePerIp.consume(caller.meta.ip) : null;
      if (wait !== null) throw new AppError('rate_limited', undefined, { retryAfterSeconds: wait });
      const { key } = parseInput(exchangeInputSchema, input);
      if (!platformTokens) {
        throw new AppError('bad_request', 'Platform tokens need idgraph’s own signing keys; in front of GoTrue, send the key as Authorization: ApiKey.', {
          reason: 'platform_tokens_unavailable',
        });
      }
      const viewer = await authenticator.authenticate(key);
      const apiKey = viewer.apiKey!;
      const iat = Math.floor(clock() / 1000);
      const exp = Math.min(iat + PLATFORM_TOKEN_TTL_SECONDS, Math.floor(viewer.expiresAt.getTime() / 1000));
      const accessToken = await platformTokens.sign({
        iss: platformTokens.issuer,
        aud: platformTokens.audience,
        sub: viewer.userId,
        role: 'authenticated',
        api_key_id: apiKey.id,
        tenant_id: apiKey.tenantId,
        scp: [...apiKey.scopes],
        jti: randomUUID(),
        iat,
        exp,
      });
      return { accessToken, expiresIn: exp - iat, tokenType: 'bearer' as const };
    },
  };
}

export type ApiKeyService = ReturnType<typeof createApiKeyService>;
