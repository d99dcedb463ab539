import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { type Dispatcher, Pool } from 'undici';
import type { Logger } from '../../log.js';
import { ProviderError } from '../errors.js';
import { createCircuitBreaker } from './breaker.js';
import { parseGotrueError, upstreamUnavailable } from './errors.js';

export interface TransportOptions {
  /** GoTrue's base URL, with its path prefix if any (hosted: https://<ref>.supabase.co/auth/v1). */
  baseUrl: string;
  timeouts: { connectMs: number; headersMs: number; bodyMs: number };
  maxConnections: number;
  /** Extra attempts for idempotent calls after a network error or a 502–504. */
  retries: number;
  retryBaseDelayMs: number;
  breaker: { threshold: number; cooldownMs: number };
  clock: () => number;
  random: () => number;
  log: Logger;
}

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface JsonCall {
  method: Method;
  path: string;
  query?: Record<string, string | number | boolean | null | undefined>;
  /** A JSON body, or a pre-encoded one (the SAML ACS form post). */
  body?: unknown;
  rawBody?: string;
  headers: Record<string, string>;
  /** Safe to send twice: only these are retried. */
  idempotent: boolean;
  /** 'text' for the one non-JSON answer (SAML metadata XML). */
  answer?: 'json' | 'text';
}

export interface JsonAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  /** Parsed JSON (or the text when asked for); null for an empty body (204, redirects). */
  body: unknown;
}

export interface RawCall {
  method: string;
  /** Path and query below the base URL, e.g. "/token?grant_type=password". */
  pathAndQuery: string;
  headers: Record<string, string | string[]>;
  body: Readable | null;
}

/** Bodies bigger than this from GoTrue are refused (a page of 1000 admin users fits well below). */
const MAX_ANSWER_BYTES = 16 * 1024 * 1024;
const RETRIABLE_STATUS = new Set([502, 503, 504]);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A failure on the way to or from GoTrue (no usable answer): counted by the breaker, retried when safe. */
class TransportFailure extends Error {
  constructor(
    readonly reason: string,
    options?: { cause?: unknown },
    /** Network errors and 502–504 may pass on a second try; a garbled answer will not. */
    readonly retriable = true,
  ) {
    super(reason, options);
  }
}

const describeFailure = (error: unknown) => {
  const e = error as { code?: string; name?: string; message?: string };
  return e.code ?? e.name ?? e.message ?? 'network error';
};

/**
 * HTTP to GoTrue over one keep-alive undici pool with bounded connections.
 * Every call has connect, header and body timeouts plus an overall deadline,
 * goes through a circuit breaker, and (only when idempotent) is retried on
 * network errors and 502–504 with full-jitter exponential backoff. Nothing
 * that can carry a credential (headers, bodies, query strings) is logged.
 */
export function createGotrueTransport(options: TransportOptions) {
  const base = new URL(options.baseUrl);
  const prefix = base.pathname.replace(/\/$/, '');
  const { connectMs, headersMs, bodyMs } = options.timeouts;
  const pool = new Pool(base.origin, {
    connections: options.maxConnections,
    pipelining: 1,
    connect: { timeout: connectMs },
    headersTimeout: headersMs,
    bodyTimeout: bodyMs,
    keepAliveTimeout: 4_000,
    keepAliveMaxTimeout: 60_000,
  });
  const breaker = createCircuitBreaker({ ...options.breaker, clock: options.clock });
  const deadlineMs = connectMs + headersMs + bodyMs;

  function refuseWhenOpen() {
    if (breaker.tryAcquire()) return;
    throw upstreamUnavailable('circuit open after repeated failures', Math.max(1, Math.ceil(breaker.retryAfterMs() / 1000)));
  }

  async function readBody(body: Dispatcher.ResponseData['body']): Promise<string> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of body) {
      size += (chunk as Buffer).length;
      if (size > MAX_ANSWER_BYTES) {
        body.destroy();
        throw new TransportFailure('answer too large');
      }
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  /**
   * undici's own header and body timers tick at a one-second resolution; these
   * make the headers phase (connect + headers) and the whole exchange end on time.
   */
  async function request(options: Omit<Dispatcher.RequestOptions, 'signal' | 'headersTimeout' | 'bodyTimeout'>) {
    const controller = new AbortController();
    const headersTimer = setTimeout(() => controller.abort(new TransportFailure('headers timeout')), connectMs + headersMs);
    const deadline = setTimeout(() => controller.abort(new TransportFailure('deadline exceeded')), deadlineMs);
    try {
      const response = await pool.request({ ...options, headersTimeout: headersMs, bodyTimeout: bodyMs, signal: controller.signal });
      response.body.once('close', () => clearTimeout(deadline));
      return response;
    } catch (error) {
      clearTimeout(deadline);
      throw error;
    } finally {
      clearTimeout(headersTimer);
    }
  }

  async function attempt(call: JsonCall, url: string): Promise<JsonAnswer> {
    let response: Dispatcher.ResponseData;
    try {
      response = await request({
        method: call.method,
        path: url,
        headers: call.headers,
        body: call.rawBody ?? (call.body === undefined ? null : JSON.stringify(call.body)),
      });
    } catch (error) {
      throw error instanceof TransportFailure ? error : new TransportFailure(describeFailure(error), { cause: error });
    }
    let text: string;
    try {
      text = await readBody(response.body);
    } catch (error) {
      throw error instanceof TransportFailure ? error : new TransportFailure(`body: ${describeFailure(error)}`, { cause: error });
    }
    if (RETRIABLE_STATUS.has(response.statusCode)) throw new TransportFailure(`status ${response.statusCode}`);
    let body: unknown = null;
    if (call.answer === 'text' && response.statusCode < 400) body = text;
    else if (text.trim()) {
      try {
        body = JSON.parse(text);
      } catch {
        // A proxy's HTML error page or a cut-off answer: GoTrue itself always answers JSON.
        throw new TransportFailure(`invalid JSON (status ${response.statusCode})`, {}, false);
      }
    }
    return { status: response.statusCode, headers: response.headers, body };
  }

  return {
    breaker,

    /** A JSON call. Resolves with 2xx/3xx answers; GoTrue's error answers become ProviderErrors. */
    async json(call: JsonCall): Promise<JsonAnswer> {
      const query = new URLSearchParams();
      for (const [k, v] of Object.entries(call.query ?? {})) if (v !== undefined && v !== null) query.set(k, String(v));
      const url = `${prefix}${call.path}${query.size ? `?${query}` : ''}`;
      const attempts = call.idempotent ? options.retries + 1 : 1;
      for (let n = 0; ; n++) {
        refuseWhenOpen();
        try {
          const answer = await attempt(call, url);
          breaker.success();
          if (answer.status >= 400) throw parseGotrueError(answer.status, answer.body, answer.headers['retry-after'] as string | undefined);
          return answer;
        } catch (error) {
          if (!(error instanceof TransportFailure)) throw error;
          breaker.failure();
          options.log.warn({ method: call.method, path: call.path, reason: error.reason, attempt: n + 1 }, 'GoTrue call failed');
          if (!error.retriable || n + 1 >= attempts || breaker.state() !== 'closed') throw upstreamUnavailable(error.reason);
          await sleep(options.random() * Math.min(2_000, options.retryBaseDelayMs * 2 ** n));
        }
      }
    },

    /**
     * A raw exchange for the /auth/v1 proxy: the caller streams the request
     * body and the answer. The breaker counts it by its status line.
     */
    async raw(call: RawCall): Promise<Dispatcher.ResponseData> {
      refuseWhenOpen();
      try {
        const response = await request({
          method: call.method as Dispatcher.HttpMethod,
          path: `${prefix}${call.pathAndQuery}`,
          headers: call.headers,
          body: call.body,
        });
        if (RETRIABLE_STATUS.has(response.statusCode)) breaker.failure();
        else breaker.success();
        return response;
      } catch (error) {
        breaker.failure();
        const reason = error instanceof TransportFailure ? error.reason : describeFailure(error);
        options.log.warn({ method: call.method, path: call.pathAndQuery.split('?')[0], reason }, 'GoTrue proxy call failed');
        throw error instanceof ProviderError ? error : upstreamUnavailable(reason);
      }
    },

    close: () => pool.close(),
  };
}

export type GotrueTransport = ReturnType<typeof createGotrueTransport>;
