import pg from 'pg';

/** What a LISTEN hands over: a notification's payload, or null when notifications may have been missed (reconnect). */
export type NotificationHandler = (payload: string | null) => void;

export interface Listening {
  close(): Promise<void>;
}

export interface PostgresListenerOptions {
  url: string;
  channel: string;
  onNotify: NotificationHandler;
  connectTimeoutMs: number;
  onError?: (error: Error) => void;
  /** Reconnect delays double from the first up to the second (milliseconds). */
  backoffMs?: readonly [number, number];
}

/**
 * LISTEN on a dedicated connection of its own (a pooled one would hand the subscription to whoever borrows it
 * next). The connection is reopened with backoff whenever it drops; each reopening hands null to the handler,
 * since notifications sent in between are lost.
 */
export function listenOnPostgres({ url, channel, onNotify, connectTimeoutMs, onError, backoffMs = [500, 30_000] }: PostgresListenerOptions): Listening {
  let closed = false;
  let client: pg.Client | null = null;
  let timer: NodeJS.Timeout | undefined;
  let failures = 0;

  const reconnectLater = () => {
    if (closed || timer) return;
    const delay = Math.min(backoffMs[1], backoffMs[0] * 2 ** Math.min(failures, 16));
    failures++;
    timer = setTimeout(() => {
      timer = undefined;
      void connect();
    }, delay);
    timer.unref();
  };

  async function connect() {
    const next = new pg.Client({ connectionString: url, connectionTimeoutMillis: connectTimeoutMs });
    let dropped = false;
    const drop = (error?: Error) => {
      if (dropped) return;
      dropped = true;
      if (client === next) client = null;
      if (error && !closed) onError?.(error);
      next.end().catch(() => {});
      reconnectLater();
    };
    next.on('error', drop);
    next.on('end', () => drop());
    next.on('notification', (message) => {
      if (message.channel === channel) onNotify(message.payload ?? '');
    });
    try {
      await next.connect();
      await next.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
    } catch (error) {
      drop(error as Error);
      return;
    }
    if (closed) {
      await next.end().catch(() => {});
      return;
    }
    client = next;
    failures = 0;
    onNotify(null);
  }

  void connect();
  return {
    async close() {
      closed = true;
      clearTimeout(timer);
      const current = client;
      client = null;
      await current?.end().catch(() => {});
    },
  };
}
