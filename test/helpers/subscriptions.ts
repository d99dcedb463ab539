import { createClient, type Client } from 'graphql-ws';
import { WebSocket } from 'ws';
import { createEventStore, type NewEvent } from '../../src/events/store.js';
import type { TestApp } from './app.js';

export interface StreamError {
  message: string;
  extensions?: Record<string, unknown>;
}

/** What a subscription delivered so far, and how it ended (`ended` resolves when it completes or errors). */
export interface Subscription<T> {
  items: T[];
  errors: StreamError[];
  ended: Promise<void>;
  isEnded(): boolean;
  /** Resolves once `count` items arrived; rejects (with what arrived) after `timeoutMs` or when the stream ends first. */
  waitForItems(count: number, timeoutMs?: number): Promise<T[]>;
  /** Resolves when the stream ended, with its errors; rejects after `timeoutMs`. */
  waitForEnd(timeoutMs?: number): Promise<StreamError[]>;
  stop(): void;
}

/** Waits until `ready()` holds, checking every 20 ms; rejects with `what` after `timeoutMs`. */
export async function waitUntil(ready: () => boolean, what: () => string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function collector<T>(pick: (data: Record<string, unknown>) => T, stop: () => void) {
  const items: T[] = [];
  const errors: StreamError[] = [];
  let ended = false;
  let finish!: () => void;
  const endedPromise = new Promise<void>((resolve) => (finish = resolve));
  const subscription: Subscription<T> = {
    items,
    errors,
    ended: endedPromise,
    isEnded: () => ended,
    async waitForItems(count, timeoutMs) {
      await waitUntil(
        () => items.length >= count || ended,
        () => `${count} items, got ${items.length}: ${JSON.stringify(errors)}`,
        timeoutMs,
      );
      if (items.length < count) throw new Error(`the stream ended after ${items.length} of ${count} items: ${JSON.stringify(errors)}`);
      return items;
    },
    async waitForEnd(timeoutMs) {
      await waitUntil(() => ended, () => `the end of the stream (${items.length} items)`, timeoutMs);
      return errors;
    },
    stop,
  };
  return {
    subscription,
    next(result: { data?: Record<string, unknown> | null; errors?: readonly StreamError[] }) {
      if (result.errors?.length) errors.push(...result.errors);
      if (result.data) {
        const item = pick(result.data);
        if (item != null) items.push(item);
      }
    },
    end(error?: unknown) {
      if (Array.isArray(error)) errors.push(...(error as StreamError[]));
      else if (error) {
        const close = error as { code?: number; reason?: string };
        const message = error instanceof Error ? error.message : close.code ? `closed ${close.code} ${close.reason ?? ''}` : String(error);
        errors.push({ message, extensions: { code: 'socket_closed' } });
      }
      ended = true;
      finish();
    },
  };
}

/** A graphql-ws client on the app's real WebSocket endpoint; `authorization` goes into connectionParams. */
export function wsClient(t: TestApp, authorization?: string): Client {
  return createClient({
    url: t.wsUrl,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: true,
    connectionParams: authorization ? { authorization } : undefined,
  });
}

/** Subscribes over graphql-ws and collects `field` of every result. */
export function subscribeWs<T>(client: Client, query: string, variables: Record<string, unknown>, field: string): Subscription<T> {
  let unsubscribe = () => {};
  const c = collector<T>((data) => data[field] as T, () => unsubscribe());
  unsubscribe = client.subscribe({ query, variables }, { next: (r) => c.next(r as never), error: (e) => c.end(e ?? 'error'), complete: () => c.end() });
  return c.subscription;
}

/** Subscribes over SSE (POST /graphql, Accept: text/event-stream) and collects `field` of every result. */
export function subscribeSse<T>(t: TestApp, query: string, variables: Record<string, unknown>, field: string, headers: Record<string, string>): Subscription<T> {
  const abort = new AbortController();
  const c = collector<T>((data) => data[field] as T, () => abort.abort());
  void (async () => {
    try {
      const response = await fetch(`${t.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...headers },
        body: JSON.stringify({ query, variables }),
        signal: abort.signal,
      });
      const decoder = new TextDecoder();
      let buffer = '';
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const message = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(message)?.[1];
          const data = message
            .split('\n')
            .filter((line) => line.startsWith('data:'))
            .map((line) => line.slice(5).trim())
            .join('\n');
          if (event === 'next' && data) c.next(JSON.parse(data) as never);
          if (event === 'complete') {
            c.end();
            return;
          }
        }
      }
      c.end();
    } catch (error) {
      c.end(abort.signal.aborted ? undefined : error);
    }
  })();
  return c.subscription;
}

const fixtureStore = createEventStore({ destinations: [] });

/** Test fixture: appends events as another area would, in one transaction (one commit, one notification) or one each. */
export async function appendEvents(
  t: TestApp,
  count: number,
  event: Omit<NewEvent, 'aggregateType' | 'aggregateId'>,
  { oneTransaction = false } = {},
): Promise<bigint[]> {
  const append = (tx: Parameters<typeof fixtureStore.appendEvent>[0]) =>
    fixtureStore.appendEvent(tx, { aggregateType: 'fixture', aggregateId: crypto.randomUUID(), ...event });
  if (oneTransaction) {
    return t.app.db.prisma.$transaction(async (tx) => {
      const positions: bigint[] = [];
      for (let i = 0; i < count; i++) positions.push((await append(tx)).position);
      return positions;
    });
  }
  const positions: bigint[] = [];
  for (let i = 0; i < count; i++) positions.push((await t.app.db.prisma.$transaction((tx) => append(tx))).position);
  return positions;
}
