import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { fmt, idgraphEnv, machine, redactUrl, runBench, startProcess, writeSection } from './lib.js';

// Drives the real server on loopback with autocannon and compares it with a bare
// node:http server answering the same bytes in the same run. Writes bench/README.md.
// BENCH_DATABASE_URL picks the database (default: in-memory PGlite);
// BENCH_DURATION (seconds, default 10) and BENCH_CONNECTIONS (default 10) the load.

const duration = Number(process.env.BENCH_DURATION ?? 10);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 10);
const databaseUrl = process.env.BENCH_DATABASE_URL ?? 'memory://';

interface Row {
  name: string;
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

async function measure(name: string, url: string, body: string): Promise<Row> {
  const headers = { 'content-type': 'application/json' };
  await autocannon({ url, method: 'POST', headers, body, connections, duration: 2 }); // warm-up
  const r = await autocannon({ url, method: 'POST', headers, body, connections, duration });
  return { name, rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx, errors: r.errors };
}

async function main() {
  const idgraph = await startProcess(['src/main.ts'], idgraphEnv(databaseUrl));
  const graphqlUrl = `http://127.0.0.1:${idgraph.port}/graphql`;

  const queries = {
    __typename: '{ __typename }',
    health: '{ health { database version } }',
    realm: '{ realm { id slug displayName } }',
  };
  const answers: Record<string, string> = {};
  for (const [key, query] of Object.entries(queries)) {
    const res = await fetch(graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
    answers[key] = await res.text();
  }
  const answersFile = path.join(os.tmpdir(), `idgraph-bench-${process.pid}.json`);
  fs.writeFileSync(answersFile, JSON.stringify(answers));
  const bare = await startProcess(['bench/bare-server.ts', answersFile], {});
  const bareUrl = `http://127.0.0.1:${bare.port}/graphql`;

  const rows: Array<[Row, Row]> = [];
  for (const [key, query] of Object.entries(queries)) {
    const body = JSON.stringify({ query });
    rows.push([await measure(`bare ${key}`, bareUrl, body), await measure(`idgraph ${key}`, graphqlUrl, body)]);
  }
  await Promise.all([bare.stop(), idgraph.stop()]);
  fs.rmSync(answersFile, { force: true });

  const lines = [
    '## GraphQL over HTTP',
    '',
    'Run with `npm run bench` (env: `BENCH_DATABASE_URL`, `BENCH_DURATION`, `BENCH_CONNECTIONS`).',
    'Each query is sent over loopback by autocannon to the real server and to a bare node:http server',
    'that answers the same bytes without GraphQL or a database, in the same run; each server runs in its own process.',
    '',
    `Latest run: ${new Date().toISOString()}, ${machine()}, database ${redactUrl(databaseUrl)}, ${connections} connections, ${duration} s each.`,
    '',
    '| query | bare req/s | idgraph req/s | idgraph / bare | idgraph p50 ms | idgraph p99 ms | non-2xx | errors |',
    '|---|---|---|---|---|---|---|---|',
    ...rows.map(
      ([b, i]) =>
        `| \`${i.name.replace('idgraph ', '')}\` | ${fmt(b.rps)} | ${fmt(i.rps)} | ${(i.rps / b.rps).toFixed(2)} | ${i.p50} | ${i.p99} | ${i.non2xx} | ${i.errors} |`,
    ),
  ];
  writeSection('graphql', lines.join('\n'));
}

runBench(main);
