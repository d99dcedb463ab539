import { createClient, type Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { signUpUser } from '../helpers/realm.js';

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

describe('the subscriber credential, as clients and gateways send it', () => {
  async function viewerOver(options: { connectionParams?: Record<string, unknown>; headers?: Record<string, string> }) {
    const socketImpl = class extends WebSocket {
      constructor(address: string, protocols?: string | string[]) {
        super(address, protocols, { headers: options.headers });
      }
    };
    const c = createClient({ url: t.wsUrl, webSocketImpl: socketImpl, retryAttempts: 0, lazy: true, connectionParams: options.connectionParams });
    try {
      return await new Promise<unknown>((resolve, reject) => {
        let result: unknown;
        c.subscribe(
          { query: '{ viewer { user { id } } }' },
          {
            next: (value) => (result = value),
            error: (error) => (Array.isArray(error) ? resolve({ errors: error }) : error instanceof Error ? reject(error) : resolve({ closed: (error as { code?: number }).code })),
            complete: () => resolve(result),
          },
        );
      });
    } finally {
      await c.dispose();
    }
  }

  it('reads connectionParams.authorization, a bare token parameter, or the upgrade request\'s Authorization header', async () => {
    const user = await signUpUser(t);
    const signedIn = { data: { viewer: { user: { id: user.userId } } } };
    expect(await viewerOver({ connectionParams: { authorization: `Bearer ${user.accessToken}` } })).toEqual(signedIn);
    expect(await viewerOver({ connectionParams: { Authorization: `Bearer ${user.accessToken}` } })).toEqual(signedIn);
    expect(await viewerOver({ connectionParams: { token: user.accessToken } })).toEqual(signedIn);
    expect(await viewerOver({ connectionParams: { token: `Bearer ${user.accessToken}` } })).toEqual(signedIn);
    expect(await viewerOver({ headers: { authorization: `Bearer ${user.accessToken}` } })).toEqual(signedIn);
  });

  it('refuses the connection for a bad credential wherever it is sent, and is anonymous without one', async () => {
    expect(await viewerOver({ connectionParams: { token: 'not-a-token' } })).toEqual({ closed: 4403 });
    expect(await viewerOver({ headers: { authorization: 'Bearer not-a-token' } })).toEqual({ closed: 4403 });
    expect(await viewerOver({})).toEqual({ data: { viewer: null } });
  });
});
