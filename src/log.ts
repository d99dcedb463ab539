import { pino, type Logger } from 'pino';

export type { Logger };

// Anything that can carry a credential is censored wherever it appears in a log
// object, at the top level or one level down (req.headers.authorization, input.password...).
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

export function createLogger(options: { level: string; destination?: pino.DestinationStream }): Logger {
  return pino(
    {
      level: options.level,
      base: { service: 'idgraph' },
      redact: { paths: redactPaths, censor: '[redacted]' },
      serializers: { err: pino.stdSerializers.err },
    },
    options.destination,
  );
}
