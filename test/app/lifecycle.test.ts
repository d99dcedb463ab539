import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { captureLogs, startTestApp } from '../helpers/app.js';
import { runScript } from '../helpers/process.js';

function quietApp(env: Record<string, string>) {
  const { logs, stream } = captureLogs();
  const printed: string[] = [];
  const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'debug', ...env });
  const appPromise = buildApp(config, { log: createLogger({ level: 'debug', destination: stream }), print: (text) => printed.push(text) });
  return { logs, printed, appPromise };
}

describe('lifecycle', () => {
  it('keeps PGlite data under DATA_DIR across restarts, bootstrapping once', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'idgraph-data-'));
    const firstRun = quietApp({ DATA_DIR: dataDir });
    const first = await firstRun.appPromise;
    await first.start(0, '127.0.0.1');
    // The generated API keys are shown once, on the console, never in the log.
    const keys = first.identity.apiKeys();
    expect(firstRun.printed.join('\n')).toContain(keys.anon);
    expect(firstRun.logs.text()).not.toContain(keys.anon);
    const realm = await first.db.prisma.realm.findUniqueOrThrow({ where: { slug: 'default' } });
    await first.stop();
    expect(fs.existsSync(path.join(dataDir, 'pglite', 'PG_VERSION'))).toBe(true);

    const { appPromise, logs, printed } = quietApp({ DATA_DIR: dataDir });
    const second = await appPromise;
    await second.start(0, '127.0.0.1');
    expect(printed).toEqual([]);
    expect(second.identity.apiKeys()).toEqual(keys);
    expect((await second.db.prisma.realm.findUniqueOrThrow({ where: { slug: 'default' } })).id).toBe(realm.id);
    expect(await second.db.prisma.event.count({ where: { type: 'realm.created' } })).toBe(1);
    expect(logs.lines.some((l) => l.msg === 'migration applied')).toBe(false);
    expect(logs.lines.some((l) => l.msg === 'default realm created')).toBe(false);
    await second.stop();
  });

  it('reports an unreachable database on /readyz and keeps retrying instead of crashing', async () => {
    const { appPromise, logs } = quietApp({ DATABASE_URL: 'postgres://idgraph:pw@127.0.0.1:1/idgraph', DATABASE_CONNECT_TIMEOUT_MS: '500' });
    const app = await appPromise;
    const { port } = await app.start(0, '127.0.0.1');
    const base = `http://127.0.0.1:${port}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(503);
    const body = (await ready.json()) as { status: string; reason: string };
    expect(body.status).toBe('unavailable');
    expect(body.reason).toMatch(/^database: .*ECONNREFUSED/);
    expect(body.reason).not.toContain('pw');
    const graphql = await fetch(`${base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ realm { slug } }' }),
    });
    expect(graphql.status).toBe(503);
    expect(((await graphql.json()) as { errors: Array<{ extensions: { code: string } }> }).errors[0]!.extensions.code).toBe('unavailable');
    const auth = await fetch(`${base}/auth/v1/settings`, { headers: { apikey: 'anything-at-all-here' } });
    expect(auth.status).toBe(503);
    expect(((await auth.json()) as { error_code: string }).error_code).toBe('unexpected_failure');
    const failure = logs.lines.find((l) => l.msg === 'start-up failed; retrying');
    expect(failure).toMatchObject({ level: 50, attempt: 1, retryInMs: 1000 });
    await app.stop();
  });

  it('stop() lets an in-flight request finish, then refuses new connections', async () => {
    const t = await startTestApp();
    const health = t.app.services.health;
    const original = health.check.bind(health);
    vi.spyOn(health, 'check').mockImplementationOnce(async () => {
      await new Promise((r) => setTimeout(r, 300));
      return original();
    });
    const inFlight = fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ health { database } }' }),
    });
    await new Promise((r) => setTimeout(r, 50));
    const stopped = t.close();
    const response = await inFlight;
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ data: { health: { database: 'UP' } } });
    await stopped;
    await expect(fetch(`${t.url}/healthz`)).rejects.toThrow();
  });
});

const runMain = (env: Record<string, string>) => runScript('src/main.ts', [], env);

describe('the process', () => {
  it('exits non-zero before listening and names every bad variable', async () => {
    const run = runMain({ PORT: 'http', DATABASE_DRIVER: 'mysql' });
    expect(await run.exited).toBe(78);
    expect(run.err()).toContain('Invalid configuration');
    expect(run.err()).toMatch(/PORT: .*"http"/);
    expect(run.err()).toMatch(/DATABASE_DRIVER: /);
    expect(run.out()).not.toContain('listening');
  });

  it('starts with no configuration beyond a data dir, serves, and exits 0 on SIGTERM', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'idgraph-proc-'));
    const run = runMain({ DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1' });
    await vi.waitFor(() => expect(run.out()).toContain('"msg":"ready"'), { timeout: 60_000, interval: 100 });
    const port = Number(/"port":(\d+)/.exec(run.out())![1]);
    const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ realm { slug } }' }),
    });
    expect(await response.json()).toEqual({ data: { realm: { slug: 'default' } } });
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
    expect(run.out()).toContain('"signal":"SIGTERM"');
  });
});
