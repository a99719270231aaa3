/**
 * A box that holds the chain's operator key (a dev chain) gets an operator token in
 * <dataDir>/admin.token on its first start, 0600, kept across restarts, used when no
 * admin token is configured: the portal's sign-in and the CLI work out of the box. A box
 * without the operator key gets none, and its POST endpoints stay off.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { dataPaths } from '../../../ledger-node/devchain.js';
import { CLI, cli } from '../../helpers/gateway-process.js';
import { freePort } from '../../helpers/ports.js';
import { until } from '../../helpers/until.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Start with no admin token anywhere (file, environment); stop after `fn`. */
async function withGateway(dir: string, fn: (url: string, stdout: () => string) => Promise<void>): Promise<void> {
  const port = await freePort();
  const env = { ...process.env };
  delete env.METERLEDGER_HTTP_ADMIN_TOKEN;
  delete env.METERLEDGER_HTTP_ADMIN_TOKEN_FILE;
  let out = '';
  let err = '';
  const p: ChildProcess = spawn(process.execPath, [CLI, 'start', '--data-dir', dir, '--mqtt-port', String(await freePort()), '--http-port', String(port)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  try {
    await until('the gateway answering /healthz', async () => {
      if (p.exitCode !== null) throw new Error(`gateway exited ${p.exitCode}: ${err}`);
      return (await fetch(`${url}/healthz`).catch(() => undefined))?.status === 200;
    }, 30_000);
    await fn(url, () => out);
  } finally {
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await exited;
  }
}

test('a dev chain: admin.token made once (0600), used by the API, named at start, the same after a restart', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ml-local-token-'));
  dirs.push(dir);
  const file = join(dir, 'admin.token');
  let first = '';
  await withGateway(dir, async (url, stdout) => {
    assert.ok(existsSync(file), 'admin.token written on the first start (the dev chain made then)');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    first = readFileSync(file, 'utf8').trim();
    assert.match(first, /^[0-9a-f]{48}$/);
    assert.match(stdout(), new RegExp(`operator token written to ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));
    assert.ok(!stdout().includes(first), 'the token itself is never printed');
    assert.equal((await fetch(`${url}/api/v1/meters`)).status, 401);
    const r = await fetch(`${url}/api/v1/meters`, { headers: { authorization: `Bearer ${first}` } });
    assert.equal(r.status, 200);
    assert.ok(((await r.json()) as { meters: unknown[] }).meters.length > 0);
  });
  await withGateway(dir, async (url, stdout) => {
    assert.equal(readFileSync(file, 'utf8').trim(), first, 'kept across restarts');
    assert.match(stdout(), /operator token in /);
    assert.equal((await fetch(`${url}/api/v1/meters`, { headers: { authorization: `Bearer ${first}` } })).status, 200);
  });
});

test('a box without the operator key gets no token: POST endpoints stay off, meters\' data closed', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ml-local-token-'));
  dirs.push(dir);
  const init = await cli(['init', '--data-dir', dir, '--meters', '1']);
  assert.equal(init.code, 0, init.stderr);
  rmSync(dataPaths(dir).operatorKey);
  await withGateway(dir, async (url, stdout) => {
    assert.ok(!existsSync(join(dir, 'admin.token')));
    assert.doesNotMatch(stdout(), /operator token/);
    const post = await fetch(`${url}/api/v1/tx`, { method: 'POST', headers: { 'content-type': 'text/plain', authorization: 'Bearer whatever-it-is-long' }, body: '00' });
    assert.equal(post.status, 403);
    assert.equal(((await post.json()) as { error: { code: string } }).error.code, 'E_HTTP_ADMIN_DISABLED');
  });
});
