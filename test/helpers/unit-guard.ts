/**
 * Loaded by `npm run test:unit` (node --import) into every unit test process: a unit test
 * is pure or in-memory (issue 11 §6), so opening a socket, starting a process or LevelDB,
 * or writing a file outside the temp dir throws E_UNIT_TEST_IO here instead of passing
 * quietly. What needs them belongs in test/integration/. Reads stay allowed (vectors,
 * docs, fixtures).
 */
import childProcess from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const UNIT_IO_CODE = 'E_UNIT_TEST_IO';

function refuse(what: string): never {
  const e = new Error(`${what}: a unit test opens no socket, process or LevelDB and writes only below ${tmpdir()} (move it to test/integration/)`);
  (e as Error & { code: string }).code = UNIT_IO_CODE;
  throw e;
}

const TEMP = [resolve(tmpdir()), fs.realpathSync(tmpdir())];

function pathOf(p: unknown): string | undefined {
  if (typeof p === 'string') return resolve(p);
  if (p instanceof URL) return p.protocol === 'file:' ? fileURLToPath(p) : undefined;
  if (Buffer.isBuffer(p)) return resolve(p.toString());
  return undefined; // a file descriptor: opened (and checked) before
}

function checkWrite(op: string, p: unknown): void {
  const path = pathOf(p);
  if (path === undefined || path === '/dev/null') return;
  if (TEMP.some((t) => path === t || path.startsWith(t + sep))) return;
  refuse(`${op} ${path}`);
}

const WRITE_FLAGS = fs.constants.O_WRONLY | fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_APPEND | fs.constants.O_TRUNC;
const writes = (flags: unknown): boolean =>
  typeof flags === 'number' ? (flags & WRITE_FLAGS) !== 0 : typeof flags === 'string' && /[wa+]/.test(flags);

type Fn = (...args: any[]) => any;
function wrap(obj: any, name: string, check: (args: any[]) => void): void {
  const orig = obj[name] as Fn | undefined;
  if (typeof orig !== 'function') return;
  obj[name] = function (this: unknown, ...args: any[]) {
    check(args);
    return orig.apply(this, args);
  };
}

// Files: every call that creates, changes or removes a path takes it first (both paths of a rename/copy).
const onePath = ['writeFile', 'appendFile', 'mkdir', 'mkdtemp', 'rm', 'rmdir', 'unlink', 'truncate', 'chmod', 'chown', 'utimes', 'createWriteStream'];
const twoPaths = ['rename', 'copyFile', 'cp', 'symlink', 'link'];
for (const target of [fs, fs.promises]) {
  for (const name of onePath) {
    for (const n of [name, `${name}Sync`]) wrap(target, n, (a) => checkWrite(n, n.startsWith('mkdtemp') ? `${a[0]}` : a[0]));
  }
  for (const name of twoPaths) for (const n of [name, `${name}Sync`]) wrap(target, n, (a) => checkWrite(n, a[1]));
  for (const n of ['open', 'openSync']) wrap(target, n, (a) => { if (writes(a[1])) checkWrite(n, a[0]); });
}

// Sockets and processes: none at all (in-process stream pairs stand in for sockets).
wrap(net.Socket.prototype, 'connect', () => refuse('a socket connect'));
wrap(net.Server.prototype, 'listen', () => refuse('a socket listen'));
wrap(dgram.Socket.prototype, 'bind', () => refuse('a UDP socket'));
for (const n of ['spawn', 'spawnSync', 'exec', 'execSync', 'execFile', 'execFileSync', 'fork']) wrap(childProcess, n, () => refuse(`child_process.${n}`));

// LevelDB writes with native code, out of reach of the fs checks: refuse opening one.
try {
  const { ClassicLevel } = await import('classic-level');
  wrap(ClassicLevel.prototype, '_open', () => refuse('a LevelDB store (use the memory store)'));
} catch {
  // not installed: nothing to guard
}

syncBuiltinESMExports();
