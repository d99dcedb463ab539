import { describe, expect, it } from 'vitest';
import { type EventStreamItem, openEventStream } from '../../src/events/event-stream.js';
import type { EventLogTail, TailListener } from '../../src/events/log-tail.js';
import type { TailedEventRow } from '../../src/services/audit.js';

const event = (position: number): TailedEventRow => ({
  id: `e${position}`,
  position: BigInt(position),
  aggregateType: 'fixture',
  aggregateId: 'a',
  version: position,
  type: 'test.seam',
  payload: {},
  metadata: null,
  realmId: null,
  tenantId: null,
  tenantRealmId: null,
  occurredAt: new Date(0),
});

/** The event log in memory, and a tail over it whose registration the test times. */
function fixture() {
  const log: TailedEventRow[] = [];
  const listeners = new Set<TailListener>();
  let beforeRegistration = () => {};
  let position = 0n;
  const tail: EventLogTail = {
    async subscribe(listener) {
      beforeRegistration();
      listeners.add(listener);
      return { position, unsubscribe: () => listeners.delete(listener) };
    },
    stop: async () => {},
  };
  return {
    log,
    tail,
    listeners,
    /** Appends and lets the tail read it (what the tail read before a registration is not handed to the newcomer). */
    append(...positions: number[]) {
      const batch = positions.map(event);
      log.push(...batch);
      position = batch.at(-1)!.position;
      for (const listener of listeners) listener(batch);
    },
    onRegistration(fn: () => void) {
      beforeRegistration = fn;
    },
    failReads: false,
    open(after: bigint | null, bufferLimit = 100) {
      const self = this;
      return openEventStream({
        tail,
        after,
        page: async (from, size) => {
          if (self.failReads) throw new Error('connection refused');
          return log.filter((e) => e.position > from).slice(0, size + 1);
        },
        matches: () => true,
        recheck: async () => {},
        recheckIntervalMs: 60_000,
        bufferLimit,
      });
    },
  };
}

async function take(stream: AsyncIterator<EventStreamItem>, count: number) {
  const out: string[] = [];
  while (out.length < count) {
    const { value, done } = await stream.next();
    if (done) break;
    out.push('event' in value ? value.event.position.toString() : `end:${value.end.code}`);
  }
  return out;
}

describe('openEventStream', () => {
  it('reads what the tail passed between the end of the replay and the registration, once', async () => {
    const f = fixture();
    f.append(1, 2, 3);
    // The tail reads 4 and 5 after the replay's last page, just before this stream registers.
    f.onRegistration(() => f.append(4, 5));
    const stream = f.open(1n);
    const first = take(stream, 4);
    expect(await first).toEqual(['2', '3', '4', '5']);
    // Live, with a batch that repeats one already delivered.
    f.append(6);
    for (const listener of f.listeners) listener([event(5), event(6), event(7)]);
    expect(await take(stream, 2)).toEqual(['6', '7']);
    await stream.return?.();
    expect(f.listeners.size).toBe(0);
  });

  it('releases its registration at once when the subscriber leaves while it waits for events', async () => {
    const f = fixture();
    const stream = f.open(null);
    const waiting = stream.next();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(f.listeners.size).toBe(1);
    await stream.return?.();
    expect(f.listeners.size).toBe(0);
    expect((await waiting).done).toBe(true);
  });

  it('ends with subscription_overflow and the last cursor delivered when a batch exceeds the buffer', async () => {
    const f = fixture();
    f.append(1);
    const stream = f.open(0n, 3);
    expect(await take(stream, 1)).toEqual(['1']);
    const next = stream.next();
    await new Promise((resolve) => setTimeout(resolve, 10));
    f.append(2, 3, 4, 5);
    const { value } = await next;
    expect(value).toMatchObject({ end: { code: 'subscription_overflow', extensions: { reason: 'resume_from_cursor', cursor: '1' } } });
    expect((await stream.next()).done).toBe(true);
  });

  it('ends with unavailable and the cursor to resume from when the event log cannot be read', async () => {
    const f = fixture();
    f.append(1, 2);
    f.onRegistration(() => {
      f.failReads = true;
    });
    const stream = f.open(0n);
    expect(await take(stream, 3)).toEqual(['1', '2', 'end:unavailable']);
    expect((await stream.next()).done).toBe(true);
    expect(f.listeners.size).toBe(0);
  });
});
