import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventLogTail } from '../../src/events/log-tail.js';
import type { TailedEventRow } from '../../src/services/audit.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { appendEvents, waitUntil } from '../helpers/subscriptions.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.close());

describe('event log tail', () => {
  it('without notifications (a connection that cannot LISTEN), polling still delivers every event once, in order', async () => {
    const silent = { ...t.app.db, listen: async () => ({ close: async () => {} }) };
    const tail = createEventLogTail({ db: silent, pollIntervalMs: 100, log: t.app.log });
    const seen: TailedEventRow[] = [];
    const a = await tail.subscribe((events) => seen.push(...events.filter((e) => e.type === 'test.polled')));
    const positions = await appendEvents(t, 3, { type: 'test.polled' });
    positions.push(...(await appendEvents(t, 20, { type: 'test.polled' }, { oneTransaction: true })));
    await waitUntil(() => seen.length >= positions.length, () => `${seen.length} of ${positions.length}`);
    expect(seen.map((e) => e.position)).toEqual(positions);
    a.unsubscribe();
    await tail.stop();
  });

  it('tells its subscribers when it stops, and takes no new ones', async () => {
    const tail = createEventLogTail({ db: t.app.db, pollIntervalMs: 1000, log: t.app.log });
    let stopped = 0;
    await tail.subscribe(() => {}, () => stopped++);
    await tail.stop();
    expect(stopped).toBe(1);
    await expect(tail.subscribe(() => {})).rejects.toThrow();
  });
});
