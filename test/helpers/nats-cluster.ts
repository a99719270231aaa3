/**
 * A private NATS cluster for integration tests: `size` nats-server processes (2.9; with
 * JetStream when `jetstream` is set) on 127.0.0.1, each on free ports, routed to each other, each with its own
 * config and log file in `dir`. Never a system service: the servers are our children and
 * are killed when the test process exits, even on failure.
 *
 * Ready means: every client port accepts, and every server's monitoring endpoint
 * (/routez) shows a route to each other server.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { killOnExit } from './children.js';
import { canConnect, freePort } from './ports.js';


export const NATS_SERVER_BIN = process.env.NATS_SERVER ?? '/usr/sbin/nats-server';

/**
 * One nats-server on a free 127.0.0.1 port from `conf` (written to `dir`/`name`.conf after
 * its `listen` line), ready when its client port accepts (10 s, or it exits: an error).
 * The caller owns `proc` and kills it.
 */
export async function startNatsServer(dir: string, name: string, conf: string): Promise<{ port: number; proc: ChildProcess }> {
  const port = await freePort();
  const file = path.join(dir, `${name}.conf`);
  writeFileSync(file, `listen: 127.0.0.1:${port}\n${conf}\n`);
  const proc = spawn(NATS_SERVER_BIN, ['-c', file], { stdio: 'ignore' });
  const end = Date.now() + 10_000;
  while (!(await canConnect(port))) {
    if (Date.now() > end || proc.exitCode !== null) throw new Error(`nats-server ${name} did not start`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { port, proc };
}

export interface NatsClusterOptions {
  readonly size?: number;
  /** Folder for configs and logs; a temp dir (removed by stopAll) when omitted. */
  readonly dir?: string;
  readonly auth?: { readonly user: string; readonly pass: string };
  /**
   * Do not gossip client URLs to clients (`cluster.no_advertise`). A client then knows
   * only the servers it was given, which a test of a proxied client needs.
   */
  readonly noAdvertise?: boolean;
  /** Bound on every start and stop, ms (default 10 s). */
  readonly timeoutMs?: number;
  /** Run JetStream on every server, storing in `dir` (stream replicas up to `size`). */
  readonly jetstream?: boolean;
  /** Choose ports and write configs but start no server (start(i) later): NATS that comes after its clients. */
  readonly stopped?: boolean;
}

export interface NatsCluster {
  /** `nats://127.0.0.1:<port>` per server. */
  readonly urls: readonly string[];
  readonly ports: readonly number[];
  /** The monitoring port of each server (http://127.0.0.1:<port>/connz?subs=1 ...). */
  readonly monitorPorts: readonly number[];
  readonly dir: string;
  /** SIGTERM the server (SIGKILL after the bound) and wait for it to exit. */
  stop(i: number): Promise<void>;
  /** kill -9 server i (no shutdown, no flush) and wait for it to exit; start(i) brings it back on the same ports and store. */
  kill9(i: number): Promise<void>;
  /**
   * Start a stopped server on the same ports and wait until it accepts and is routed.
   * `auth` rewrites its client credentials first (null: none), e.g. to rotate a password.
   */
  start(i: number, change?: { auth: { readonly user: string; readonly pass: string } | null }): Promise<void>;
  restart(i: number): Promise<void>;
  /** Stop every server (and remove the temp dir if we made it). Safe to call twice. */
  stopAll(): Promise<void>;
  /** The last `n` characters of server i's log, for failure messages. */
  logTail(i: number, n?: number): Promise<string>;
}




const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function routeCount(httpPort: number): Promise<number> {
  try {
    const res = await fetch(`http://127.0.0.1:${httpPort}/routez`, { signal: AbortSignal.timeout(1000) });
    const body = (await res.json()) as { num_routes?: number };
    return body.num_routes ?? 0;
  } catch {
    return -1;
  }
}

interface Server {
  readonly name: string;
  readonly clientPort: number;
  readonly clusterPort: number;
  readonly httpPort: number;
  readonly cfgPath: string;
  readonly logPath: string;
  proc: ChildProcess | undefined;
}

const q = (s: string): string => JSON.stringify(s); // a JSON string is a valid NATS conf string

type Auth = { readonly user: string; readonly pass: string } | undefined;

function config(s: Server, all: readonly Server[], opts: NatsClusterOptions, auth: Auth): string {
  const routes = all.filter((o) => o !== s).map((o) => q(`nats-route://127.0.0.1:${o.clusterPort}`));
  const lines = [
    `server_name: ${q(s.name)}`,
    `listen: "127.0.0.1:${s.clientPort}"`,
    `http: "127.0.0.1:${s.httpPort}"`,
    // Envelopes go up to 8 MiB (ledger-node/p2p/envelope.ts); the default is 1 MB.
    `max_payload: 8MB`,
    `log_file: ${q(s.logPath)}`,
    `cluster {`,
    `  name: "ml-test"`,
    `  listen: "127.0.0.1:${s.clusterPort}"`,
    `  routes: [${routes.join(', ')}]`,
    `  connect_retries: 120`,
    ...(opts.noAdvertise ? ['  no_advertise: true'] : []),
    `}`,
    ...(opts.jetstream ? [`jetstream {`, `  store_dir: ${q(s.logPath.replace(/\.log$/, '-js'))}`, `  max_memory_store: 64MB`, `  max_file_store: 1GB`, `}`] : []),
  ];
  if (auth) lines.push(`authorization {`, `  user: ${q(auth.user)}`, `  password: ${q(auth.pass)}`, `}`);
  return lines.join('\n') + '\n';
}

export async function startNatsCluster(opts: NatsClusterOptions = {}): Promise<NatsCluster> {
  const size = opts.size ?? 3;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const ownDir = opts.dir === undefined;
  const dir = opts.dir ?? (await mkdtemp(path.join(os.tmpdir(), 'ml-nats-')));

  // Ports are chosen once and kept across restarts, so routes and client URLs stay valid.
  const servers: Server[] = [];
  const taken = new Set<number>();
  const pick = async (): Promise<number> => {
    for (;;) {
      const p = await freePort();
      if (!taken.has(p)) {
        taken.add(p);
        return p;
      }
    }
  };
  for (let i = 0; i < size; i++) {
    const name = `n${i}`;
    servers.push({
      name,
      clientPort: await pick(),
      clusterPort: await pick(),
      httpPort: await pick(),
      cfgPath: path.join(dir, `${name}.conf`),
      logPath: path.join(dir, `${name}.log`),
      proc: undefined,
    });
  }
  for (const s of servers) await writeFile(s.cfgPath, config(s, servers, opts, opts.auth));

  const logTail = async (i: number, n = 2000): Promise<string> => {
    try {
      return (await readFile(servers[i]!.logPath, 'utf8')).slice(-n);
    } catch {
      return '(no log)';
    }
  };

  const spawnOne = (s: Server): void => {
    const proc = spawn(NATS_SERVER_BIN, ['-c', s.cfgPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr!.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-2000);
    });
    proc.on('error', () => {}); // reported by the wait below (no port, exit)
    (proc as ChildProcess & { stderrTail?: () => string }).stderrTail = () => stderr;
    killOnExit(proc);
    s.proc = proc;
  };

  /** Wait until each running server accepts clients and is routed to every other running one. */
  const waitReady = async (which: readonly number[]): Promise<void> => {
    const running = servers.filter((s) => s.proc && s.proc.exitCode === null && s.proc.signalCode === null).length;
    const deadline = Date.now() + timeoutMs;
    for (const i of which) {
      const s = servers[i]!;
      for (;;) {
        if (!s.proc || s.proc.exitCode !== null || s.proc.signalCode !== null) {
          const err = (s.proc as (ChildProcess & { stderrTail?: () => string }) | undefined)?.stderrTail?.() ?? '';
          throw new Error(`nats-server ${s.name} exited while starting: ${err}\n${await logTail(i)}`);
        }
        if ((await canConnect(s.clientPort)) && (await routeCount(s.httpPort)) >= running - 1) break;
        if (Date.now() > deadline) throw new Error(`nats-server ${s.name} not ready within ${timeoutMs} ms\n${await logTail(i)}`);
        await sleep(50);
      }
    }
  };

  const stop = async (i: number): Promise<void> => {
    const s = servers[i]!;
    const proc = s.proc;
    s.proc = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill('SIGTERM');
    const t = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(t);
  };

  const kill9 = async (i: number): Promise<void> => {
    const s = servers[i]!;
    const proc = s.proc;
    s.proc = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill('SIGKILL');
    await exited;
  };

  const start = async (i: number, change?: { auth: Auth | null }): Promise<void> => {
    const s = servers[i]!;
    if (s.proc && s.proc.exitCode === null && s.proc.signalCode === null) return;
    if (change) await writeFile(s.cfgPath, config(s, servers, opts, change.auth ?? undefined));
    spawnOne(s);
    await waitReady([i]);
  };

  let stopped = false;
  const stopAll = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await Promise.all(servers.map((_, i) => stop(i)));
    if (ownDir) await rm(dir, { recursive: true, force: true });
  };

  try {
    if (!opts.stopped) {
      for (const s of servers) spawnOne(s);
      await waitReady(servers.map((_, i) => i));
    }
  } catch (err) {
    await stopAll();
    throw err;
  }

  return {
    urls: servers.map((s) => `nats://127.0.0.1:${s.clientPort}`),
    ports: servers.map((s) => s.clientPort),
    monitorPorts: servers.map((s) => s.httpPort),
    dir,
    stop,
    kill9,
    start,
    restart: async (i) => {
      await stop(i);
      await start(i);
    },
    stopAll,
    logTail,
  };
}
