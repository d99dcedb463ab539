import type http from 'node:http';
import type { RequestMeta } from '../identity/types.js';

/** A successful answer of /auth/v1 (the embedded engine's or GoTrue's through the proxy), for what idgraph records about it. */
export interface AuthAnswer {
  method: string;
  /** Below /auth/v1, without the query. */
  path: string;
  query: URLSearchParams;
  status: number;
  /** The parsed JSON answer; null when it had no body (204). */
  body: unknown;
  /** The access token the request carried (Authorization: Bearer), if any. */
  bearer: string | null;
  meta: RequestMeta;
}

/** What /auth/v1 hands to idgraph's records, whichever serves it. */
export interface AuthAnswerRecording {
  /** Which answers idgraph needs to read. */
  wants: (method: string, path: string) => boolean;
  /** Runs after the answer was sent; its failures are logged, never shown to the client. */
  afterAnswer: (answer: AuthAnswer) => Promise<void>;
}

/** The access token of `Authorization: Bearer <token>`, or null. */
export function bearerOf(req: http.IncomingMessage): string | null {
  const header = req.headers.authorization;
  const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  return match?.[1] ?? null;
}
