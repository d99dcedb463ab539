import { z } from 'zod';
import type { WebhookConfig } from '../config.js';
import { AppError, assertThat } from '../errors.js';
import type { EventStore, Tx } from '../events/store.js';
import { OUTBOX_CHANNEL } from '../events/outbox.js';
import { newWebhookSecret, WEBHOOK_DESTINATION_PREFIX, webhookDestination, webhookOrigin } from '../events/webhooks.js';
import { isPublicAddress, resolveWebhookHost, type ResolveHost } from '../events/webhook-network.js';
import type { Prisma, PrismaClient, WebhookEndpoint } from '../generated/prisma/client.js';
import type { SecretBox } from '../identity/embedded/crypto.js';
import type { AccessService } from './access.js';
import { type Caller, eventMetadata, requireViewer } from './caller.js';
import { fields, parseInput } from './input.js';
import { lockFor } from './locks.js';
import type { RealmService } from './realms.js';

export interface WebhookServiceDeps {
  db: PrismaClient;
  events: EventStore;
  access: AccessService;
  realms: RealmService;
  config: WebhookConfig;
  /** Seals the signing secrets at rest (AUTH_KEY_ENCRYPTION_KEY). */
  secrets: SecretBox;
  resolveHost: ResolveHost;
}

export const WEBHOOK_PERMISSION = 'webhooks:manage';

/** The families of events idgraph appends: an endpoint subscribes to types of these, or to `<family>.*`. */
export const eventFamilies = ['realm', 'tenant', 'member', 'role', 'invitation', 'apikey', 'domain', 'origin', 'otp', 'user', 'webhook', 'outbox'] as const;

const MAX_URL_LENGTH = 2048;
const MAX_EVENT_TYPES = 50;
/** Each event is queued once per endpoint that takes it: the count per tenant (and realm-wide) bounds that fan-out. */
export const MAX_ENDPOINTS_PER_OWNER = 20;

const eventTypePattern = new RegExp(`^(${eventFamilies.join('|')})\\.([a-z][a-z0-9_]{0,63}|\\*)$`);

const eventTypes = z
  .array(z.string().trim().regex(eventTypePattern, `must be event types such as tenant.created, or a family such as user.* (families: ${eventFamilies.join(', ')})`))
  .max(MAX_EVENT_TYPES, `must list at most ${MAX_EVENT_TYPES} event types`)
  .transform((types) => [...new Set(types)].sort());

/** A URL idgraph may POST to, normalised: https (http only where private networks are allowed), no credentials or fragment. */
function webhookUrl(value: string, { allowPrivateNetworks }: { allowPrivateNetworks: boolean }): string {
  const refuse = (message: string, reason: string) => new AppError('bad_request', `url: ${message}`, { field: 'url', reason });
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw refuse('must be an absolute URL such as https://hooks.example.com/idgraph', 'invalid_url');
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && allowPrivateNetworks)) throw refuse('must use https', 'url_not_https');
  if (url.username || url.password) throw refuse('must not carry credentials (user:password@)', 'url_has_credentials');
  if (url.hash) throw refuse('must not have a fragment', 'invalid_url');
  if (!url.hostname) throw refuse('must name a host', 'invalid_url');
  // Normalising can lengthen it (percent-encoding, punycode).
  if (url.href.length > MAX_URL_LENGTH) throw refuse(`must be at most ${MAX_URL_LENGTH} characters`, 'url_too_long');
  return url.href;
}

const endpointId = z.object({ endpointId: fields.uuid });
const replayInput = z.object({ deliveryId: fields.uuid });
const listInput = z.object({ tenantId: fields.uuid.nullish() });

/**
 * Webhook endpoints: where a tenant's (or, for realm admins, the whole realm's) events are POSTed, signed per
 * Standard Webhooks. The signing secret is shown once, at creation and at each rotation, and kept encrypted.
 * Who may manage them: webhooks:manage in the endpoint's tenant; realm admins for realm-wide endpoints.
 */
export function createWebhookService({ db, events, access, realms, config, secrets, resolveHost }: WebhookServiceDeps) {
  const url = fields.text(MAX_URL_LENGTH).transform((value) => webhookUrl(value, config));
  const createInput = z.object({ tenantId: fields.uuid.nullish(), url, eventTypes: eventTypes.nullish() });
  const updateInput = z.object({ endpointId: fields.uuid, url: url.nullish(), eventTypes: eventTypes.nullish(), enabled: z.boolean().nullish() });

  /** Refuses a host that resolves to an address deliveries may not connect to (checked again at each connection). */
  async function assertDeliverable(href: string) {
    if (config.allowPrivateNetworks) return;
    const { hostname } = new URL(href);
    let resolved: Awaited<ReturnType<typeof resolveWebhookHost>>;
    try {
      resolved = await resolveWebhookHost(hostname, { resolveHost, allowPrivateNetworks: false });
    } catch (error) {
      if (['ENOTFOUND', 'ENODATA'].includes((error as NodeJS.ErrnoException).code ?? '')) {
        throw new AppError('bad_request', 'url: its host name does not resolve.', { field: 'url', reason: 'url_host_not_found' });
      }
      throw new AppError('upstream_unavailable', 'The URL’s host name could not be resolved; try again later.', { reason: 'dns_failed' }, { cause: error });
    }
    const refused = resolved.addresses.filter((a) => !isPublicAddress(a.address));
    assertThat(
      resolved.addresses.length > 0 && refused.length === 0,
      'bad_request',
      'url: it points at a loopback, private, link-local or otherwise non-public address.',
      { field: 'url', reason: 'url_not_public' },
    );
  }

  /** The realm (and tenant) an endpoint of `tenantId` belongs to, once the caller may manage it. */
  async function authorize(caller: Caller, tenantId: string | null) {
    if (tenantId) {
      const { tenant } = await access.tenantAccess(caller, tenantId, WEBHOOK_PERMISSION);
      return { realmId: tenant.realmId, tenantId };
    }
    const realmId = await realms.defaultRealmId();
    await access.requireRealmAdmin(caller, realmId);
    return { realmId, tenantId: null };
  }

  /** An endpoint the caller may manage; not_found for one of a tenant they may not see (no hint that it exists). */
  async function manageable(caller: Caller, id: string, missing = 'No such webhook endpoint.'): Promise<WebhookEndpoint> {
    requireViewer(caller);
    const endpoint = await db.webhookEndpoint.findUnique({ where: { id } });
    const allowed =
      endpoint &&
      (await authorize(caller, endpoint.tenantId).catch((error: unknown) => {
        if (error instanceof AppError && error.code === 'not_found') return null;
        throw error;
      }));
    if (!endpoint || !allowed) throw new AppError('not_found', missing);
    return endpoint;
  }

  const record = (tx: Tx, endpoint: WebhookEndpoint, type: string, caller: Caller, payload: Record<string, unknown> = {}) =>
    events.appendEvent(tx, {
      aggregateType: 'webhook_endpoint',
      aggregateId: endpoint.id,
      type,
      realmId: endpoint.realmId,
      tenantId: endpoint.tenantId,
      // The origin only: a receiver's URL may carry a token in its path or query.
      payload: { origin: webhookOrigin(endpoint.url), eventTypes: endpoint.eventTypes, enabled: endpoint.enabled, ...payload },
      metadata: eventMetadata(caller),
    });

  return {
    /** A new endpoint and its signing secret, shown this once. */
    async createEndpoint(input: z.input<typeof createInput>, caller: Caller): Promise<{ endpoint: WebhookEndpoint; secret: string }> {
      const parsed = parseInput(createInput, input);
      const { realmId, tenantId } = await authorize(caller, parsed.tenantId ?? null);
      await assertDeliverable(parsed.url);
      const secret = newWebhookSecret();
      const endpoint = await db.$transaction(async (tx) => {
        // Creations for one tenant (or the realm) take turns, so concurrent ones cannot pass the cap together.
        await lockFor(tx, `webhook-endpoints:${realmId}:${tenantId ?? 'realm'}`);
        const existing = await tx.webhookEndpoint.count({ where: { realmId, tenantId } });
        assertThat(existing < MAX_ENDPOINTS_PER_OWNER, 'conflict', `At most ${MAX_ENDPOINTS_PER_OWNER} webhook endpoints per tenant (and realm-wide).`, {
          reason: 'too_many_endpoints',
        });
        const created = await tx.webhookEndpoint.create({
          data: { realmId, tenantId, url: parsed.url, eventTypes: parsed.eventTypes ?? [], secret: secrets.seal(secret), createdById: caller.viewer?.userId ?? null },
        });
        await record(tx, created, 'webhook.created', caller);
        return created;
      });
      return { endpoint, secret };
    },

    /** The endpoints of a tenant, or (realm admins, no tenantId) the realm-wide ones, oldest first. */
    async listEndpoints(input: z.input<typeof listInput>, caller: Caller) {
      const { tenantId } = parseInput(listInput, input);
      const scope = await authorize(caller, tenantId ?? null);
      const where = { realmId: scope.realmId, tenantId: scope.tenantId };
      return {
        page: <Q extends Omit<Prisma.WebhookEndpointFindManyArgs, 'where' | 'orderBy'>>(query: Q) =>
          db.webhookEndpoint.findMany({ ...query, where, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] }),
        count: () => db.webhookEndpoint.count({ where }),
      };
    },

    /** Changes the URL, the event types or whether it is enabled; enabling it again clears why it was disabled. */
    async updateEndpoint(input: z.input<typeof updateInput>, caller: Caller): Promise<WebhookEndpoint> {
      const parsed = parseInput(updateInput, input);
      const endpoint = await manageable(caller, parsed.endpointId);
      const data: Prisma.WebhookEndpointUpdateManyMutationInput = {};
      if (parsed.url != null && parsed.url !== endpoint.url) {
        await assertDeliverable(parsed.url);
        data.url = parsed.url;
      }
      if (parsed.eventTypes != null && parsed.eventTypes.join() !== endpoint.eventTypes.join()) data.eventTypes = parsed.eventTypes;
      if (parsed.enabled != null && parsed.enabled !== endpoint.enabled) data.enabled = parsed.enabled;
      const changed = Object.keys(data);
      if (changed.length === 0) return endpoint;
      // Enabled again: why it was disabled and its failures are history.
      if (data.enabled) Object.assign(data, { disabledReason: null, consecutiveFailures: 0 });
      return db.$transaction(async (tx) => {
        const [updated] = await tx.webhookEndpoint.updateManyAndReturn({ where: { id: endpoint.id }, data });
        assertThat(updated, 'not_found', 'No such webhook endpoint.');
        await record(tx, updated, 'webhook.updated', caller, { changed });
        return updated;
      });
    },

    /** A new signing secret, shown this once; the previous one stops signing at once (a leaked secret must stop working). */
    async rotateSecret(input: z.input<typeof endpointId>, caller: Caller): Promise<{ endpoint: WebhookEndpoint; secret: string }> {
      const { endpointId: id } = parseInput(endpointId, input);
      const endpoint = await manageable(caller, id);
      const secret = newWebhookSecret();
      const updated = await db.$transaction(async (tx) => {
        const [row] = await tx.webhookEndpoint.updateManyAndReturn({ where: { id: endpoint.id }, data: { secret: secrets.seal(secret) } });
        assertThat(row, 'not_found', 'No such webhook endpoint.');
        await record(tx, row, 'webhook.secret_rotated', caller);
        return row;
      });
      return { endpoint: updated, secret };
    },

    /** Removes the endpoint with its delivery history; what is queued for it is not sent. */
    async deleteEndpoint(input: z.input<typeof endpointId>, caller: Caller): Promise<WebhookEndpoint> {
      const { endpointId: id } = parseInput(endpointId, input);
      const endpoint = await manageable(caller, id);
      await db.$transaction(async (tx) => {
        const { count } = await tx.webhookEndpoint.deleteMany({ where: { id: endpoint.id } });
        assertThat(count === 1, 'not_found', 'No such webhook endpoint.');
        await tx.outbox.deleteMany({ where: { destination: webhookDestination(endpoint.id) } });
        await record(tx, endpoint, 'webhook.deleted', caller);
      });
      return endpoint;
    },

    /** The endpoint's deliveries (its outbox rows), newest first. */
    async listDeliveries(input: z.input<typeof endpointId>, caller: Caller) {
      const { endpointId: id } = parseInput(endpointId, input);
      const endpoint = await manageable(caller, id);
      const where = { destination: webhookDestination(endpoint.id) };
      return {
        page: <Q extends Omit<Prisma.OutboxFindManyArgs, 'where' | 'orderBy'>>(query: Q) =>
          db.outbox.findMany({ ...query, where, orderBy: [{ createdAt: 'desc' }, { id: 'desc' }] }),
        count: () => db.outbox.count({ where }),
      };
    },

    /**
     * Sends a delivery again: back to pending with its attempts reset, due now. Only a settled one (sent or
     * failed), of an enabled endpoint: one still pending is on its way.
     */
    async replayDelivery(input: z.input<typeof replayInput>, caller: Caller) {
      const { deliveryId } = parseInput(replayInput, input);
      requireViewer(caller);
      const row = await db.outbox.findUnique({ where: { id: deliveryId } });
      const id = row?.destination.startsWith(WEBHOOK_DESTINATION_PREFIX) ? row.destination.slice(WEBHOOK_DESTINATION_PREFIX.length) : null;
      assertThat(row && id, 'not_found', 'No such webhook delivery.');
      const endpoint = await manageable(caller, id, 'No such webhook delivery.');
      assertThat(endpoint.enabled, 'conflict', 'The endpoint is disabled: enable it before replaying its deliveries.', { reason: 'endpoint_disabled' });
      return db.$transaction(async (tx) => {
        // Due at the database's now(), the clock the relay claims by.
        const replayed = await tx.$executeRaw`
          UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = now(), last_error = NULL, last_response_status = NULL,
            sent_at = NULL, updated_at = now()
          WHERE id = ${row.id}::uuid AND status IN ('sent', 'failed')`;
        assertThat(replayed === 1, 'conflict', 'This delivery is still pending.', { reason: 'delivery_pending' });
        // Wakes the relays now rather than at their next poll.
        await tx.$executeRaw`SELECT pg_notify(${OUTBOX_CHANNEL}, '')`;
        await record(tx, endpoint, 'webhook.delivery_replayed', caller, { deliveryId: row.id, eventId: row.eventId });
        return tx.outbox.findUniqueOrThrow({ where: { id: row.id } });
      });
    },
  };
}

export type WebhookService = ReturnType<typeof createWebhookService>;
