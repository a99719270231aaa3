/**
 * Four gateway processes (validators) meet over a real 3-server NATS cluster on loopback.
 * Readings sent to different gateways all commit everywhere; kill -9 of one validator
 * keeps the other three committing and it catches up after restart; one gateway cut off
 * from NATS (through a TCP proxy) ends with the same chain after healing; with two of
 * four down nothing commits but readings are accepted durably up to the backlog (then
 * E_GATEWAY_BUSY), and they commit when a validator returns. At the end every gateway
 * reports the same height and head hash and `meterledger verify` passes on each store.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Genesis, ReasonCode, parseGenesis } from '../../../protocols/index.js';
import { clusterMeterId, dataPaths } from '../../../ledger-node/devchain.js';
import { loadKeyFile } from '../../../ledger-node/keyfile.js';
import { GatewayProcess, cli } from '../../helpers/gateway-process.js';
import { TestMeter } from '../../helpers/mqtt-meter.js';
import { type NatsCluster, startNatsCluster } from '../../helpers/nats-cluster.js';
import { type TcpProxy, startTcpProxy } from '../../helpers/tcp-proxy.js';
import { until } from '../../helpers/until.js';

const N = 4;

describe('four gateways over a real NATS cluster', { timeout: 600_000 }, () => {
  const root = mkdtempSync(join(tmpdir(), 'meterledger-cluster-'));
  let nats: NatsCluster;
  let proxy: TcpProxy;
  let genesis: Genesis;
  const gws: GatewayProcess[] = [];
  const meters = new Map<string, TestMeter>();
  const seqs = new Map<string, bigint>();
  const acked: { node: number; meterId: string; seq: bigint }[] = [];

  before(async () => {
    mkdirSync(join(root, 'nats'));
    nats = await startNatsCluster({ size: 3, dir: join(root, 'nats'), noAdvertise: true });
    proxy = await startTcpProxy(nats.ports[0]!);
    const init = await cli(['testnet', '--validators', String(N), '--meters', '2', '--out', join(root, 'net'), '--nats', nats.urls.join(',')]);
    assert.equal(init.code, 0, init.stderr);
    genesis = parseGenesis(JSON.parse(readFileSync(join(root, 'net', 'node0', 'genesis.json'), 'utf8')));
    for (let i = 0; i < N; i++) {
      const dir = join(root, 'net', `node${i}`);
      const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
      // node3 reaches NATS only through the proxy (so the test can cut it off); the others each start at a different server
      cfg.nats = i === 3
        ? { servers: [`nats://127.0.0.1:${proxy.port}`], ignoreClusterUpdates: true }
        : { servers: [nats.urls[i % 3], ...nats.urls.filter((_, k) => k !== i % 3)] };
      cfg.ledger = { blockIntervalMs: 300, ...(i === 0 ? { maxBacklog: 40 } : {}) };
      cfg.consensus = { proposeTimeoutMs: 800, prevoteTimeoutMs: 400, precommitTimeoutMs: 400 };
      writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
      gws.push(await GatewayProcess.create(dir, ['--log-level', 'warn']));
    }
    await Promise.all(gws.map((g) => g.start(60_000)));
  });

  after(async () => {
    for (const m of meters.values()) await m.close().catch(() => {});
    await Promise.all(gws.map((g) => g.stop().catch(() => null)));
    await proxy?.close();
    await nats?.stopAll();
    rmSync(root, { recursive: true, force: true });
  });

  const meter = async (node: number, k = 0): Promise<TestMeter> => {
    const id = clusterMeterId(node, k);
    let m = meters.get(id);
    if (!m) {
      m = await TestMeter.connect(gws[node]!.mqttUrl, genesis, id, loadKeyFile(dataPaths(gws[node]!.dataDir).meterKey(id)), { reconnectPeriod: 500 });
      meters.set(id, m);
    }
    return m;
  };
  /** Publish `count` readings from node's meter k; record the acknowledged ones. */
  const publish = async (node: number, count: number, k = 0, ackTimeoutMs = 5000): Promise<number> => {
    const m = await meter(node, k);
    let ok = 0;
    for (let i = 0; i < count; i++) {
      const seq = (seqs.get(m.meterId) ?? 0n) + 1n;
      seqs.set(m.meterId, seq);
      try {
        await Promise.race([m.publish(seq), new Promise((_, rej) => setTimeout(() => rej(new Error('no PUBACK')), ackTimeoutMs))]);
        if (!m.messages.some((x) => x.status === 'rejected' && x.seq === seq)) {
          acked.push({ node, meterId: m.meterId, seq });
          ok++;
        }
      } catch {
        /* not acknowledged: nothing promised */
      }
    }
    return ok;
  };
  const status = async (i: number) => (await gws[i]!.json<{ height: number; headHash: string; consensus: { peers: string[] } }>('/api/v1/status')).body;
  const hasReading = async (i: number, meterId: string, seq: bigint) =>
    (await gws[i]!.get(`/api/v1/meters/${meterId}/receipts/${seq}`)).status === 200;
  const allCommittedOn = async (nodes: number[]) => {
    for (const a of acked) for (const i of nodes) if (!(await hasReading(i, a.meterId, a.seq))) return false;
    return true;
  };
  const sameHead = async (nodes: number[]) => new Set(await Promise.all(nodes.map(async (i) => (await status(i)).headHash))).size === 1;

  test('readings sent to different gateways commit on all four', async () => {
    await until('validators hear each other', async () => (await status(0)).consensus.peers.length >= 3);
    for (let i = 0; i < N; i++) assert.equal(await publish(i, 3), 3);
    await until('every reading committed on every gateway', () => allCommittedOn([0, 1, 2, 3]), 60_000);
  });

  test('kill -9 of one validator: the other three keep committing; after restart it catches up', async () => {
    await gws[1]!.kill9();
    await publish(0, 3);
    await publish(2, 3);
    await until('three validators commit without the fourth', () => allCommittedOn([0, 2, 3]), 60_000);
    await gws[1]!.start(60_000);
    await until('the restarted validator caught up', async () => (await allCommittedOn([1])) && sameHead([0, 1, 2, 3]), 60_000);
  });

  test('a gateway cut off from NATS ends with the same chain after reconnecting', async () => {
    proxy.cut();
    await publish(0, 3);
    await until('the other three commit', () => allCommittedOn([0, 1, 2]), 60_000);
    proxy.heal();
    await until('node3 back on the same chain', async () => (await allCommittedOn([3])) && sameHead([0, 1, 2, 3]), 60_000);
  });

  test('two of four down: no commit, durable accept up to the backlog then E_GATEWAY_BUSY; a validator returns and the backlog commits', async () => {
    await gws[2]!.stop();
    await gws[3]!.stop();
    const h = (await status(0)).height;
    const before = acked.length;
    await publish(0, 22, 0, 2000);
    await publish(0, 22, 1, 2000);
    const accepted = acked.length - before;
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal((await status(0)).height, h, 'no quorum: no block');
    assert.ok(accepted > 0 && accepted <= 40, `accepted ${accepted} with a backlog of 40`);
    const busy = [...meters.values()].flatMap((m) => m.messages).filter((x) => x.status === 'rejected' && x.code === ReasonCode.BUSY);
    assert.ok(busy.length > 0, 'beyond the backlog meters are told E_GATEWAY_BUSY');
    await gws[2]!.start(60_000);
    await until('the backlog commits once three validators are up', () => allCommittedOn([0, 1, 2]), 90_000);
    await gws[3]!.start(60_000);
    await until('all four on one chain', async () => (await allCommittedOn([3])) && sameHead([0, 1, 2, 3]), 60_000);
  });

  test('all gateways report the same height and head; every store verifies', async () => {
    const st = await Promise.all(gws.map((_, i) => status(i)));
    assert.equal(new Set(st.map((s) => `${s.height}/${s.headHash}`)).size, 1, JSON.stringify(st));
    for (const m of meters.values()) await m.close();
    meters.clear();
    for (const g of gws) assert.equal(await g.stop(), 0, g.stderr.slice(-2000));
    for (const g of gws) {
      const v = await cli(['verify', '--data-dir', g.dataDir], { timeoutMs: 120_000 });
      assert.equal(v.code, 0, `${g.dataDir}: ${v.stdout}${v.stderr}`);
    }
  });
});
