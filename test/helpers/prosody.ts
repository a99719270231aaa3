/**
 * A private Prosody (0.12) for integration tests: its own temp dir (config, data, pid,
 * log, a self-signed certificate), listening for c2s on 127.0.0.1 only, on a free port,
 * STARTTLS required, no s2s, no HTTP. Never the system service: we run
 * `prosody -F --config <cfg>` as our child and kill it when done.
 *
 * As root, Prosody (util/startup.lua, mod_posix) refuses to run or tries to switch to the
 * `prosody` user; `run_as_root = true` is written into the config only when we are root.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { openSync, closeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { killOnExit } from './children.js';
import { canConnect, freePort } from './ports.js';


const run = promisify(execFile);

export interface ProsodyOptions {
  readonly domain?: string;
  /** Accounts to create before the first start: username -> password. */
  readonly accounts?: Record<string, string>;
  /** Require STARTTLS (default true). When false, no certificate is configured at all. */
  readonly tls?: boolean;
  /** Bound on starting, stopping and on each prosodyctl call, ms. */
  readonly timeoutMs?: number;
}

export interface Prosody {
  readonly port: number;
  readonly domain: string;
  /** `xmpp://127.0.0.1:<port>` */
  readonly service: string;
  /** Direct TLS (RFC 7590, `xmpps://127.0.0.1:<port>`), when TLS is on. */
  readonly directTlsService: string | undefined;
  readonly cfgPath: string;
  readonly dir: string;
  /** PEM of the self-signed certificate (trust it as `tls: { ca }`), or undefined without TLS. */
  readonly ca: string | undefined;
  register(user: string, password: string): Promise<void>;
  /** Stop the server (SIGTERM, then SIGKILL) and start it again on the same port and data. */
  restart(opts?: { downMs?: number }): Promise<void>;
  /** Stop the server and remove its directory. Safe to call twice. */
  stop(): Promise<void>;
  /** The last `n` characters of Prosody's log (for failure messages). */
  logTail(n?: number): Promise<string>;
}




const lua = (s: string): string => JSON.stringify(s); // a JSON string is a valid Lua string here

export async function startProsody(o: ProsodyOptions = {}): Promise<Prosody> {
  const domain = o.domain ?? 'meterledger.test';
  const timeoutMs = o.timeoutMs ?? 15_000;
  const useTls = o.tls ?? true;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ml-prosody-'));
  const dataDir = path.join(dir, 'data');
  await mkdir(dataDir);
  const port = await freePort();
  const tlsPort = useTls ? await freePort() : undefined;
  const logPath = path.join(dir, 'prosody.log');
  const cfgPath = path.join(dir, 'prosody.cfg.lua');
  let ca: string | undefined;
  if (useTls) {
    const key = path.join(dir, `${domain}.key`);
    const crt = path.join(dir, `${domain}.crt`);
    await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-keyout', key, '-out', crt, '-days', '2', '-subj', `/CN=${domain}`, '-addext', `subjectAltName=DNS:${domain}`],
    { timeout: timeoutMs });
    ca = await readFile(crt, 'utf8');
  }
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const cfg = [
    '-- written by test/helpers/prosody.ts; a throwaway server for one test file',
    ...(isRoot ? ['run_as_root = true'] : []),
    `pidfile = ${lua(path.join(dir, 'prosody.pid'))}`,
    `data_path = ${lua(dataDir)}`,
    `certificates = ${lua(dir)}`,
    `log = { { levels = { min = "debug" }, to = "file", filename = ${lua(logPath)} } }`,
    `c2s_ports = { ${port} }`,
    `c2s_interfaces = { "127.0.0.1" }`,
    `c2s_direct_tls_ports = { ${tlsPort ?? ''} }`,
    'c2s_direct_tls_interfaces = { "127.0.0.1" }',
    's2s_ports = { }',
    'authentication = "internal_hashed"',
    'storage = "internal"',
    // Without TLS, no STARTTLS either: the server offers plain text only.
    `modules_enabled = { "saslauth", ${useTls ? '"tls", ' : ''}"ping", "disco" }`,
    `modules_disabled = { "s2s", "s2s_auth_certs", "dialback", "http", "bosh", "websocket", "limits"${useTls ? '' : ', "tls"'} }`,
    `c2s_require_encryption = ${useTls}`,
    `VirtualHost ${lua(domain)}`,
    ...(useTls ? [`  ssl = { certificate = ${lua(path.join(dir, `${domain}.crt`))}, key = ${lua(path.join(dir, `${domain}.key`))} }`] : []),
    '',
  ].join('\n');
  await writeFile(cfgPath, cfg);

  const register = async (user: string, password: string): Promise<void> => {
    await run('prosodyctl', ['--config', cfgPath, 'register', user, domain, password], { timeout: timeoutMs });
  };
  for (const [u, p] of Object.entries(o.accounts ?? {})) await register(u, p);

  let child: ChildProcess | undefined;
  const logTail = async (n = 4000): Promise<string> => (await readFile(logPath, 'utf8').catch(() => '')).slice(-n);

  const launch = async (): Promise<void> => {
    const out = openSync(path.join(dir, 'stdout.log'), 'a');
    const c = spawn('prosody', ['-F', '--config', cfgPath], { stdio: ['ignore', out, out] });
    closeSync(out);
    child = c;
    killOnExit(c);
    let exited: string | undefined;
    c.once('exit', (code, sig) => {
      exited = `prosody exited (${code ?? sig})`;
    });
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (exited) throw new Error(`${exited} while starting:\n${await logTail()}`);
      if (await canConnect(port)) return;
      if (Date.now() > deadline) {
        c.kill('SIGKILL');
        throw new Error(`prosody not listening on 127.0.0.1:${port} after ${timeoutMs} ms:\n${await logTail()}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  const halt = async (): Promise<void> => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGTERM');
    const t = setTimeout(() => c.kill('SIGKILL'), Math.min(5000, timeoutMs));
    await gone;
    clearTimeout(t);
  };

  await launch();
  let stopped = false;
  return {
    port, domain, service: `xmpp://127.0.0.1:${port}`, directTlsService: tlsPort ? `xmpps://127.0.0.1:${tlsPort}` : undefined, cfgPath, dir, ca, register, logTail,
    async restart({ downMs = 0 } = {}) {
      await halt();
      if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
      await launch();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await halt();
      if (!process.env.KEEP_PROSODY) await rm(dir, { recursive: true, force: true });
    },
  };
}
