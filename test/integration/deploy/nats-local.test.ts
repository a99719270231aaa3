/**
 * deploy/nats/local.conf, the NATS server of the README's cluster: valid for the real
 * nats-server, listening on loopback only (the testnet runs no NATS authentication), and
 * carrying the 8 MiB messages consensus may send (the default max_payload is 1 MB). Run on
 * a free port instead of its 4222.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { connect } from 'nats';
import { freePort } from '../../helpers/ports.js';
import { until } from '../../helpers/until.js';
import { readRepo, repoPath, requireTool, run } from '../../helpers/deploy.js';

const MiB = 1024 * 1024;
const dir = mkdtempSync(join(tmpdir(), 'ml-nats-local-'));
let server: ChildProcess | undefined;
after(() => {
  server?.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

test('the README starts NATS with deploy/nats/local.conf', () => {
  assert.match(readRepo('README.md'), /^nats-server -c deploy\/nats\/local\.conf &/m);
});

test('local.conf: valid, loopback only, max_payload 8 MiB, and a 6 MiB message goes through', { timeout: 60_000 }, async () => {
  const bin = requireTool('nats-server', 'nats-server');
  const conf = readRepo('deploy/nats/local.conf');
  const t = await run(bin, ['-t', '-c', repoPath('deploy/nats/local.conf')], { timeoutMs: 10_000 });
  assert.equal(t.code, 0, t.stdout + t.stderr);
  assert.match(conf, /^listen: 127\.0\.0\.1:4222$/m, 'loopback only');
  const port = await freePort();
  const http = await freePort();
  const copy = join(dir, 'local.conf');
  writeFileSync(copy, `${conf.replace(/^listen: 127\.0\.0\.1:4222$/m, `listen: 127.0.0.1:${port}`)}\nhttp: 127.0.0.1:${http}\n`);
  server = spawn(bin, ['-c', copy], { stdio: 'ignore', cwd: dir });
  let varz: { max_payload: number; host: string; jetstream?: { config?: { store_dir?: string } } } | undefined;
  await until('nats-server /varz', async () => {
    varz = await fetch(`http://127.0.0.1:${http}/varz`).then((r) => r.json() as Promise<typeof varz>, () => undefined);
    return varz !== undefined;
  }, 20_000);
  assert.equal(varz!.max_payload, 8 * MiB);
  assert.equal(varz!.host, '127.0.0.1');
  assert.match(varz!.jetstream?.config?.store_dir ?? '', /nats-jetstream/, 'JetStream on, its store below the folder it was started from');
  const nc = await connect({ servers: `127.0.0.1:${port}` });
  try {
    const sub = nc.subscribe('meterledger.test.big', { max: 1 });
    const got = (async () => {
      for await (const m of sub) return m.data.length;
      return 0;
    })();
    nc.publish('meterledger.test.big', new Uint8Array(6 * MiB).fill(1));
    assert.equal(await got, 6 * MiB);
  } finally {
    await nc.close();
  }
});
