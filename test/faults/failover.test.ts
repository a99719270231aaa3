/**
 * Issue 16, "nothing acknowledged lost when meters or messages move": four validators and
 * an observer (real gateway processes) on a real 3-server NATS cluster with JetStream, each
 * gateway reaching NATS through a filtering proxy that drops a share of the core gossip
 * of accepted transactions both ways. Meters of every gateway, the observer's included,
 * publish at QoS 1; when their gateway is killed they fail over to another one and go on
 * with their sequence there. A validator is killed and stays down for a while; the
 * observer is killed and comes back. At the end every acknowledged reading is committed on
 * all five gateways (once: the seq window of docs/protocol.md §3.9 is a block rule and
 * `verify` recomputes it), all five hold one chain, and every store verifies.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { parseGenesis, peerSubjects } from '../../protocols/index.js';
import { clusterMeterId } from '../../ledger-node/devchain.js';
import { type NatsCluster, startNatsCluster } from '../helpers/nats-cluster.js';
import { type NatsFilterProxy, startNatsFilterProxy } from '../helpers/nats-filter-proxy.js';
import { type Acked, GatewayProcess, cli, committedSeqs, failoverMeter, sleep, until } from './support.js';

const VALIDATORS = 4;
const GATEWAYS = 5; // node4 is the observer
const METERS_PER_GATEWAY = 2;
/** Share of core tx gossip frames the proxies drop, each way. */
const DROP = 0.3;
const LOAD_MS = 30_000;

describe('fault: meters fail over between gateways while NATS drops gossip (JetStream durable gossip)', { timeout: 300_000 }, () => {
  const root = mkdtempSync(join(tmpdir(), 'meterledger-fault-failover-'));
  let nats: NatsCluster | undefined;
  const proxies: NatsFilterProxy[] = [];
  const gws: GatewayProcess[] = [];
  after(async () => {
    await Promise.all(gws.map((g) => g.stop().catch(() => null)));
    for (const p of proxies) await p.close();
    await nats?.stopAll();
    rmSync(root, { recursive: true, force: true });
  });

  test('every acknowledged reading commits on all five, one chain, every store verifies', async () => {
    const t0 = Date.now();
    mkdirSync(join(root, 'nats'));
    nats = await startNatsCluster({ size: 3, dir: join(root, 'nats'), noAdvertise: true, jetstream: true, timeoutMs: 20_000 });
    const init = await cli(['testnet', '--validators', String(VALIDATORS), '--observers', '1', '--meters', String(METERS_PER_GATEWAY), '--out', join(root, 'net'), '--nats', nats.urls.join(',')]);
    assert.equal(init.code, 0, init.stderr);
    const genesis = parseGenesis(JSON.parse(readFileSync(join(root, 'net', 'node0', 'genesis.json'), 'utf8')));
    const txSubject = peerSubjects(genesis.chainId).tx;
    let dropped = 0;
    for (let i = 0; i < GATEWAYS; i++) {
      const p = await startNatsFilterProxy(nats.ports[i % 3]!);
      p.setFilter((f) => {
        if (f.subject !== txSubject || Math.random() >= DROP) return true;
        dropped++;
        return false;
      });
      proxies.push(p);
      const dir = join(root, 'net', `node${i}`);
      const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
      cfg.nats = { servers: [p.url], ignoreClusterUpdates: true, stream: { replicas: 3 } };
      cfg.ledger = { blockIntervalMs: 300, meterRatePerSecond: 0 };
      cfg.consensus = { proposeTimeoutMs: 800, prevoteTimeoutMs: 400, precommitTimeoutMs: 400 };
      writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
      gws.push(await GatewayProcess.create(dir, ['--log-level', 'warn']));
    }
    await Promise.all(gws.map((g) => g.start(60_000)));
    const up = gws.map(() => true);
    const status = async (i: number) => (await gws[i]!.json<{ height: number; headHash: string; consensus: { peers: string[] } }>('/api/v1/status')).body;
    await until('every gateway hears the other four', async () => {
      for (let i = 0; i < GATEWAYS; i++) if ((await status(i)).consensus.peers.length < GATEWAYS - 1) return false;
      return true;
    }, 30_000);

    const acked: Acked[] = [];
    const moves = { n: 0 };
    let loading = true;
    const loads = gws.flatMap((g, node) => Array.from({ length: METERS_PER_GATEWAY }, (_, k) =>
      failoverMeter({ meterId: clusterMeterId(node, k), home: node, gws, up, genesis, keyDir: g.dataDir, running: () => loading, acked, moves, everyMs: 50 })));

    // A validator down for a while, its meters moving elsewhere; then the observer.
    await sleep(3000);
    up[1] = false;
    await gws[1]!.kill9();
    await sleep(12_000);
    await gws[1]!.start(30_000, { until: 'listening' });
    up[1] = true;
    await sleep(2000);
    up[4] = false;
    await gws[4]!.kill9();
    await sleep(6000);
    await gws[4]!.start(30_000, { until: 'listening' });
    up[4] = true;
    await sleep(Math.max(0, LOAD_MS - (Date.now() - t0)));
    loading = false;
    await Promise.all(loads);
    assert.ok(acked.length > 200, `load too small (${acked.length} acknowledged)`);
    assert.ok(moves.n >= 2 * METERS_PER_GATEWAY, `meters failed over ${moves.n} times`);
    assert.ok(acked.some((a) => a.via === 4), 'the observer acknowledged readings');

    const missingOn = async (i: number): Promise<string[]> => {
      const out: string[] = [];
      const have = new Map<string, Set<string>>();
      for (const a of acked) {
        if (!have.has(a.meterId)) have.set(a.meterId, await committedSeqs(gws[i]!, a.meterId));
        if (!have.get(a.meterId)!.has(a.seq.toString())) out.push(`${a.meterId}/${a.seq}(via node${a.via})`);
      }
      return out;
    };
    await until('every acknowledged reading committed on all five', async () => {
      for (let i = 0; i < GATEWAYS; i++) if ((await missingOn(i)).length) return false;
      return true;
    }, 90_000, 1000).catch(() => undefined);
    const missing = await Promise.all(gws.map((_, i) => missingOn(i)));
    await until('one head on all five', async () => {
      const st = await Promise.all(gws.map((_, i) => status(i)));
      return new Set(st.map((s) => `${s.height}/${s.headHash}`)).size === 1;
    }, 30_000);
    const height = (await status(0)).height;
    const counts = proxies.reduce((n, p) => n + p.counts().dropped, 0);
    console.log(`# failover: ${acked.length} acknowledged (${acked.filter((a) => a.via === 4).length} by the observer), ${moves.n} failovers, ${dropped} gossip frames dropped (proxies: ${counts}); height ${height}; not committed per gateway: ${missing.map((x) => x.length).join('/')}; ${Math.round((Date.now() - t0) / 1000)} s to here`);
    assert.deepEqual(missing.map((x) => x.length), [0, 0, 0, 0, 0], `not committed: ${missing.flat().slice(0, 8).join(' ')}`);
    assert.ok(dropped > 0, 'the proxies dropped gossip');

    for (const g of gws) assert.equal(await g.stop(), 0, g.stderr.slice(-2000));
    for (const g of gws) {
      const v = await cli(['verify', '--data-dir', g.dataDir], { timeoutMs: 120_000 });
      assert.equal(v.code, 0, `${g.dataDir}: ${v.stdout}${v.stderr}`);
    }
    console.log(`# failover: whole test ${Math.round((Date.now() - t0) / 1000)} s`);
  });
});
