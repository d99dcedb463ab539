import { Prisma, type PrismaClient } from '../generated/prisma/client.js';
import type { Logger } from '../log.js';

/** One kind of row that outlived its use. */
export interface RetentionRule {
  /** What it removes, as logged. */
  name: string;
  table: string;
  /** The table's primary key column. */
  key: string;
  /** SQL condition on the table's rows: expired at `now`. */
  expired(now: Date): Prisma.Sql;
}

/** Removes at most `limit` expired rows of the rule's table, skipping rows other transactions hold; resolves with how many. */
function removeBatch(db: PrismaClient, rule: RetentionRule, now: Date, limit: number): Promise<number> {
  const table = Prisma.raw(rule.table);
  const key = Prisma.raw(rule.key);
  return db.$executeRaw`
    DELETE FROM ${table} WHERE ${key} IN (
      SELECT ${key} FROM ${table} WHERE ${rule.expired(now)} LIMIT ${limit} FOR UPDATE SKIP LOCKED)`;
}

export interface CleanupOptions {
  db: PrismaClient;
  rules: readonly RetentionRule[];
  clock: () => number;
  log: Logger;
  /** Rows per statement: short transactions that never hold many locks. */
  batchSize?: number;
  /** Statements per rule and run; what is left waits for the next run. */
  maxBatchesPerRun?: number;
}

/**
 * Removes rows that can no longer serve (rotated refresh tokens, ended windows
 * of rate limits...), in small batches that skip rows other transactions hold,
 * so replicas can run it side by side. Without it those tables grow with every
 * sign-in and every address a sprayer tries.
 */
export function createCleanup({ db, rules, clock, log, batchSize = 1000, maxBatchesPerRun = 10 }: CleanupOptions) {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<Record<string, number>> | null = null;

  async function runOnce(): Promise<Record<string, number>> {
    const removed: Record<string, number> = {};
    for (const rule of rules) {
      let total = 0;
      for (let batch = 0; batch < maxBatchesPerRun; batch++) {
        const count = await removeBatch(db, rule, new Date(clock()), batchSize);
        total += count;
        if (count < batchSize) break;
      }
      if (total > 0) removed[rule.name] = total;
    }
    if (Object.keys(removed).length > 0) log.info({ removed }, 'cleanup removed expired rows');
    return removed;
  }

  /** One run at a time: a tick that finds the previous run still going waits for it. */
  const run = () => (running ??= runOnce().finally(() => (running = null)));

  return {
    run,
    /** Runs every `intervalMs` until stop(); 0 never runs. */
    start(intervalMs: number) {
      if (intervalMs <= 0 || timer) return;
      timer = setInterval(() => {
        run().catch((error: unknown) => log.warn({ err: error }, 'cleanup failed; retrying at the next interval'));
      }, intervalMs);
      timer.unref();
    },
    /** Stops the timer and waits for a run in progress. */
    async stop() {
      clearInterval(timer);
      timer = undefined;
      await running?.catch(() => {});
    },
  };
}

export type Cleanup = ReturnType<typeof createCleanup>;

const HOUR_MS = 3_600_000;

/** idgraph's own tables: ended rate-limit windows (an hour after they ended) and expired denylist entries. */
export const realmRetentionRules: readonly RetentionRule[] = [
  { name: 'rate_limits', table: 'rate_limits', key: 'key', expired: (now) => Prisma.sql`expire < ${now.getTime() - HOUR_MS}` },
  { name: 'revoked_tokens', table: 'revoked_tokens', key: 'key', expired: (now) => Prisma.sql`expires_at <= ${now}` },
];

const DAY_MS = 24 * HOUR_MS;

/** Outbox rows delivered more than `days` ago (pending and failed rows stay; the events themselves are kept). */
export function outboxRetentionRule(days: number): RetentionRule {
  return {
    name: 'outbox',
    table: 'outbox',
    key: 'id',
    expired: (now) => Prisma.sql`status = 'sent' AND sent_at < ${new Date(now.getTime() - days * DAY_MS)}`,
  };
}
