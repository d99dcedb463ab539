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
  /** Everything the process printed on stdout so far. */
  output(): string;
  stop(): Promise<void>;
}

/**
 * Starts a server in its own process, so the load generator does not share its
 * event loop, and waits until it is ready (idgraph: the "ready" log line).
 */
export function startProcess(args: string[], env: Record<string, string>): Promise<Started> {
  const child = spawn(tsx, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
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
          stop: () => new Promise((r) => (child.once('exit', () => r()), child.kill('SIGTERM'))),
        });
      }
    });
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}`)));
  });
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

/** Runs a benchmark's main; a failure prints and exits 1. */
export function runBench(main: () => Promise<void>) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
