import { AppError } from '../errors.js';
import type { AuditEventRow, TailedEventRow } from '../services/audit.js';
import type { EventLogTail } from './log-tail.js';

export interface EventStreamOptions {
  tail: EventLogTail;
  /** Replay from this position (exclusive); null starts live. */
  after: bigint | null;
  /** Up to `size` events after a position, in position order, read from the database in the subscriber's scope. */
  page(after: bigint, size: number): Promise<AuditEventRow[]>;
  /** Whether a live event is one the subscriber may see (the same rule as `page`). */
  matches(event: TailedEventRow): boolean;
  /** Throws (an AppError with the code to close with) once the subscriber may no longer read the stream. */
  recheck(): Promise<void>;
  recheckIntervalMs: number;
  /** Live events waiting for a slow subscriber beyond this end the stream with subscription_overflow. */
  bufferLimit: number;
  /** Called for an unexpected error (of a recheck or a read: the database did not answer...) that ended the stream. */
  onRecheckError?: (error: unknown) => void;
  /**
   * Whether the events committed before a failed recheck are still delivered before the error: for a user's
   * own events, where the one that ended the stream (a suspension) is the one they most need to see.
   */
  deliverBeforeEnding?: boolean;
  /**
   * Everything, besides the event and the operation, that what a subscriber receives for an event may depend on
   * (the scope read, who reads it). Subscribers with the same audience running the same operation get one shared
   * result per event (sharedResults); null shares nothing.
   */
  audience?: string | null;
}

/** What the stream yields: an event, or (last) the error that ends it. */
export type EventStreamItem = { event: AuditEventRow } | { end: AppError };

/**
 * On a subscription's source: which subscribers may share what an operation makes of its items. Executing the
 * subscription's selection once per event rather than once per subscriber is what lets one process serve
 * thousands of subscribers; `audience` must therefore hold everything a result may depend on besides the item and
 * the operation, and `itemKey` tell items apart (null: an item executed for this subscriber alone).
 */
export const sharedResults = Symbol('sharedResults');

export interface SharedResultSource {
  readonly [sharedResults]: { audience: string; itemKey(item: unknown): bigint | null } | null;
}

// An end carries the subscriber's own cursor: never shared.
const eventPosition = (item: unknown) => ('event' in (item as EventStreamItem) ? (item as { event: AuditEventRow }).event.position : null);

const PAGE = 100;

/**
 * Events after a cursor, then live, with none missed or repeated at the seam: the replay pages through
 * the database until it has caught up; then the stream registers with the event log's tail and reads the
 * database once more (an event the tail read before the registration is in that read), and from then on
 * takes the tail's batches. Every event at or before the last one delivered is dropped.
 *
 * The tail hands batches over without waiting; what the subscriber has not taken yet waits in a buffer of
 * `bufferLimit` events, and a subscriber that falls further behind is ended with subscription_overflow and
 * its last cursor, to resume from. The subscriber's standing is checked again every `recheckIntervalMs`.
 */
export function openEventStream(options: EventStreamOptions): AsyncIterableIterator<EventStreamItem> & SharedResultSource {
  let last = options.after;
  const waiting: TailedEventRow[] = [];
  let ending: AppError | null = null;
  let closed = false;
  let wakeUp: (() => void) | null = null;
  let unsubscribe: (() => void) | null = null;
  const wake = () => {
    wakeUp?.();
    wakeUp = null;
  };
  const endWith = (error: AppError) => {
    ending ??= error;
    waiting.length = 0;
    wake();
  };
  const resumable = () => ({ reason: 'resume_from_cursor', cursor: last === null ? null : last.toString() });
  const overflow = () => new AppError('subscription_overflow', undefined, resumable());
  /** The stream cannot go on here (shutdown, the database did not answer); the client resumes from its cursor. */
  const interrupted = (message: string) => new AppError('unavailable', message, resumable());

  let rechecking = false;
  /** The recheck said no (rather than overflow or an outage ending the stream). */
  let denied = false;
  const recheck = () => {
    if (rechecking || ending || closed) return;
    rechecking = true;
    options
      .recheck()
      .catch((error: unknown) => {
        if (error instanceof AppError) denied = !ending;
        else options.onRecheckError?.(error);
        // A standing that cannot be confirmed ends the stream too; the client resumes from its cursor.
        endWith(error instanceof AppError ? error : interrupted('The subscriber’s standing could not be checked; resubscribe from the last cursor received.'));
      })
      .finally(() => {
        rechecking = false;
      });
  };
  // Started at a random point of the first interval, so subscriptions opened together are not checked together.
  let recheckTimer: NodeJS.Timeout | undefined = setTimeout(() => {
    recheckTimer = setInterval(recheck, options.recheckIntervalMs);
    recheckTimer.unref();
    recheck();
  }, Math.random() * options.recheckIntervalMs);
  recheckTimer.unref();

  const onBatch = (events: readonly TailedEventRow[]) => {
    if (ending || closed) return;
    for (const event of events) if (options.matches(event)) waiting.push(event);
    if (waiting.length > options.bufferLimit) endWith(overflow());
    else if (waiting.length > 0) wake();
  };

  function cleanUp() {
    closed = true;
    clearTimeout(recheckTimer);
    clearInterval(recheckTimer);
    unsubscribe?.();
    unsubscribe = null;
    waiting.length = 0;
    wake();
  }

  async function* replay(untilEnd = false): AsyncGenerator<AuditEventRow> {
    for (;;) {
      const events = await options.page(last!, PAGE);
      for (const event of events) {
        if (closed || (ending && !untilEnd)) return;
        if (event.position <= last!) continue;
        last = event.position;
        yield event;
      }
      if (events.length <= PAGE) return;
    }
  }

  async function* run(): AsyncGenerator<EventStreamItem> {
    try {
      if (last !== null) for await (const event of replay()) yield { event };
      const registration = await options.tail.subscribe(onBatch, () =>
        endWith(interrupted('The server is shutting down; resubscribe from the last cursor received.')),
      );
      unsubscribe = registration.unsubscribe;
      if (closed) return;
      if (last === null) last = registration.position;
      // Anything the tail read before the registration, after the replay's last page.
      else for await (const event of replay()) yield { event };
      for (;;) {
        if (closed) return;
        if (ending) {
          if (options.deliverBeforeEnding && denied) for await (const event of replay(true)) yield { event };
          yield { end: ending };
          return;
        }
        const event = waiting.shift();
        if (!event) {
          await new Promise<void>((resolve) => (wakeUp = resolve));
          continue;
        }
        if (event.position <= last) continue;
        last = event.position;
        yield { event };
      }
    } catch (error) {
      if (closed) return;
      // A read that failed (the database did not answer): the stream ends with a code the client can resume from.
      if (!(error instanceof AppError)) options.onRecheckError?.(error);
      yield { end: error instanceof AppError ? error : interrupted('The event log could not be read; resubscribe from the last cursor received.') };
    } finally {
      cleanUp();
    }
  }

  const inner = run();
  // An async generator waiting for the next batch would only see return() once one arrives: ending here
  // first lets a client that went away release its registration at once.
  return {
    [sharedResults]: options.audience ? { audience: options.audience, itemKey: eventPosition } : null,
    next: () => inner.next(),
    return: (value?: unknown) => {
      cleanUp();
      return inner.return(value as never);
    },
    throw: (error?: unknown) => {
      cleanUp();
      return inner.throw(error);
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
