import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tsx = path.join(root, 'node_modules/.bin/tsx');

export interface Started {
  port: number;
  /** CPU time (user + system, ms) the process and its children have used so far. */
  cpuMs(): number;
  /** Everything the process printed on stdout so far. */
  output(): string;
  /** Resident memory (bytes) of the process and its children now. */
  rssBytes(): number;
  stop(): Promise<void>;
}

/**
 * Starts a server in its own process, so the load generator does not share its
 * event loop, and waits until it is ready (idgraph: the "ready" log line).
 */
export function startProcess(args: string[], env: Record<string, string>): Promise<Started> {
  // BENCH_PROFILE_DIR: idgraph writes a V8 CPU profile there when it stops (open it in Chrome DevTools).
  const profile = process.env.BENCH_PROFILE_DIR && args.includes('src/main.ts') ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`] : [];
  const child = spawn(tsx, [...profile, ...args], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const port = Number(/"port":(\d+)/.exec(out)?.[1] ?? 0);
      const ready = args.includes('src/main.ts') ? out.includes('"msg":"ready"') : port > 0;
      if (port && ready) {
        resolve({
          port,
          output: () => out,
          cpuMs: () => processCpuMs((p) => p.pid === child.pid || p.ancestors.includes(child.pid!)),
          rssBytes: () => processRssBytes((p) => p.pid === child.pid || p.ancestors.includes(child.pid!)),
          stop: () => new Promise((r) => (child.once('exit', () => r()), child.kill('SIGTERM'))),
        });
      }
    });
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}`)));
  });
}

interface ProcInfo {
  pid: number;
  name: string;
  ancestors: number[];
  cpuMs: number;
}

/** Every process on the machine with its CPU time, from /proc (Linux); empty elsewhere. */
function processes(): ProcInfo[] {
  if (!fs.existsSync('/proc/self/stat')) return [];
  const tick = 1000 / 100; // USER_HZ is 100 on Linux
  const raw = new Map<number, { name: string; ppid: number; cpuMs: number }>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // utime + stime, plus cutime + cstime: the CPU of children it reaped (PostgreSQL backends that ended while
      // measuring stay counted in the postmaster's).
      const ticks = Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
      raw.set(Number(entry), { name, ppid: Number(fields[1]), cpuMs: ticks * tick });
    } catch {
      // the process ended while we read it
    }
  }
  return [...raw].map(([pid, p]) => {
    const ancestors: number[] = [];
    for (let up = p.ppid; up > 1 && raw.has(up) && ancestors.length < 64; up = raw.get(up)!.ppid) ancestors.push(up);
    return { pid, name: p.name, ancestors, cpuMs: p.cpuMs };
  });
}

/** CPU time (ms) used so far by the processes `which` selects. */
export function processCpuMs(which: (p: ProcInfo) => boolean): number {
  return processes()
    .filter(which)
    .reduce((sum, p) => sum + p.cpuMs, 0);
}

/** Resident memory (bytes) of the processes `which` selects, from /proc (Linux); 0 elsewhere. */
export function processRssBytes(which: (p: ProcInfo) => boolean): number {
  const pageSize = 4096;
  return processes()
    .filter(which)
    .reduce((sum, p) => {
      try {
        return sum + Number(fs.readFileSync(`/proc/${p.pid}/statm`, 'utf8').split(' ')[1]) * pageSize;
      } catch {
        return sum;
      }
    }, 0);
}

/** CPU time (ms) the PostgreSQL server processes on this machine have used so far (0 when it runs elsewhere). */
export const postgresCpuMs = () => processCpuMs((p) => p.name === 'postgres' || p.name.startsWith('postgres:'));

const ownCpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

/**
 * A counter of the CPU time (ms) used by the PostgreSQL backends connected to `database`, for cpuPerRequest: on a
 * machine shared with other work, postgresCpuMs counts that work too. Each call adds what every backend used since
 * the previous call (all of it for a backend not seen before); a backend that ended since loses only that part.
 */
export function databaseBackendsCpuMs(database: string): () => number {
  const title = ` ${database} `;
  let seen = new Map<number, number>();
  let total = 0;
  return () => {
    const now = new Map<number, number>();
    for (const entry of fs.existsSync('/proc/self/stat') ? fs.readdirSync('/proc') : []) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        // The backend's process title: "postgres: <cluster>: <user> <database> <client> <state>".
        if (!fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(title)) continue;
        const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        now.set(Number(entry), (Number(fields[11]) + Number(fields[12])) * 10); // utime + stime, USER_HZ 100
      } catch {
        // the process ended while we read it
      }
    }
    for (const [pid, ms] of now) total += Math.max(0, ms - (seen.get(pid) ?? 0));
    seen = now;
    return total;
  };
}

/**
 * CPU ms per request spent by a server, by PostgreSQL (`postgres`: all its processes unless told) and by the load
 * generator (this process) while `run` sends `count()` requests.
 */
export async function cpuPerRequest<T>(server: { cpuMs(): number }, run: () => Promise<T>, count: (result: T) => number, postgres = postgresCpuMs) {
  const before = { server: server.cpuMs(), postgres: postgres(), client: ownCpuMs() };
  const result = await run();
  const n = Math.max(1, count(result));
  return {
    result,
    serverMs: (server.cpuMs() - before.server) / n,
    postgresMs: (postgres() - before.postgres) / n,
    clientMs: (ownCpuMs() - before.client) / n,
  };
}

/** Environment for an idgraph under load: no GraphiQL, info logs (the port is read from them), no per-IP limits. */
export function idgraphEnv(databaseUrl: string): Record<string, string> {
  return {
    GRAPHIQL: 'false',
    LOG_LEVEL: 'info',
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: databaseUrl,
    AUTH_RATE_LIMIT_OTP: '0',
    AUTH_RATE_LIMIT_VERIFY: '0',
    AUTH_RATE_LIMIT_TOKEN: '0',
  };
}

export const machine = () => `node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model.trim() ?? 'unknown'})`;

export const redactUrl = (url: string) => url.replace(/\/\/[^@]*@/, '//***@');

export const fmt = (n: number) => (n >= 100 ? Math.round(n).toString() : n.toFixed(1));

/** Replaces (or appends) one named section of bench/README.md, so each benchmark keeps its latest figures, and prints it. */
export function writeSection(name: string, markdown: string) {
  const file = path.join(root, 'bench/README.md');
  const begin = `<!-- bench:${name} -->`;
  const end = `<!-- /bench:${name} -->`;
  let text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Benchmarks\n\n';
  const block = `${begin}\n${markdown.trim()}\n${end}`;
  const start = text.indexOf(begin);
  const stop = text.indexOf(end);
  text = start >= 0 && stop > start ? text.slice(0, start) + block + text.slice(stop + end.length) : `${text.trimEnd()}\n\n${block}\n`;
  fs.writeFileSync(file, text);
  console.log(markdown);
}

/** A new, empty database on a PostgreSQL server (a fresh first start: bootstrap output included), dropped by drop(). */
export async function createBenchDatabase(serverUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `idgraph_bench_${Date.now()}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    },
  };
}

/** One GraphQL request to a server under test; throws unless it answered data. */
export async function graphql<T>(base: string, query: string, variables: Record<string, unknown>, headers: Record<string, string> = {}): Promise<T> {
  const response = await fetch(`${base}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query, variables }) });
  const body = (await response.json()) as { data?: T; errors?: unknown };
  if (!body.data) throw new Error(`${query}: ${JSON.stringify(body.errors)}`);
  return body.data;
}

/** Runs a benchmark's main; a failure prints and exits 1. */
export function runBench(main: () => Promise<void>) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
