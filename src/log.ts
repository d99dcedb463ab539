import { AsyncLocalStorage } from 'node:async_hooks';
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/** Request-scoped fields (the request id) that every log line written during a request carries. */
export const requestScope = new AsyncLocalStorage<{ requestId: string }>();

// Anything that can carry a credential is censored wherever it appears in a log
// object, at the top level or up to two levels down (req.headers.authorization, input.password...).
const sensitiveKeys = [
  'authorization',
  'cookie',
  'set-cookie',
  'apikey',
  'x-api-key',
  'x-webhook-secret',
  'password',
  'new_password',
  'token',
  'token_hash',
  'access_token',
  'accessToken',
  'refresh_token',
  'refreshToken',
  'id_token',
  'idToken',
  'otp',
  'secret',
  'apiKey',
  'api_key',
  'nonce',
  'code_verifier',
];

export const redactPaths = [
  ...sensitiveKeys.map((k) => `["${k}"]`),
  ...sensitiveKeys.map((k) => `*["${k}"]`),
  ...sensitiveKeys.map((k) => `*.*["${k}"]`),
];

export function createLogger(options: { level: string; destination?: DestinationStream }): Logger {
  return pino(
    {
      level: options.level,
      base: { service: 'idgraph' },
      redact: { paths: redactPaths, censor: '[redacted]' },
      serializers: { err: pino.stdSerializers.err },
      mixin: () => requestScope.getStore() ?? {},
    },
    options.destination,
  );
}
