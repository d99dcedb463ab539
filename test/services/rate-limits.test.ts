import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRateLimit } from '../../src/services/rate-limits.js';
import { startTestApp, type TestApp } from '../helpers/app.js';

// The database-backed limit itself, straight against the service, on the test database.

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.close());

describe('rate limit store', () => {
  it('allows `points` attempts per window, then answers the seconds left; the next window starts afresh', async () => {
    const limit = createRateLimit({ db: t.app.db.prisma, redis: null }, { name: `window-${Date.now()}`, points: 2, durationSeconds: 1 });
    expect(await limit.consume('k')).toBeNull();
    expect(await limit.consume('k')).toBeNull();
    expect(await limit.consume('k')).toBe(1);
    // Another key has a window of its own.
    expect(await limit.consume('other')).toBeNull();
    await new Promise((r) => setTimeout(r, 1100));
    expect(await limit.consume('k')).toBeNull();
  });

  it('counts an attempt with one SQL statement, allowed or refused', async () => {
    const limit = createRateLimit({ db: t.app.db.prisma, redis: null }, { name: `count-${Date.now()}`, points: 1, durationSeconds: 60 });
    expect(await t.countStatements(() => limit.consume('k'))).toBe(1);
    expect(await t.countStatements(() => limit.consume('k'))).toBe(1);
    expect(await limit.consume('k')).toBeGreaterThan(50);
  });

  it('0 points turns the limit off: nothing is counted and nothing is sent', async () => {
    const limit = createRateLimit({ db: t.app.db.prisma, redis: null }, { name: `off-${Date.now()}`, points: 0, durationSeconds: 60 });
    expect(await t.countStatements(() => Promise.all(Array.from({ length: 5 }, () => limit.consume('k'))))).toBe(0);
    expect(await limit.consume('k')).toBeNull();
  });
});
