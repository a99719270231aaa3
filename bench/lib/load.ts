/** Run the load generator (load-client.ts) in a child process and wait for its result. */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { LoadOptions, LoadResult } from './load-client.js';

const CLIENT = fileURLToPath(new URL('./load-client.js', import.meta.url));
/** Set: the load generator runs under node --cpu-prof, its profile written here. */
const PROFILE_DIR = process.env.BENCH_LOADGEN_PROF_DIR;

/**
 * `onReady` runs when the generator has connected and subscribed every meter and sent what
 * is not part of the load (confidential meters' period keys, acknowledged); the generator
 * sends its first reading once the promise it returns settles: where a caller opens its
 * window on the gateway's CPU.
 */
export function runLoadProcess(o: LoadOptions, timeoutMs = o.durationMs + o.drainMs + 120_000, onReady?: () => void | Promise<void>): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const p = fork(CLIENT, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], ...(PROFILE_DIR ? { execArgv: ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] } : {}) });
    const t = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`load generator did not finish within ${timeoutMs} ms`));
    }, timeoutMs);
    p.on('message', (m: { ready?: true; result?: LoadResult; error?: string }) => {
      if (m.ready) {
        Promise.resolve(onReady?.()).then(() => p.send({ go: true }), (e: unknown) => {
          clearTimeout(t);
          p.kill('SIGKILL');
          reject(e instanceof Error ? e : new Error(String(e)));
        });
        return;
      }
      clearTimeout(t);
      if (m.result) resolve(m.result);
      else reject(new Error(`load generator failed: ${m.error}`));
    });
    p.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`load generator exited with ${code}`));
    });
    p.send({ run: o });
  });
}
