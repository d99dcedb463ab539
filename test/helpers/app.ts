import { Writable } from 'node:stream';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { type ExecutionResult, print } from 'graphql';
import { type App, type AppOptions, buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import type { DomainVerifier } from '../../src/services/domain-verifier.js';
import { createTestDatabase, type TestDatabase } from './database.js';

export interface CapturedLogs {
  lines: Array<Record<string, unknown>>;
  text(): string;
}

/** A pino destination that keeps every line, so tests can assert on logs. */
export function captureLogs(): { logs: CapturedLogs; stream: Writable } {
  const lines: Array<Record<string, unknown>> = [];
  const raw: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) {
        raw.push(line);
        lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  return { logs: { lines, text: () => raw.join('\n') }, stream };
}

export interface TestApp {
  app: App;
  database: TestDatabase;
  /** Base URL of the real HTTP server on 127.0.0.1:<random port>. */
  url: string;
  wsUrl: string;
  logs: CapturedLogs;
  /** What the app printed on the console (generated keys, dev-notifier messages). */
  printed: string[];
  apiKeys(): { anon: string; serviceRole: string };
  /** Runs a typed operation in-process through yoga.fetch. */
  execute<R, V extends Record<string, unknown>>(
    document: TypedDocumentNode<R, V>,
    variables?: V,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: ExecutionResult<R>; headers: Headers }>;
  /** SQL statements run while `fn` runs. */
  countStatements(fn: () => Promise<unknown>): Promise<number>;
  close(): Promise<void>;
}

export async function startTestApp(
  options: { env?: Record<string, string>; database?: TestDatabase } & Pick<AppOptions, 'clock' | 'notifier' | 'domainVerifier' | 'claimsExtension' | 'resolveWebhookHost' | 'outboxDestinations' | 'relay'> = {},
): Promise<TestApp> {
  const database = options.database ?? (await createTestDatabase());
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'debug',
    DATABASE_URL: database.url,
    // Per-IP limits off unless a test sets them: every test client is 127.0.0.1.
    AUTH_RATE_LIMIT_OTP: '0',
    AUTH_RATE_LIMIT_VERIFY: '0',
    AUTH_RATE_LIMIT_TOKEN: '0',
    AUTH_MAX_FREQUENCY: '0',
    AUTH_RATE_LIMIT_CREDENTIALS_PER_IP: '0',
    AUTH_RATE_LIMIT_CREDENTIALS_PER_IDENTIFIER: '0',
    AUTH_RATE_LIMIT_API_KEY_EXCHANGE: '0',
    // The periodic cleanup would send statements into a test's count at random; cleanup tests call run() themselves.
    CLEANUP_INTERVAL_SECONDS: '0',
    ...options.env,
  });
  const { logs, stream } = captureLogs();
  const printed: string[] = [];
  const app = await buildApp(config, {
    clock: options.clock,
    notifier: options.notifier,
    log: createLogger({ level: config.logLevel, destination: stream }),
    print: (text) => printed.push(text),
    domainVerifier: options.domainVerifier,
    resolveWebhookHost: options.resolveWebhookHost,
    claimsExtension: options.claimsExtension,
    outboxDestinations: options.outboxDestinations,
    relay: options.relay,
  });
  const { port } = await app.start(0, '127.0.0.1');
  const url = `http://127.0.0.1:${port}`;
  return {
    app,
    printed,
    apiKeys: () => app.identity.apiKeys(),
    database,
    url,
    wsUrl: `ws://127.0.0.1:${port}/graphql`,
    logs,
    async execute(document, variables, headers = {}) {
      const response = await app.yoga.fetch('http://localhost/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...headers },
        body: JSON.stringify({ query: print(document), variables }),
      });
      return { status: response.status, body: (await response.json()) as ExecutionResult<never>, headers: response.headers };
    },
    async countStatements(fn) {
      const before = app.db.statements.count;
      await fn();
      return app.db.statements.count - before;
    },
    async close() {
      await app.stop();
      if (!options.database) await database.drop();
    },
  };
}
