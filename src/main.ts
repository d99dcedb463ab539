import { buildApp } from './app.js';
import { DataDirLockedError } from './db/data-dir-lock.js';
import { loadConfigOrExit, stopOnSignals } from './lifecycle.js';
import { createLogger } from './log.js';

async function main() {
  const config = loadConfigOrExit();
  const log = createLogger({ level: config.logLevel });
  const app = await buildApp(config, { log });
  const { url } = await app.start();
  log.info(`idgraph at ${url}/graphql`);
  stopOnSignals(log, () => app.stop());
}

main().catch((error: unknown) => {
  if (error instanceof DataDirLockedError) {
    console.error(`idgraph failed to start (${error.code}): ${error.message}`);
    process.exit(75); // EX_TEMPFAIL: the directory is busy; retry once its holder has stopped
  }
  console.error('idgraph failed to start:', error);
  process.exit(1);
});
