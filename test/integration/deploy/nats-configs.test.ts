/**
 * The NATS configs of deploy/nats work with the real nats-server, on 127.0.0.1:
 * - nats-1..3.conf (the compose cluster) pass `nats-server -t` as written, and, with their
 *   container addresses replaced by loopback ports, form a routed 3-server cluster with
 *   max_payload 8 MiB;
 * - leafnode-edge.conf, with the hub's URL, CA file and ports pointed at a hub started
 *   here (TLS leaf listener, certificates made with openssl), joins it as a leaf node: the
 *   hub's /leafz lists the connection and the edge's names the hub, and a 2 MiB message
 *   published on the edge arrives on the hub.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { connect } from 'nats';
import { freePort } from '../../helpers/ports.js';
import { readRepo, repoPath, requireTool, run } from '../../helpers/deploy.js';

const MiB = 1024 * 1024;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Replace `from` by `to`, insisting it occurs exactly `times` times (the config's shape is what we test). */
function swap(text: string, from: string, to: string, times = 1): string {
  const n = text.split(from).length - 1;
  assert.equal(n, times, `expected ${times} × ${JSON.stringify(from)} in the config, found ${n}`);
  return text.split(from).join(to);
}

const children = new Set<ChildProcess>();
let logs = '';

function startNats(conf: string): ChildProcess {
  const p = spawn(requireTool('nats-server', 'nats-server'), ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  p.stderr!.on('data', (d: Buffer) => {
    logs = (logs + d.toString()).slice(-6000);
  });
  children.add(p);
  p.once('exit', () => children.delete(p));
  return p;
}

async function stopAll(): Promise<void> {
  await Promise.all([...children].map(async (p) => {
    if (p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  }));
}

async function monitor<T>(port: number, path: string): Promise<T | undefined> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(1000) });
    return (await r.json()) as T;
  } catch {
    return undefined;
  }
}

async function until(what: string, ms: number, ok: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await ok()) return;
    for (const p of children) if (p.exitCode !== null) assert.fail(`nats-server exited ${p.exitCode} while waiting for ${what}: ${logs}`);
    await sleep(100);
  }
  assert.fail(`${what}: not within ${ms} ms\n${logs}`);
}

/** A CA and one certificate for 127.0.0.1 signed by it, good for both ends of a TLS connection. */
async function makePki(d: string): Promise<{ ca: string; key: string; cert: string }> {
  mkdirSync(d, { recursive: true });
  const openssl = requireTool('openssl', 'openssl');
  const ssl = async (args: string[]): Promise<void> => {
    const r = await run(openssl, args, { cwd: d, timeoutMs: 30_000 });
    assert.equal(r.code, 0, `openssl ${args.join(' ')}: ${r.stderr}`);
  };
  const f = (n: string) => join(d, n);
  await ssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '1', '-subj', '/CN=test CA']);
  await ssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=127.0.0.1']);
  // DNS:localhost too: nats.js checks a server at 127.0.0.1 under the name localhost.
  writeFileSync(f('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n');
  await ssl(['x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('server.pem'), '-days', '1', '-extfile', f('server.ext')]);
  return { ca: f('ca.pem'), key: f('server.key'), cert: f('server.pem') };
}

describe('deploy/nats configs on a real nats-server', { timeout: 90_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'ml-nats-deploy-'));
  after(async () => {
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  });

  test('nats-1..3.conf pass nats-server -t as written', async () => {
    const bin = requireTool('nats-server', 'nats-server');
    for (const i of [1, 2, 3]) {
      const r = await run(bin, ['-t', '-c', repoPath(`deploy/nats/nats-${i}.conf`)], { timeoutMs: 10_000 });
      assert.equal(r.code, 0, r.stdout + r.stderr);
    }
  });

  test('nats-1..3.conf on loopback form a routed cluster with max_payload 8 MiB and JetStream', async () => {
    const ports = await Promise.all([1, 2, 3].map(async () => ({ client: await freePort(), cluster: await freePort(), http: await freePort() })));
    for (const i of [1, 2, 3]) {
      let c = readRepo(`deploy/nats/nats-${i}.conf`);
      const p = ports[i - 1]!;
      c = swap(c, 'listen: 0.0.0.0:4222', `listen: 127.0.0.1:${p.client}`);
      c = swap(c, 'http: 0.0.0.0:8222', `http: 127.0.0.1:${p.http}`);
      c = swap(c, 'listen: 0.0.0.0:6222', `listen: 127.0.0.1:${p.cluster}`);
      c = swap(c, 'store_dir: "/data/jetstream"', `store_dir: ${JSON.stringify(join(dir, `js-${i}`))}`);
      for (const j of [1, 2, 3]) if (j !== i) c = swap(c, `nats-route://nats-${j}:6222`, `nats-route://127.0.0.1:${ports[j - 1]!.cluster}`);
      const file = join(dir, `nats-${i}.conf`);
      writeFileSync(file, c);
      startNats(file);
    }
    for (const [k, p] of ports.entries()) {
      await until(`nats-${k + 1} routed to the other two`, 20_000, async () => (await monitor<{ num_routes: number }>(p.http, '/routez'))?.num_routes === 2);
      const varz = (await monitor<{ server_name: string; max_payload: number; cluster: { name: string }; jetstream?: { config?: { store_dir?: string } } }>(p.http, '/varz'))!;
      assert.ok(varz.jetstream?.config?.store_dir, `nats-${k + 1} runs JetStream (docs/consensus.md, "Failover")`);
      assert.equal(varz.server_name, `nats-${k + 1}`);
      assert.equal(varz.max_payload, 8 * MiB);
      assert.equal(varz.cluster.name, 'meterledger');
    }
    await stopAll();
  });

  test('hub.conf: three servers on loopback route over mutual TLS; clients must speak TLS and trust the CA', async () => {
    const bin = requireTool('nats-server', 'nats-server');
    const pki = await makePki(join(dir, 'hub-pki'));
    const ports = await Promise.all([1, 2, 3].map(async () => ({ client: await freePort(), cluster: await freePort(), http: await freePort(), leaf: await freePort() })));
    for (const i of [1, 2, 3]) {
      let c = readRepo('deploy/nats/hub.conf');
      const p = ports[i - 1]!;
      c = swap(c, 'server_name: hub-1', `server_name: hub-${i}`);
      c = swap(c, 'listen: 0.0.0.0:4222', `listen: 127.0.0.1:${p.client}`);
      c = swap(c, 'http: 127.0.0.1:8222', `http: 127.0.0.1:${p.http}`);
      c = swap(c, 'listen: 0.0.0.0:6222', `listen: 127.0.0.1:${p.cluster}`);
      c = swap(c, 'listen: 0.0.0.0:7422', `listen: 127.0.0.1:${p.leaf}`);
      c = swap(c, 'store_dir: "/var/lib/nats/jetstream"', `store_dir: ${JSON.stringify(join(dir, `hub-js-${i}`))}`);
      c = swap(c, '"/etc/nats/tls/server.pem"', JSON.stringify(pki.cert), 3);
      c = swap(c, '"/etc/nats/tls/server.key"', JSON.stringify(pki.key), 3);
      c = swap(c, '"/etc/nats/tls/ca.pem"', JSON.stringify(pki.ca), 2);
      const others = [1, 2, 3].filter((j) => j !== i);
      c = swap(c, 'nats-route://hub-2.example:6222', `nats-route://127.0.0.1:${ports[others[0]! - 1]!.cluster}`);
      c = swap(c, 'nats-route://hub-3.example:6222', `nats-route://127.0.0.1:${ports[others[1]! - 1]!.cluster}`);
      const file = join(dir, `hub-${i}.conf`);
      writeFileSync(file, c);
      const t = await run(bin, ['-t', '-c', file], { timeoutMs: 10_000 });
      assert.equal(t.code, 0, t.stdout + t.stderr);
      startNats(file);
    }
    for (const [k, p] of ports.entries()) {
      await until(`hub-${k + 1} routed to the other two`, 30_000, async () => (await monitor<{ num_routes: number }>(p.http, '/routez'))?.num_routes === 2);
      const varz = (await monitor<{ tls_required?: boolean; max_payload: number }>(p.http, '/varz'))!;
      assert.equal(varz.tls_required, true, `hub-${k + 1} requires TLS of clients`);
      assert.equal(varz.max_payload, 8 * MiB);
    }
    // A client that trusts the CA talks across the routes, as a gateway with nats.tls.caFile does.
    const ca = readFileSync(pki.ca, 'utf8');
    const a = await connect({ servers: `tls://127.0.0.1:${ports[0]!.client}`, tls: { ca } });
    const b = await connect({ servers: `tls://127.0.0.1:${ports[2]!.client}`, tls: { ca } });
    try {
      const sub = b.subscribe('meterledger.test.hub', { max: 1 });
      await b.flush();
      const got = (async () => {
        for await (const m of sub) return m.data;
        return undefined;
      })();
      const end = Date.now() + 15_000;
      let data: Uint8Array | undefined;
      while (data === undefined && Date.now() < end) {
        a.publish('meterledger.test.hub', new Uint8Array([1, 2, 3]));
        await a.flush();
        data = await Promise.race([got, sleep(300).then(() => undefined)]);
      }
      assert.deepEqual(data && [...data], [1, 2, 3], 'a message from hub-1 reached a subscriber on hub-3');
    } finally {
      await a.close();
      await b.close();
    }
    // One that does not trust the CA never gets a connection.
    await assert.rejects(connect({ servers: `127.0.0.1:${ports[1]!.client}`, reconnect: false, timeout: 5000 }));
    await stopAll();
  });

  test('leafnode-edge.conf joins a hub as a leaf node over TLS and carries a 2 MiB message', async () => {
    const openssl = requireTool('openssl', 'openssl');
    const ca = { key: join(dir, 'ca.key'), crt: join(dir, 'ca.pem') };
    const srv = { key: join(dir, 'hub.key'), csr: join(dir, 'hub.csr'), crt: join(dir, 'hub.pem'), ext: join(dir, 'hub.ext') };
    const ssl = async (args: string[]): Promise<void> => {
      const r = await run(openssl, args, { cwd: dir, timeoutMs: 30_000 });
      assert.equal(r.code, 0, `openssl ${args.join(' ')}: ${r.stderr}`);
    };
    await ssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', ca.key, '-out', ca.crt, '-days', '1', '-subj', '/CN=test hub CA']);
    await ssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', srv.key, '-out', srv.csr, '-subj', '/CN=127.0.0.1']);
    writeFileSync(srv.ext, 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
    await ssl(['x509', '-req', '-in', srv.csr, '-CA', ca.crt, '-CAkey', ca.key, '-CAcreateserial', '-out', srv.crt, '-days', '1', '-extfile', srv.ext]);

    const hub = { client: await freePort(), http: await freePort(), leaf: await freePort() };
    const hubConf = join(dir, 'hub.conf');
    writeFileSync(hubConf, [
      'server_name: hub', `listen: 127.0.0.1:${hub.client}`, `http: 127.0.0.1:${hub.http}`, 'max_payload: 8MB',
      'leafnodes {', `  listen: 127.0.0.1:${hub.leaf}`, `  tls { cert_file: ${JSON.stringify(srv.crt)}, key_file: ${JSON.stringify(srv.key)} }`, '}', '',
    ].join('\n'));
    startNats(hubConf);
    await until('hub up', 10_000, async () => (await monitor(hub.http, '/varz')) !== undefined);

    const edge = { client: await freePort(), http: await freePort() };
    let c = readFileSync(repoPath('deploy/nats/leafnode-edge.conf'), 'utf8');
    c = swap(c, 'listen: 127.0.0.1:4222', `listen: 127.0.0.1:${edge.client}`);
    c = swap(c, 'http: 127.0.0.1:8222', `http: 127.0.0.1:${edge.http}`);
    c = swap(c, 'url: "tls://hub.example:7422"', `url: "tls://127.0.0.1:${hub.leaf}"`);
    c = swap(c, 'ca_file: "/etc/meterledger/nats/hub-ca.pem"', `ca_file: ${JSON.stringify(ca.crt)}`);
    // The hub here has no decentralised auth: no credentials file to present.
    c = c.replace(/^\s*credentials: .*\n/m, '');
    const edgeConf = join(dir, 'edge.conf');
    writeFileSync(edgeConf, c);
    const t = await run(requireTool('nats-server', 'nats-server'), ['-t', '-c', edgeConf], { timeoutMs: 10_000 });
    assert.equal(t.code, 0, t.stdout + t.stderr);
    startNats(edgeConf);

    // nats-server 2.9's /leafz has no names (2.10 adds `name`): match the connection's ports.
    interface Leafz { leafnodes: number; leafs?: { ip: string; port: number; name?: string }[] }
    await until('the hub lists the edge in /leafz', 20_000, async () => {
      const [h, e] = [await monitor<Leafz>(hub.http, '/leafz'), await monitor<Leafz>(edge.http, '/leafz')];
      const toHub = e?.leafs?.find((l) => l.port === hub.leaf);
      return toHub !== undefined && (h?.leafs ?? []).some((l) => l.ip === '127.0.0.1' && (l.name === undefined || l.name === 'edge-box-1'));
    });
    const varz = (await monitor<{ server_name: string; max_payload: number }>(edge.http, '/varz'))!;
    assert.equal(varz.server_name, 'edge-box-1');
    assert.equal(varz.max_payload, 8 * MiB);

    // A gateway on the edge box talks only to its local server; messages reach the hub.
    const onHub = await connect({ servers: `127.0.0.1:${hub.client}` });
    const onEdge = await connect({ servers: `127.0.0.1:${edge.client}` });
    try {
      const sub = onHub.subscribe('meterledger.test.leaf', { max: 1 });
      await onHub.flush();
      const big = new Uint8Array(2 * MiB).fill(7);
      let got: Uint8Array | undefined;
      const end = Date.now() + 15_000;
      // Interest crosses the leaf connection asynchronously: publish until it arrives.
      const received = (async () => {
        for await (const m of sub) got = m.data;
      })();
      while (got === undefined && Date.now() < end) {
        onEdge.publish('meterledger.test.leaf', big);
        await onEdge.flush();
        await Promise.race([received, sleep(300)]);
      }
      assert.ok(got, `no message through the leaf node\n${logs}`);
      assert.equal(got.length, 2 * MiB);
    } finally {
      await onEdge.close();
      await onHub.close();
    }
  });
});
