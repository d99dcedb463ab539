import { createClient, type Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startTestApp, type TestApp } from '../helpers/app.js';

let t: TestApp;
let client: Client;
beforeAll(async () => {
  t = await startTestApp();
  client = createClient({ url: t.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true });
});
afterAll(async () => {
  await client.dispose();
  await t.close();
});

function run(query: string) {
  return new Promise<{ data?: unknown; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> }>(
    (resolve, reject) => {
      let result: unknown;
      client.subscribe(
        { query },
        {
          next: (value) => (result = value),
          error: (error) => (Array.isArray(error) ? resolve({ errors: error }) : reject(error)),
          complete: () => resolve(result as never),
        },
      );
    },
  );
}

describe('graphql-ws on the same port and path', () => {
  it('runs a query over a real WebSocket', async () => {
    expect(await run('{ realm { slug } health { database } }')).toEqual({ data: { realm: { slug: 'default' }, health: { database: 'UP' } } });
  });

  it('applies the same validation and codes as HTTP', async () => {
    const { errors } = await run('{ nope }');
    expect(errors?.[0]?.extensions?.code).toBe('bad_request');
    const aliases = await run(`{ ${Array.from({ length: 31 }, (_, i) => `a${i}: health { version }`).join(' ')} }`);
    expect(aliases.errors?.[0]?.extensions?.code).toBe('query_too_complex');
  });

  it('refuses upgrades on other paths', async () => {
    const socket = new WebSocket(t.wsUrl.replace('/graphql', '/elsewhere'), 'graphql-transport-ws');
    const outcome = await new Promise<string>((resolve) => {
      socket.on('open', () => resolve('open'));
      socket.on('unexpected-response', (_req, res) => resolve(`status ${res.statusCode}`));
      socket.on('error', (error) => resolve(`error ${error.message}`));
    });
    expect(outcome).toMatch(/404/);
  });
});
