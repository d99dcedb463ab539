import { AppError } from '../errors.js';
import { Prisma } from '../generated/prisma/client.js';

/** A unique constraint refused the write (Prisma's P2002). */
export function isUniqueViolation(error: unknown): boolean {
  return error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002';
}

// Prisma: P1001 cannot reach, P1002 timed out, P1008 operation timed out, P1017 connection closed, P2024 no pooled
// connection in time; P2028 with a timeout is a transaction that could not start or outlived its timeout (rolled back).
const UNAVAILABLE_PRISMA_CODES = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024']);
// Node and PostgreSQL: refused or reset connections, admin or crash shutdown, starting up, too many connections,
// and PostgreSQL's connection exceptions (class 08).
const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', '57P01', '57P02', '57P03', '53300', '08000', '08001', '08003', '08004', '08006']);
// The kinds a Prisma driver adapter gives a connection that failed (DriverAdapterError's cause).
const UNAVAILABLE_ADAPTER_KINDS = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout', 'TooManyConnections']);
// pg-pool's own messages: no connection free within DATABASE_CONNECT_TIMEOUT_MS, or the server went away.
const UNAVAILABLE_MESSAGES = new Set(['timeout exceeded when trying to connect', 'Connection terminated unexpectedly']);

/**
 * The database did not answer in time, or at all: the request failed before
 * anything was committed, and the same request can succeed a moment later.
 */
export function isDatabaseUnavailable(error: unknown, depth = 0): boolean {
  if (error instanceof Prisma.PrismaClientKnownRequestError) {
    if (UNAVAILABLE_PRISMA_CODES.has(error.code)) return true;
    if (error.code === 'P2028') return /timeout|expired|in the given time/i.test(error.message);
  }
  if (error instanceof Prisma.PrismaClientInitializationError) return true;
  if (!error || typeof error !== 'object' || depth > 3) return false;
  const { message, code, cause, kind, originalCode, meta } = error as {
    message?: unknown;
    code?: unknown;
    cause?: unknown;
    kind?: unknown;
    originalCode?: unknown;
    meta?: { driverAdapterError?: unknown };
  };
  if (typeof message === 'string' && UNAVAILABLE_MESSAGES.has(message)) return true;
  if (typeof code === 'string' && UNAVAILABLE_CODES.has(code)) return true;
  if (typeof originalCode === 'string' && UNAVAILABLE_CODES.has(originalCode)) return true;
  if (typeof kind === 'string' && UNAVAILABLE_ADAPTER_KINDS.has(kind)) return true;
  // Raw queries ($queryRaw, P2010) and database errors (P2039) carry the adapter's error in meta, not in cause.
  if (meta?.driverAdapterError !== undefined && isDatabaseUnavailable(meta.driverAdapterError, depth + 1)) return true;
  return cause !== undefined && isDatabaseUnavailable(cause, depth + 1);
}

/** A record the operation required was not there (Prisma's P2025: findUniqueOrThrow, update or delete of a missing row). */
export function isRecordNotFound(error: unknown): boolean {
  return error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2025';
}

/** What a caller gets when a store idgraph needs did not answer: 503 `unavailable`, to retry after a second. */
export const storeUnavailable = (store: string, cause: unknown) =>
  new AppError('unavailable', `${store} did not answer in time; retry shortly.`, { retryAfterSeconds: 1 }, { cause });

export const databaseUnavailable = (cause: unknown) => storeUnavailable('The database', cause);
