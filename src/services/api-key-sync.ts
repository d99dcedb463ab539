import { z } from 'zod';
import { type ApiKeyAuthenticator, containsApiKey, MAX_API_KEY_LIFETIME_MS, storedKeyParts } from '../auth/api-key.js';
import { AppError, assertThat } from '../errors.js';
import type { EventMetadata, EventStore, Tx } from '../events/store.js';
import { type ApiKey, Prisma, type PrismaClient } from '../generated/prisma/client.js';
import { type AccessService, assertGrantable } from './access.js';
import { fields, parseInput } from './input.js';

export const SYNC_ACTIONS = ['create', 'update', 'rotate', 'revoke'] as const;
export type SyncAction = (typeof SYNC_ACTIONS)[number];
/** The most keys one backfill call takes: a bigger backlog goes in several calls, each answered in bounded time. */
export const MAX_BACKFILL_KEYS = 500;

const KEY_FIELDS = ['action', 'id', 'user_id', 'tenant_id', 'organization_id', 'name', 'key_prefix', 'key_hash', 'scopes', 'expires_at'];
// An unknown field by such a name can only be the key (or its secret) itself.
const secretFieldName = /key|secret|token|plain|raw/i;

const keyShapes = (now: number) => ({
  id: fields.uuid,
  user_id: fields.uuid,
  tenant_id: fields.uuid,
  name: fields.displayName,
  key_prefix: z.string().regex(storedKeyParts.prefix, 'must be the 12 lowercase hex characters between idg_ and the dot'),
  key_hash: z.string().regex(storedKeyParts.secretHash, 'must be the lowercase hex SHA-256 of the secret (the part after the dot), never the key'),
  scopes: z.array(fields.permission).min(1, 'must name at least one permission').max(100, 'must name at most 100 permissions'),
  // An expiry in the past is kept (a historical key that no longer authenticates); the upper bound is createApiKey's.
  expires_at: z.iso
    .datetime({ offset: true, message: 'must be an ISO 8601 date-time' })
    .transform((at) => new Date(at))
    .refine((at) => at.getTime() <= now + MAX_API_KEY_LIFETIME_MS, 'must be at most one year from now'),
});

const upsertSchema = (now: number) => z.object({ action: z.enum(['create', 'update', 'rotate']), ...keyShapes(now) });
// A revocation names the key and its tenant; the other fields may come along (checked, not written).
const revokeSchema = (now: number) => {
  const { id, tenant_id, ...rest } = keyShapes(now);
  return z.object({ action: z.literal('revoke'), id, tenant_id }).extend(z.object(rest).partial().shape);
};
const actionSchema = z.object({ action: z.enum(SYNC_ACTIONS, { message: 'must be create, update, rotate or revoke' }) });

type UpsertInput = z.output<ReturnType<typeof upsertSchema>>;
type RevokeInput = z.output<ReturnType<typeof revokeSchema>>;

const bad = (field: string, message: string, reason?: string) => new AppError('bad_request', `${field}: ${message}`, { field, ...(reason ? { reason } : {}) });

/**
 * The first look at a payload, before any field is parsed: an object, no field
 * idgraph does not know, and no API key anywhere in it, whatever the field.
 * organization_id is read as tenant_id.
 */
function screen(payload: unknown): Record<string, unknown> {
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) throw bad('input', 'must be a JSON object');
  const body = payload as Record<string, unknown>;
  for (const [name, value] of Object.entries(body)) {
    if (!KEY_FIELDS.includes(name)) {
      throw secretFieldName.test(name)
        ? bad(name, 'keys are synced as key_prefix and key_hash, never the key itself', 'raw_key_refused')
        : bad(name, 'is not a field of an API key sync', 'unknown_field');
    }
    if (containsApiKey(JSON.stringify(value) ?? '')) throw bad(name, 'must not carry an API key: send key_prefix and key_hash', 'raw_key_refused');
  }
  if (body.organization_id === undefined) return body;
  if (body.tenant_id !== undefined && body.tenant_id !== body.organization_id) throw bad('organization_id', 'must equal tenant_id when both are given');
  const { organization_id, ...rest } = body;
  return { ...rest, tenant_id: organization_id };
}

export interface ApiKeySyncResult {
  apiKeyId: string;
  action: SyncAction;
  /** False when the key already was as the payload says: nothing written, no event. */
  changed: boolean;
  eventType: 'apikey.synced' | 'apikey.revoked' | null;
}

export type BackfillItem = ({ index: number } & ApiKeySyncResult) | { index: number; apiKeyId: string | null; error: AppError };

export interface ApiKeySyncDeps {
  db: PrismaClient;
  events: EventStore;
  access: AccessService;
  clock: () => number;
  authenticator: ApiKeyAuthenticator;
}

const isUniqueViolation = (error: unknown) => error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002';
const prefixTaken = () => new AppError('conflict', 'key_prefix: another API key has this prefix.', { field: 'key_prefix', reason: 'prefix_taken' });
const sameScopes = (a: readonly string[], b: readonly string[]) => [...a].sort().join(' ') === [...b].sort().join(' ');

/**
 * API keys issued by another system (a Supabase edge function, say) and kept
 * in step here, hash only. A synced key authenticates exactly like one made by
 * createApiKey, so it obeys the same rules: its owner is a member of its
 * tenant and its scopes are within the owner's role there. Deliveries may
 * repeat: a payload that changes nothing writes nothing and appends no event.
 */
export function createApiKeySync({ db, events, access, clock, authenticator }: ApiKeySyncDeps) {
  const metadataOf = (meta: { requestId?: string | null }): EventMetadata => ({ actorId: null, requestId: meta.requestId ?? null, source: 'sync' });

  /** The owner's standing in the tenant, or why there is none (unknown tenant, unknown user, not a member). */
  async function ownerStanding(userId: string, tenantId: string) {
    const standing = await access.memberStanding(userId, tenantId);
    if (standing) return standing;
    const tenant = await db.tenant.findFirst({ where: { id: tenantId, deletedAt: null }, select: { id: true } });
    assertThat(tenant, 'not_found', 'tenant_id: no such tenant.', { field: 'tenant_id', reason: 'unknown_tenant' });
    const user = await db.user.findUnique({ where: { id: userId }, select: { id: true } });
    assertThat(user, 'not_found', 'user_id: no such user; sync the user first (POST /v1/sync/user).', { field: 'user_id', reason: 'unknown_user' });
    throw new AppError('forbidden', 'user_id: the owner is not a member of the tenant.', { field: 'user_id', reason: 'not_a_member' });
  }

  function syncedEvent(tx: Tx, key: ApiKey, action: SyncAction, how: { created: boolean; rotated: boolean }, meta: { requestId?: string | null }) {
    return events.appendEvent(tx, {
      aggregateType: 'api_key',
      aggregateId: key.id,
      type: 'apikey.synced',
      realmId: key.realmId,
      tenantId: key.tenantId,
      payload: {
        action,
        ...how,
        displayName: key.displayName,
        prefix: key.prefix,
        scopes: key.scopes,
        expiresAt: key.expiresAt?.toISOString() ?? null,
        ownerId: key.ownerId,
      },
      metadata: metadataOf(meta),
    });
  }

  async function upsert(input: UpsertInput, meta: { requestId?: string | null }): Promise<ApiKeySyncResult> {
    const { action, id, user_id: ownerId, tenant_id: tenantId } = input;
    const standing = await ownerStanding(ownerId, tenantId);
    const scopes = [...new Set(input.scopes)].sort();
    // A key acts through its owner's role: the sync may not hand out more than that role grants.
    assertGrantable({ held: standing.rolePermissions, realmDefined: false }, scopes, 'scopes');
    const wanted = { displayName: input.name, prefix: input.key_prefix, secretHash: input.key_hash, scopes, expiresAt: input.expires_at };
    const unchanged: ApiKeySyncResult = { apiKeyId: id, action, changed: false, eventType: null };
    const synced: ApiKeySyncResult = { ...unchanged, changed: true, eventType: 'apikey.synced' };
    try {
      const { result, replaced } = await db.$transaction(async (tx): Promise<{ result: ApiKeySyncResult; replaced?: ApiKey }> => {
        const { count } = await tx.apiKey.createMany({ data: [{ id, realmId: standing.tenant.realmId, tenantId, ownerId, ...wanted }], skipDuplicates: true });
        if (count === 1) {
          await syncedEvent(tx, await tx.apiKey.findUniqueOrThrow({ where: { id } }), action, { created: true, rotated: false }, meta);
          return { result: synced };
        }
        // Nothing inserted: the key exists (locked here, so a concurrent delivery of the same payload waits and then finds nothing to do), or another key has the prefix.
        const [locked] = await tx.$queryRaw<{ id: string }[]>`SELECT id::text FROM api_keys WHERE id = ${id}::uuid FOR UPDATE`;
        if (!locked) throw prefixTaken();
        const current = await tx.apiKey.findUniqueOrThrow({ where: { id } });
        assertThat(current.tenantId === tenantId && current.ownerId === ownerId, 'conflict', 'id: this API key belongs to another tenant or owner; a key never moves.', {
          field: 'id',
          reason: 'key_moved',
        });
        assertThat(!current.revokedAt, 'conflict', 'id: the API key is revoked, and stays revoked.', { field: 'id', reason: 'already_revoked' });
        const rotated = current.prefix !== wanted.prefix || current.secretHash !== wanted.secretHash;
        // Only an explicit rotation changes the secret, so a late replay of an older create or update cannot bring back a rotated-out one.
        assertThat(!rotated || action === 'rotate', 'conflict', 'key_hash: differs from the stored one; a new secret is synced with action rotate.', {
          field: 'key_hash',
          reason: 'credential_mismatch',
        });
        const same =
          !rotated &&
          current.displayName === wanted.displayName &&
          sameScopes(current.scopes, wanted.scopes) &&
          current.expiresAt?.getTime() === wanted.expiresAt.getTime();
        if (same) return { result: unchanged };
        const updated = await tx.apiKey.update({ where: { id, tenantId }, data: wanted });
        await syncedEvent(tx, updated, action, { created: false, rotated }, meta);
        return { result: synced, replaced: current };
      });
      // This replica forgets the old state at once (the old prefix after a rotation); others within the cache window.
      if (replaced) authenticator.forget(replaced);
      return result;
    } catch (error) {
      // A prefix taken by a key written concurrently, or rotated onto another key's prefix.
      if (isUniqueViolation(error)) throw prefixTaken();
      throw error;
    }
  }

  async function revoke(input: RevokeInput, meta: { requestId?: string | null }): Promise<ApiKeySyncResult> {
    const { id, tenant_id: tenantId } = input;
    const outcome = await db.$transaction(async (tx) => {
      const { count } = await tx.apiKey.updateMany({ where: { id, tenantId, revokedAt: null }, data: { revokedAt: new Date(clock()) } });
      const key = await tx.apiKey.findFirst({ where: { id, tenantId } });
      assertThat(key, 'not_found', 'id: no such API key in this tenant.', { field: 'id', reason: 'unknown_api_key' });
      if (count === 0) return { key, changed: false };
      await events.appendEvent(tx, {
        aggregateType: 'api_key',
        aggregateId: key.id,
        type: 'apikey.revoked',
        realmId: key.realmId,
        tenantId: key.tenantId,
        payload: { displayName: key.displayName, prefix: key.prefix },
        metadata: metadataOf(meta),
      });
      return { key, changed: true };
    });
    authenticator.forget(outcome.key);
    return { apiKeyId: id, action: 'revoke', changed: outcome.changed, eventType: outcome.changed ? 'apikey.revoked' : null };
  }

  /** One key's create, update, rotate or revoke. */
  async function sync(payload: unknown, meta: { requestId?: string | null }): Promise<ApiKeySyncResult> {
    const body = screen(payload);
    const now = clock();
    const { action } = parseInput(actionSchema, body);
    return action === 'revoke' ? revoke(parseInput(revokeSchema(now), body), meta) : upsert(parseInput(upsertSchema(now), body), meta);
  }

  return {
    sync,

    /**
     * Many keys, each synced on its own (its own transaction), so one bad key
     * neither blocks the others nor hides them: the answer lists each key's
     * outcome, in order, and the counts.
     */
    async backfill(payload: unknown, meta: { requestId?: string | null }) {
      const body = payload as Record<string, unknown>;
      for (const name of Object.keys(body)) if (name !== 'keys') throw bad(name, 'is not a field of a backfill (send {"keys": [...]})', 'unknown_field');
      const keys = body.keys;
      if (!Array.isArray(keys)) throw bad('keys', 'must be an array of API key syncs');
      if (keys.length === 0) throw bad('keys', 'must hold at least one key');
      assertThat(keys.length <= MAX_BACKFILL_KEYS, 'payload_too_large', `keys: at most ${MAX_BACKFILL_KEYS} per call; send the rest in another call.`, {
        field: 'keys',
        reason: 'too_many_keys',
        max: MAX_BACKFILL_KEYS,
      });
      const results: BackfillItem[] = [];
      for (const [index, item] of keys.entries()) {
        try {
          results.push({ index, ...(await sync(item, meta)) });
        } catch (error) {
          // Anything but a refusal of this key (the database gone, say) fails the call; the keys before it stay synced, and a retry is harmless.
          if (!(error instanceof AppError)) throw error;
          const id = (item as { id?: unknown } | null)?.id;
          results.push({ index, apiKeyId: typeof id === 'string' && fields.uuid.safeParse(id).success ? id : null, error });
        }
      }
      const failed = results.filter((r) => 'error' in r).length;
      const changed = results.filter((r) => 'changed' in r && r.changed).length;
      return { total: keys.length, changed, unchanged: keys.length - failed - changed, failed, results };
    },
  };
}

export type ApiKeySync = ReturnType<typeof createApiKeySync>;
