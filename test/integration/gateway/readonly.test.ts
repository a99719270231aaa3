/**
 * File-system trouble as it really happens, not as a flag: a read-only mount (EROFS, a
 * bind mount remounted read-only in a mount namespace of the test's own) and a data dir of
 * another user (EACCES: the CLI runs as `nobody`; tests run as root, who may read anything).
 * - `verify --data-dir` audits a read-only copy (a backup, a snapshot) and leaves it as it was;
 * - `start` on a data dir it may not look into names the cause and never makes a dev chain;
 * - `start` on a read-only store says E_FS_READ_ONLY, not a LevelDB message.
 * Without root, the namespace is a user namespace (unshare -r) and "another user" is a
 * folder without write permission for ourselves.
 */
import assert from 'node:assert/strict';
import { type SpawnOptions, spawn } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { LedgerNode } from '../../../ledger-node/node.js';
import { type TestChain, makeTestChain } from '../../helpers/devchain.js';
import { CLI } from '../../helpers/gateway-process.js';
import { freePort } from '../../helpers/ports.js';

const AS_ROOT = process.getuid?.() === 0;
const NOBODY = 65534;

interface Run { code: number | null; stdout: string; stderr: string }

function run(cmd: string, args: string[], opts: SpawnOptions = {}, timeoutMs = 60_000): Promise<Run> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The CLI with `dir` mounted read-only for it alone (a private mount namespace). */
function cliOnReadOnlyMount(dir: string, args: string[]): Promise<Run> {
  const ns = AS_ROOT ? ['--mount', '--propagation', 'private'] : ['--user', '--map-root-user', '--mount', '--propagation', 'private'];
  const script = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"';
  return run('unshare', [...ns, 'sh', '-c', script, 'sh', dir, process.execPath, CLI, ...args]);
}

/** The CLI as a user who owns nothing here (`nobody`), or ourselves when we are not root. */
function cliAsOtherUser(args: string[]): Promise<Run> {
  return run(process.execPath, [CLI, ...args], AS_ROOT ? { uid: NOBODY, gid: NOBODY } : {});
}

/** Every file under `dir` with its size and modification time: what "unchanged" means. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      out.push(`${p.slice(dir.length)} ${st.size} ${st.mtimeMs}`);
    }
  };
  walk(dir);
  return out;
}

function chmodTree(dir: string, fileMode: number, dirMode: number): void {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) chmodTree(p, fileMode, dirMode);
    else chmodSync(p, fileMode);
  }
  chmodSync(dir, dirMode);
}

describe('a read-only or foreign data dir', { timeout: 180_000 }, () => {
  let chain: TestChain;
  let root: string;
  const copies: string[] = [];

  /** A copy of the chain's data dir, as a backup would be. */
  function backup(): string {
    const d = join(root, `copy-${copies.length}`);
    cpSync(chain.dataDir, d, { recursive: true });
    copies.push(d);
    return d;
  }

  before(async () => {
    chain = makeTestChain({ meters: 2 });
    const node = await LedgerNode.open({ dataDir: chain.dataDir, genesis: chain.genesis, blockIntervalMs: 10, blockMaxTxs: 4, verifyWorkers: 0 });
    for (let s = 1; s <= 6; s++) {
      for (const m of chain.meterIds.slice(0, 2)) await node.intake.submit(chain.reading(m, s), { meterId: m, transport: 'mqtt' });
    }
    await node.close();
    root = mkdtempSync(join(tmpdir(), 'meterledger-ro-'));
    chmodSync(root, 0o755); // `nobody` must reach the copies
  });
  after(() => {
    if (root) {
      chmodTree(root, 0o600, 0o700);
      rmSync(root, { recursive: true, force: true });
    }
    chain?.cleanup();
  });

  test('verify --data-dir audits a store on a read-only mount (EROFS) from a temporary copy, and changes nothing', async () => {
    const d = backup();
    const was = snapshot(d);
    const r = await cliOnReadOnlyMount(d, ['verify', '--data-dir', d]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ok: \d+ blocks, 12 transactions\n$/);
    const notice = /the store cannot be opened in place \(.*read-only file system \(EROFS\)\): auditing a copy in (\S+) \(/.exec(r.stderr);
    assert.ok(notice, r.stderr);
    assert.equal(existsSync(notice[1]!), false, 'the temporary copy is removed');
    assert.deepEqual(snapshot(d), was, 'not a byte of the backup changed');
  });

  test('verify --data-dir audits another user\'s store (EACCES: no write permission) the same way', async () => {
    const d = backup();
    chmodTree(d, 0o444, 0o555);
    const was = snapshot(d);
    const r = await cliAsOtherUser(['verify', '--data-dir', d]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ok: \d+ blocks, 12 transactions\n$/);
    assert.match(r.stderr, /cannot be opened in place \(.*permission denied \(EACCES\)\): auditing a copy/);
    assert.deepEqual(snapshot(d), was);
  });

  test('start on a data dir it may not look into: E_FS_PERMISSION naming the path, and no new dev chain', async () => {
    const d = backup();
    chmodSync(d, AS_ROOT ? 0o700 : 0o000); // root's and private: `nobody` cannot enter
    const r = await cliAsOtherUser(['start', '--data-dir', d, '--mqtt-port', String(await freePort()), '--http-port', String(await freePort())]);
    chmodSync(d, 0o700);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`^error: E_FS_PERMISSION: cannot look into ${d}/(config|genesis)\\.json: permission denied \\(EACCES\\)\\n$`));
    assert.doesNotMatch(r.stdout, /initialised a dev chain/);
    assert.deepEqual(readdirSync(d).sort(), ['dev-account.json', 'genesis.json', 'keys', 'store', 'wal']);
  });

  test('start on a read-only store: E_FS_READ_ONLY naming the store', async () => {
    const d = backup();
    const r = await cliOnReadOnlyMount(d, ['start', '--data-dir', d, '--mqtt-port', String(await freePort()), '--http-port', String(await freePort())]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`error: E_FS_READ_ONLY: cannot open the store ${d}/store: read-only file system \\(EROFS\\)`));
  });
});
