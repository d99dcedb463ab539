import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { DataDirLockedError, LOCK_FILE_NAME, lockDataDir } from '../../src/db/data-dir-lock.js';
import { testDatabaseKind } from '../helpers/database.js';
import { runScript, type ScriptRun } from '../helpers/process.js';

const env = (dataDir: string) => ({ DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info' });
const server = (dataDir: string) => runScript('src/main.ts', [], env(dataDir));
const migrate = (dataDir: string) => runScript('src/db/migrate-cli.ts', ['deploy'], env(dataDir));

/** The lock is taken when the database opens, before the server listens. */
async function listening(server: ScriptRun) {
  await vi.waitFor(() => expect(server.out()).toContain('"msg":"listening"'), { timeout: 90_000, interval: 100 });
  return Number(/"port":(\d+)/.exec(server.out())![1]);
}

const running: ScriptRun[] = [];
afterAll(() => {
  for (const r of running) if (r.child.exitCode === null) r.child.kill('SIGKILL');
});

const tempDir = (tag: string) => fs.mkdtempSync(path.join(os.tmpdir(), `idgraph-${tag}-`));

describe.skipIf(testDatabaseKind !== 'pglite')('one process per PGlite data directory', () => {
  it('a second server and db:migrate are refused while one runs, naming the directory and the holder; after SIGKILL the stale lock is taken over', async () => {
    const dataDir = tempDir('lock');
    const pgliteDir = path.join(dataDir, 'pglite');
    const first = server(dataDir);
    running.push(first);
    const port = await listening(first);

    const second = server(dataDir);
    running.push(second);
    // Before the lock, the second process also started on the same directory.
    expect(await Promise.race([second.exited, listening(second).then(() => 'listening', () => 'never listened')])).toBe(75);
    expect(second.err()).toContain('data_dir_locked');
    expect(second.err()).toContain(pgliteDir);
    expect(second.err()).toContain(`process ${first.child.pid}`);
    expect(second.out()).not.toContain('"msg":"listening"');

    const migration = migrate(dataDir);
    running.push(migration);
    expect(await migration.exited).toBe(1);
    expect(migration.err()).toContain(`data_dir_locked: The PGlite data directory ${pgliteDir} is in use by process ${first.child.pid}`);

    // The refused processes did not disturb the one that holds the directory.
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    expect(first.child.exitCode).toBeNull();
    const holder = JSON.parse(fs.readFileSync(path.join(pgliteDir, LOCK_FILE_NAME), 'utf8')) as { pid: number; hostname: string };
    expect(holder).toMatchObject({ pid: first.child.pid, hostname: os.hostname() });

    // SIGKILL leaves the lock file behind; its pid is gone, so the next process takes it over.
    first.child.kill('SIGKILL');
    await first.exited;
    expect(fs.existsSync(path.join(pgliteDir, LOCK_FILE_NAME))).toBe(true);
    const third = server(dataDir);
    running.push(third);
    await listening(third);
    expect(JSON.parse(fs.readFileSync(path.join(pgliteDir, LOCK_FILE_NAME), 'utf8'))).toMatchObject({ pid: third.child.pid });

    // A clean stop (SIGTERM is handled once the first start-up attempt is over) removes the lock;
    // db:migrate then opens the directory, and leaves no lock behind either.
    await vi.waitFor(() => expect(third.out()).toContain('idgraph at'), { timeout: 90_000, interval: 100 });
    third.child.kill('SIGTERM');
    expect(await third.exited).toBe(0);
    expect(fs.existsSync(path.join(pgliteDir, LOCK_FILE_NAME))).toBe(false);
    const afterStop = migrate(dataDir);
    running.push(afterStop);
    await afterStop.exited;
    expect(afterStop.out()).toContain(`Applying migrations to pglite:${pgliteDir}`);
    expect(afterStop.err()).not.toContain('data_dir_locked');
    expect(fs.existsSync(path.join(pgliteDir, LOCK_FILE_NAME))).toBe(false);
  }, 300_000);

  it('the lock file: refused while held in this process or by a live process, taken over from a dead one or an earlier boot, released once', () => {
    const dir = tempDir('lockfile');
    const lockPath = path.join(dir, LOCK_FILE_NAME);
    const lock = lockDataDir(dir);
    expect(() => lockDataDir(dir)).toThrow(DataDirLockedError);
    lock.release();
    expect(fs.existsSync(lockPath)).toBe(false);

    const write = (holder: Record<string, unknown>) =>
      fs.writeFileSync(lockPath, JSON.stringify({ hostname: os.hostname(), startedAt: 'then', bootId: null, nonce: 'n', ...holder }));
    // The test runner's parent process is alive and is not this process.
    write({ pid: process.ppid });
    const refused = (() => {
      try {
        lockDataDir(dir);
      } catch (error) {
        return error;
      }
      return null;
    })();
    expect(refused).toBeInstanceOf(DataDirLockedError);
    expect((refused as DataDirLockedError).code).toBe('data_dir_locked');
    expect((refused as DataDirLockedError).message).toContain(`${dir} is in use by process ${process.ppid} on ${os.hostname()}`);
    // A holder on another host cannot be checked from here: refused, whatever its pid.
    write({ pid: 2 ** 22 + 1, hostname: `not-${os.hostname()}` });
    expect(() => lockDataDir(dir)).toThrow(DataDirLockedError);

    // No such pid: stale.
    write({ pid: 2 ** 22 + 1 });
    const takenFromDead = lockDataDir(dir);
    takenFromDead.release();
    // Our own pid, written by an earlier process (a restarted container): stale.
    write({ pid: process.pid });
    lockDataDir(dir).release();
    // A live pid recorded before the machine's last boot is another process now: stale.
    if (fs.existsSync('/proc/sys/kernel/random/boot_id')) {
      write({ pid: process.ppid, bootId: 'an-earlier-boot' });
      lockDataDir(dir).release();
    }

    // Releasing twice, or after another process took the file over, removes nothing of theirs.
    const mine = lockDataDir(dir);
    fs.rmSync(lockPath);
    write({ pid: process.ppid });
    mine.release();
    mine.release();
    expect(fs.existsSync(lockPath)).toBe(true);
  });
});
