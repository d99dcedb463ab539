import type { StoredEvent } from './store.js';

/** One outbox row handed to its destination. `event.id` lets receivers de-duplicate: delivery is at least once. */
export interface OutboxDelivery {
  outboxId: string;
  destination: string;
  /** 1-based: the first delivery of a row is attempt 1. */
  attempt: number;
  event: StoredEvent;
}

export interface DeliveryResult {
  ok: boolean;
  error?: string;
  responseStatus?: number;
}

/** Where outbox rows go. The relay asks each registered destination whether it handles a row's `destination`. */
export interface OutboxDestination {
  /** e.g. 'projection', or the prefix 'webhook:' (destinations are 'webhook:<endpoint uuid>') */
  handles(destination: string): boolean;
  deliver(delivery: OutboxDelivery): Promise<DeliveryResult>;
  /** Called once when a row becomes `failed` after the last attempt (webhooks disable a failing endpoint). */
  onFailed?(delivery: OutboxDelivery, result: DeliveryResult): Promise<void>;
}
