import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * PGlite is a single-user PostgreSQL: two processes on one data directory each
 * believe they own it and overwrite each other's pages. Every process that
 * opens a directory (the server, `npm run db:migrate`, the backfill CLI) first
 * takes this lock file in it, created with O_EXCL, so exactly one succeeds.
 *
 * A lock whose holder is gone (killed with SIGKILL, power loss) is stale and
 * taken over: its process no longer exists on this host, the machine has
 * rebooted since (Linux boot id), or its pid is our own (a previous run in a
 * container, where the server is always the same pid). A live process that
 * happens to reuse a dead holder's pid keeps the directory locked until the
 * file is removed by hand; the error says which file. A holder on another host
 * (a shared volume) cannot be checked and is never taken over.
 */
export const LOCK_FILE_NAME = 'idgraph.lock';

export interface LockHolder {
  pid: number;
  hostname: string;
  startedAt: string;
  bootId: string | null;
  /** Tells this holder's file from a later one with the same pid. */
  nonce: string;
}

/** A start-up error: the data directory is held by another process. */
export class DataDirLockedError extends Error {
  readonly code = 'data_dir_locked';
  constructor(
    readonly dataDir: string,
    readonly lockPath: string,
    readonly holder: LockHolder | null,
  ) {
    const who = holder
      ? `process ${holder.pid} on ${holder.hostname} (since ${holder.startedAt})`
      : 'another process (its lock file is unreadable)';
    super(
      `The PGlite data directory ${dataDir} is in use by ${who}. ` +
        'Only one process may open it at a time: stop that one first (the server, npm run db:migrate, ...) ' +
        `or use another DATA_DIR. If no such process is running, delete ${lockPath}.`,
    );
    this.name = 'DataDirLockedError';
  }
}

export interface DataDirLock {
  readonly path: string;
  release(): void;
}

// Locks this process holds: a second open in the same process is refused without reading the file.
const held = new Map<string, LockHolder>();

// An unreadable lock this old is a holder that died between creating and writing it.
const UNWRITTEN_LOCK_STALE_MS = 10_000;

function bootId(): string | null {
  try {
    return fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || null;
  } catch {
    return null;
  }
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, under another user.
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

type Observed = { text: string; holder: LockHolder | null; mtimeMs: number } | 'absent';

function observe(lockPath: string): Observed {
  try {
    const text = fs.readFileSync(lockPath, 'utf8');
    const { mtimeMs } = fs.statSync(lockPath);
    let holder: LockHolder | null = null;
    try {
      const parsed = JSON.parse(text) as Partial<LockHolder>;
      if (Number.isInteger(parsed.pid) && typeof parsed.hostname === 'string') holder = parsed as LockHolder;
    } catch {
      holder = null;
    }
    return { text, holder, mtimeMs };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'absent';
    throw error;
  }
}

function isStale({ holder, mtimeMs }: Exclude<Observed, 'absent'>, now: number): boolean {
  if (!holder) return now - mtimeMs > UNWRITTEN_LOCK_STALE_MS;
  if (holder.hostname !== os.hostname()) return false;
  if (holder.pid === process.pid) return true;
  const boot = bootId();
  if (boot && holder.bootId && boot !== holder.bootId) return true;
  return !processExists(holder.pid);
}

function tryCreate(lockPath: string, text: string): boolean {
  let fd: number;
  try {
    fd = fs.openSync(lockPath, 'wx', 0o644);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  try {
    fs.writeSync(fd, text);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  return true;
}

/**
 * Removes a stale lock only if it is still the one judged stale: it is moved
 * aside atomically first, so two processes taking over at once cannot remove
 * a lock the other has just created.
 */
function removeStale(lockPath: string, judged: string) {
  const aside = `${lockPath}.stale-${process.pid}-${randomUUID()}`;
  try {
    fs.renameSync(lockPath, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  const moved = fs.readFileSync(aside, 'utf8');
  if (moved !== judged) {
    // Another process took it over in between: give its lock back.
    try {
      fs.linkSync(aside, lockPath);
    } catch {
      // A third process holds the path now; the next attempt reads it.
    }
  }
  fs.rmSync(aside, { force: true });
}

/** Takes the lock of `dataDir` (creating the directory), or throws DataDirLockedError naming its holder. */
export function lockDataDir(dataDir: string): DataDirLock {
  fs.mkdirSync(dataDir, { recursive: true });
  const lockPath = path.join(dataDir, LOCK_FILE_NAME);
  const ours = held.get(lockPath);
  if (ours) throw new DataDirLockedError(dataDir, lockPath, ours);

  const holder: LockHolder = {
    pid: process.pid,
    hostname: os.hostname(),
    startedAt: new Date().toISOString(),
    bootId: bootId(),
    nonce: randomUUID(),
  };
  const text = `${JSON.stringify(holder)}\n`;
  for (let attempt = 0; attempt < 5; attempt += 1) {
    if (tryCreate(lockPath, text)) {
      held.set(lockPath, holder);
      const release = () => {
        process.off('exit', release);
        if (held.get(lockPath) !== holder) return;
        held.delete(lockPath);
        const current = observe(lockPath);
        if (current !== 'absent' && current.holder?.nonce === holder.nonce) fs.rmSync(lockPath, { force: true });
      };
      // A process that exits without stopping (an uncaught error, process.exit) leaves no lock behind.
      process.on('exit', release);
      return { path: lockPath, release };
    }
    const current = observe(lockPath);
    if (current === 'absent') continue;
    if (!isStale(current, Date.now())) throw new DataDirLockedError(dataDir, lockPath, current.holder);
    removeStale(lockPath, current.text);
  }
  const last = observe(lockPath);
  throw new DataDirLockedError(dataDir, lockPath, last === 'absent' ? null : last.holder);
}
