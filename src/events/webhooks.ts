import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { request } from 'undici';
import type { WebhookConfig } from '../config.js';
import type { PrismaClient } from '../generated/prisma/client.js';
import type { SecretBox } from '../identity/embedded/crypto.js';
import type { Logger } from '../log.js';
import { isUuid } from '../uuid.js';
import type { DeliveryResult, OutboxDelivery, OutboxDestination } from './relay.js';
import type { EventStore, StoredEvent } from './store.js';
import { createWebhookAgent, type ResolveHost } from './webhook-network.js';

/** Outbox destinations of webhook endpoints are 'webhook:<endpoint id>' (idgraph_append_event queues them). */
export const WEBHOOK_DESTINATION_PREFIX = 'webhook:';
export const webhookDestination = (endpointId: string) => `${WEBHOOK_DESTINATION_PREFIX}${endpointId}`;

/** A Standard Webhooks signing secret: whsec_ and 32 random bytes in base64. */
export const newWebhookSecret = () => `whsec_${randomBytes(32).toString('base64')}`;

/** The part of a URL an event or a log line may name: its query could carry a receiver's token. */
export const webhookOrigin = (url: string) => new URL(url).origin;

/** Receivers answer with an acknowledgement: more than this is read no further. */
const RESPONSE_READ_LIMIT_BYTES = 64 * 1024;

/**
 * The body POSTed for an event (Standard Webhooks shape: type, timestamp, data). `data.id` is the event id,
 * also sent as webhook-id: a receiver de-duplicates by it, since delivery is at least once.
 */
export function webhookBody(event: StoredEvent): string {
  return JSON.stringify({
    type: event.type,
    timestamp: event.occurredAt.toISOString(),
    data: {
      id: event.id,
      position: event.position.toString(),
      aggregateType: event.aggregateType,
      aggregateId: event.aggregateId,
      version: event.version,
      payload: event.payload,
      realmId: event.realmId,
      tenantId: event.tenantId,
      actorId: event.metadata?.actorId ?? null,
      occurredAt: event.occurredAt.toISOString(),
    },
  });
}

export interface WebhookDestinationDeps {
  db: PrismaClient;
  events: EventStore;
  config: WebhookConfig;
  /** Opens the endpoints' stored secrets (AUTH_KEY_ENCRYPTION_KEY). */
  secrets: SecretBox;
  resolveHost: ResolveHost;
  clock: () => number;
  log: Logger;
}

/**
 * Delivers outbox rows of webhook endpoints: a signed POST with a timeout, over an agent that talks only to
 * public addresses (webhook-network.ts). 2xx is delivered; anything else fails the attempt and the relay retries.
 * An endpoint whose deliveries keep failing for good is disabled, with a webhook.disabled event.
 */
export function createWebhookDestination({ db, events, config, secrets, resolveHost, clock, log }: WebhookDestinationDeps) {
  const agent = createWebhookAgent({ resolveHost, allowPrivateNetworks: config.allowPrivateNetworks, connectTimeoutMs: config.timeoutMs });
  const endpointIdOf = (destination: string) => destination.slice(WEBHOOK_DESTINATION_PREFIX.length);

  async function post(url: string, headers: Record<string, string>, body: string): Promise<DeliveryResult> {
    try {
      const response = await request(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'idgraph-webhooks', ...headers },
        body,
        dispatcher: agent,
        signal: AbortSignal.timeout(config.timeoutMs),
        headersTimeout: config.timeoutMs,
        bodyTimeout: config.timeoutMs,
      });
      // The answer is not used: it is read (up to a limit) only so the connection can be reused.
      await response.body.dump({ limit: RESPONSE_READ_LIMIT_BYTES }).catch(() => {});
      const ok = response.statusCode >= 200 && response.statusCode < 300;
      return ok ? { ok, responseStatus: response.statusCode } : { ok, responseStatus: response.statusCode, error: `HTTP ${response.statusCode}` };
    } catch (error) {
      const cause = (error as { cause?: unknown }).cause;
      const reason = cause instanceof Error ? cause : error instanceof Error ? error : null;
      const message = (error as Error).name === 'TimeoutError' || (error as Error).name === 'AbortError' ? `no answer within ${config.timeoutMs} ms` : (reason?.message ?? String(error));
      return { ok: false, error: message.slice(0, 500) };
    }
  }

  const destination: OutboxDestination = {
    handles: (name) => name.startsWith(WEBHOOK_DESTINATION_PREFIX),

    async deliver(delivery: OutboxDelivery): Promise<DeliveryResult> {
      const endpointId = endpointIdOf(delivery.destination);
      const endpoint = isUuid(endpointId) ? await db.webhookEndpoint.findUnique({ where: { id: endpointId } }) : null;
      if (!endpoint) return { ok: false, error: 'the webhook endpoint no longer exists' };
      if (!endpoint.enabled) return { ok: false, error: 'the webhook endpoint is disabled' };
      const body = webhookBody(delivery.event);
      // The signature covers the timestamp header: both come from one reading of the clock.
      const sentAt = new Date(clock());
      const headers = {
        'webhook-id': delivery.event.id,
        'webhook-timestamp': String(Math.floor(sentAt.getTime() / 1000)),
        'webhook-signature': new Webhook(secrets.open(endpoint.secret)).sign(delivery.event.id, sentAt, body),
      };
      const result = await post(endpoint.url, headers, body);
      // Fenced by the attempt, as the relay's own marks are: a row another relay took over since is left alone.
      await db.outbox.updateMany({
        where: { id: delivery.outboxId, attempts: delivery.attempt },
        data: { lastResponseStatus: result.responseStatus ?? null },
      });
      if (result.ok) await db.webhookEndpoint.updateMany({ where: { id: endpointId, consecutiveFailures: { gt: 0 } }, data: { consecutiveFailures: 0 } });
      return result;
    },

    async onFailed(delivery: OutboxDelivery, result: DeliveryResult) {
      const endpointId = endpointIdOf(delivery.destination);
      if (!isUuid(endpointId)) return;
      await db.$transaction(async (tx) => {
        // Only failures of an enabled endpoint count: rows that failed because it was disabled say nothing new.
        const [counted] = await tx.webhookEndpoint.updateManyAndReturn({
          where: { id: endpointId, enabled: true },
          data: { consecutiveFailures: { increment: 1 } },
        });
        if (!counted || counted.consecutiveFailures < config.disableAfterFailures) return;
        const lastError = result.error ?? (result.responseStatus ? `HTTP ${result.responseStatus}` : 'delivery failed');
        const reason = `${counted.consecutiveFailures} deliveries in a row failed after every retry (last: ${lastError})`;
        // Disabled before the event is appended, so the event is not queued for the endpoint it disables.
        await tx.webhookEndpoint.update({ where: { id: endpointId }, data: { enabled: false, disabledReason: reason } });
        await events.appendEvent(tx, {
          aggregateType: 'webhook_endpoint',
          aggregateId: endpointId,
          type: 'webhook.disabled',
          realmId: counted.realmId,
          tenantId: counted.tenantId,
          payload: { origin: webhookOrigin(counted.url), reason: 'consecutive_failures', failures: counted.consecutiveFailures, lastError },
          metadata: { actorId: null },
        });
        log.warn({ endpointId, failures: counted.consecutiveFailures, lastError }, 'webhook endpoint disabled after repeated failures');
      });
    },
  };

  return { ...destination, close: () => agent.close() };
}

export type WebhookDestination = ReturnType<typeof createWebhookDestination>;
