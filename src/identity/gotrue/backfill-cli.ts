import { ConfigError, loadConfig } from '../../config.js';
import { openDatabase } from '../../db/client.js';
import { queuedDestinations } from '../../events/destinations.js';
import { createEventStore } from '../../events/store.js';
import { createLogger } from '../../log.js';
import { backfillUsers, type BackfillProgress } from '../../services/user-backfill.js';
import { createUserMirror } from '../../services/user-mirror.js';
import { createUserSync } from '../../services/user-sync.js';
import { createGotrueIdentity } from './identity.js';
import { DataDirLockedError } from '../../db/data-dir-lock.js';

// npm run gotrue:backfill [-- --per-page=200]
// Mirrors every user of the GoTrue server at GOTRUE_URL into idgraph's users table.

function progressLine({ synced, total, page }: BackfillProgress) {
  const percent = total ? Math.floor((synced / total) * 100) : 100;
  return `page ${page}: ${synced}/${total} users mirrored (${percent}%)`;
}

async function main(): Promise<number> {
  const config = loadConfig();
  if (!config.gotrue) throw new ConfigError(['GOTRUE_URL: is required to backfill users from GoTrue']);
  const perPage = Number(/--per-page=(\d+)/.exec(process.argv.join(' '))?.[1] ?? 200);
  const log = createLogger({ level: 'warn' });
  const db = await openDatabase(config.database);
  const gotrue = createGotrueIdentity({ config: config.gotrue, log, clock: Date.now });
  const interactive = process.stderr.isTTY;
  try {
    const sync = createUserSync({ mirror: createUserMirror({ db: db.prisma, events: createEventStore({ destinations: queuedDestinations(config) }) }) });
    const done = await backfillUsers({
      listUsers: (page, size) => gotrue.client.admin.listUsers(page, size),
      sync,
      perPage,
      // On a terminal the line is redrawn in place; in a log, one line per page.
      onProgress: (p) => process.stderr.write(interactive ? `\r${progressLine(p)}` : `${progressLine(p)}\n`),
    });
    process.stderr.write(`${interactive ? '\n' : ''}Done: ${done.synced} users mirrored.\n`);
    return 0;
  } finally {
    await gotrue.close();
    await db.close();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof DataDirLockedError) console.error(`${error.code}: ${error.message}`);
    else console.error(error instanceof ConfigError ? error.message : error);
    process.exit(1);
  },
);
