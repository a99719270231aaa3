/**
 * Issue 17 with real processes: four validators on a real 3-server NATS cluster, each
 * reaching NATS through a filtering proxy (test/helpers/nats-filter-proxy.ts) that reads
 * every consensus message, under QoS 1 load on all four (a meter each, 4 in flight). The schedule of the issue:
 *
 *   1. v3 is blackholed (its proxy drops every message both ways; the link stays up).
 *   2. Between v0, v1 and v2, non-nil precommits reach only the proposer of their round,
 *      and status and sync messages are dropped: that proposer decides a height alone,
 *      while the two others, who precommitted its block (and so are locked on it), stay
 *      below it.
 *   3. The proposer is blackholed; the two others are killed with SIGKILL and started
 *      again; v3 comes back; the filtering stops.
 *   4. Before the fix they forgot their lock and decided another block with v3 (a fork,
 *      each block with a valid certificate). Now they decide the proposer's block, without
 *      it. Then the proposer comes back.
 *
 * Afterwards: one chain on all four (the same head hash), every acknowledged reading
 * committed on all four, every store verifies, and no two stores hold conflicting
 * certificates for any height.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { parseGenesis, parsePeerEnvelope, peerSubjects, toHex } from '../../protocols/index.js';
import { type PeerMessage, decodePeerMessage } from '../../protocols/index.js';
import { proposerOf } from '../../ledger-node/consensus/proposer.js';
import { clusterMeterId, dataPaths } from '../../ledger-node/devchain.js';
import { loadKeyFile } from '../../ledger-node/keyfile.js';
import { type AckedLoad, startAckedLoad, uncommitted } from '../helpers/acked-load.js';
import { type NatsCluster, startNatsCluster } from '../helpers/nats-cluster.js';
import { type FrameFilter, type NatsFilterProxy, startNatsFilterProxy } from '../helpers/nats-filter-proxy.js';
import { GatewayProcess, TestMeter, cli, sleep, until } from './support.js';

const N = 4;

/** The consensus message inside a peer envelope (docs/protocol.md §12), unverified: the proxy only reads. */
function consensusIn(envelope: Uint8Array): { from: string; msg: PeerMessage } | undefined {
  const e = parsePeerEnvelope(envelope);
  return e.header.kind === 'consensus' ? { from: e.header.from, msg: decodePeerMessage(e.payload) } : undefined;
}

describe('fault: issue 17, two validators restarting after a crash', { timeout: 240_000 }, () => {
  const root = mkdtempSync(join(tmpdir(), 'meterledger-fault-fork-'));
  let nats: NatsCluster | undefined;
  const proxies: NatsFilterProxy[] = [];
  const gws: GatewayProcess[] = [];
  const meters: TestMeter[] = [];
  let load: AckedLoad | undefined;
  after(async () => {
    await load?.stop(0);
    for (const m of meters) await m.close().catch(() => {});
    await Promise.all(gws.map((g) => g.stop().catch(() => null)));
    for (const p of proxies) await p.close();
    await nats?.stopAll();
    rmSync(root, { recursive: true, force: true });
  });

  test('the proposer decides alone, the two locked validators are killed and restarted: no fork, nothing acknowledged lost, every store verifies', async () => {
    const t0 = Date.now();
    mkdirSync(join(root, 'nats'));
    nats = await startNatsCluster({ size: 3, dir: join(root, 'nats'), noAdvertise: true });
    for (let i = 0; i < N; i++) proxies.push(await startNatsFilterProxy(nats.ports[i % 3]!));
    const init = await cli(['testnet', '--validators', String(N), '--meters', '2', '--out', join(root, 'net'), '--nats', nats.urls.join(',')]);
    assert.equal(init.code, 0, init.stderr);
    const genesis = parseGenesis(JSON.parse(readFileSync(join(root, 'net', 'node0', 'genesis.json'), 'utf8')));
    const ids = genesis.validators.map((v) => v.id);
    const subjects = peerSubjects(genesis.chainId);
    for (let i = 0; i < N; i++) {
      const dir = join(root, 'net', `node${i}`);
      const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
      cfg.nats = { servers: [proxies[i]!.url], ignoreClusterUpdates: true };
      cfg.ledger = { blockIntervalMs: 300, meterRatePerSecond: 0 };
      cfg.consensus = { proposeTimeoutMs: 800, prevoteTimeoutMs: 400, precommitTimeoutMs: 400 };
      writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
      gws.push(await GatewayProcess.create(dir, ['--log-level', process.env.FORK_LOG_LEVEL ?? 'warn']));
    }
    await Promise.all(gws.map((g) => g.start(60_000)));
    type Status = { height: number; headHash: string; consensus: { peers: string[]; voting: boolean; stateProblem: string | null } };
    const status = async (i: number): Promise<Status> => (await gws[i]!.json<Status>('/api/v1/status')).body;
    const blockHash = async (i: number, h: number): Promise<string | undefined> => {
      const r = await gws[i]!.json<{ hash?: string }>(`/api/v1/blocks/${h}`);
      return r.status === 200 ? r.body.hash : undefined;
    };
    const diagnosis = async (): Promise<string> => {
      const out = [];
      for (let i = 0; i < N; i++) out.push(`${ids[i]}: ${JSON.stringify(await status(i).catch((e: unknown) => String(e)))}\n${gws[i]!.stderr.slice(-3000)}`);
      return out.join('\n');
    };
    await until('validators hear each other', async () => (await Promise.all([0, 1, 2, 3].map(status))).every((s) => s.consensus.peers.length >= 3), 30_000);

    // Steady QoS 1 load: a meter on each validator.
    for (let node = 0; node < N; node++) {
      const id = clusterMeterId(node, 0);
      meters.push(await TestMeter.connect(gws[node]!.mqttUrl, genesis, id, loadKeyFile(dataPaths(gws[node]!.dataDir).meterKey(id)), { reconnectPeriod: 300 }));
    }
    load = startAckedLoad(meters, 4);
    await until('blocks under load', async () => (await status(0)).height >= 2, 30_000);

    // 1. v3 blackholed.
    proxies[3]!.setFilter(() => false);
    // 2. Between v0-v2: non-nil precommits only to their round's proposer; status and sync dropped.
    const precommitted = new Map<string, Set<string>>(); // `${validator}/${height}` -> block hashes it precommitted
    const filterOf = (me: string): FrameFilter => (f) => {
      if (f.subject === subjects.status || f.subject === subjects.sync || f.subject.startsWith(`${subjects.sync}.`)) return false;
      if (f.subject !== subjects.consensus) return true;
      const c = consensusIn(f.payload);
      if (!c) return true;
      const m = c.msg;
      if (m.t === 'status') return false;
      if (m.t !== 'precommit' || m.blockHash === null) return true;
      if (f.dir === 'up') {
        const k = `${m.from}/${m.height}`;
        precommitted.set(k, (precommitted.get(k) ?? new Set()).add(toHex(m.blockHash)));
        return true;
      }
      // To the round's proposer only; a round of v3, cut off, would take them nowhere.
      const proposer = proposerOf(genesis.validators, m.height, m.round);
      return proposer === me || proposer === ids[3];
    };
    // The proposer decides a height alone; the other two precommitted its block there. A
    // height already under way when the filter starts may instead leave two of them above
    // the third, stuck; then the filter is lifted for them to catch up, and tried again.
    let lone: { leader: number; others: number[]; height: number; hash: string } | undefined;
    const lonePattern = async (): Promise<boolean> => {
      const st = await Promise.all([0, 1, 2].map(status));
      const top = Math.max(...st.map((s) => s.height));
      const leader = st.findIndex((s) => s.height === top);
      const others = [0, 1, 2].filter((i) => i !== leader);
      if (!others.every((i) => st[i]!.height === top - 1)) return false;
      const hash = await blockHash(leader, top);
      if (!hash || !others.every((i) => precommitted.get(`${ids[i]}/${top}`)?.has(hash))) return false;
      lone = { leader, others, height: top, hash };
      return true;
    };
    for (let attempt = 1; !lone; attempt++) {
      for (const i of [0, 1, 2]) proxies[i]!.setFilter(filterOf(ids[i]!));
      const found = await until('one of v0-v2 decides a height alone', lonePattern, 30_000, 100).then(() => true, () => false);
      if (found) break;
      if (attempt === 3) throw new Error(`no lone decision in 3 attempts; precommits seen: ${JSON.stringify([...precommitted.keys()])}\n${await diagnosis()}`);
      for (const i of [0, 1, 2]) proxies[i]!.setFilter(undefined);
      const from = Math.max(...(await Promise.all([0, 1, 2].map(status))).map((s) => s.height));
      await until('v0-v2 on, at one height again', async () => {
        const hs = (await Promise.all([0, 1, 2].map(status))).map((s) => s.height);
        return new Set(hs).size === 1 && hs[0]! > from;
      }, 30_000, 100);
    }
    const { leader, others, height, hash } = lone!;
    console.log(`# fork: ${ids[leader]} decided height ${height} (${hash.slice(0, 12)}) alone; ${others.map((i) => ids[i]).join(' and ')} precommitted it, at ${Date.now() - t0} ms`);

    // 3. The leader cut off; the other two killed and restarted; v3 back; no more filtering.
    proxies[leader]!.setFilter(() => false);
    await Promise.all(others.map((i) => gws[i]!.kill9()));
    for (const i of [...others, 3]) proxies[i]!.setFilter(undefined);
    await Promise.all(others.map((i) => gws[i]!.start(60_000)));
    for (const i of others) assert.equal((await status(i)).consensus.stateProblem ?? null, null, `${ids[i]} restored its consensus record`);

    // 4. The three decide the height, on the leader's block: the restored locks and polka allow nothing else.
    const three = [...others, 3];
    await until(`${three.map((i) => ids[i]).join(', ')} past height ${height}`, async () => (await Promise.all(three.map(status))).every((s) => s.height >= height), 90_000)
      .catch(async (e: unknown) => {
        throw new Error(`${(e as Error).message}\n${await diagnosis()}`);
      });
    for (const i of three) assert.equal(await blockHash(i, height), hash, `${ids[i]} committed ${ids[leader]}'s block at height ${height}, not another`);
    console.log(`# fork: ${three.map((i) => ids[i]).join(', ')} committed the same block at height ${height} without ${ids[leader]}, at ${Date.now() - t0} ms`);

    // The leader back; the load stops; everything acknowledged commits; one chain.
    proxies[leader]!.setFilter(undefined);
    await sleep(2000);
    await load.stop();
    const acked = load.acked;
    const missing = await Promise.all(gws.map((g) => uncommitted(g, acked, 60_000)));
    assert.deepEqual(missing.map((m) => m.length), [0, 0, 0, 0], `acknowledged, not committed: ${missing.flat().slice(0, 5).join(' ')} (of ${load.total()})`);
    await until('the same head on all four', async () => new Set((await Promise.all([0, 1, 2, 3].map(status))).map((s) => `${s.height}/${s.headHash}`)).size === 1, 30_000);
    const top = (await status(0)).height;
    console.log(`# fork: ${load.total()} readings acknowledged, all committed on all four; height ${top}, one head, at ${Date.now() - t0} ms`);

    for (const m of meters) await m.close();
    meters.length = 0;
    for (const g of gws) assert.equal(await g.stop(), 0, g.stderr.slice(-2000));
    // Every store verifies, and each holds the others' blocks at every height: no two
    // certificates conflict anywhere (verify --compare-data-dir, E_CHAIN_FORK otherwise).
    const verified = await Promise.all(gws.map((g) => cli(['verify', '--data-dir', g.dataDir], { timeoutMs: 120_000 })));
    verified.forEach((v, i) => assert.equal(v.code, 0, `${gws[i]!.dataDir}: ${v.stdout}${v.stderr}`));
    const compared = await cli(['verify', '--data-dir', gws[0]!.dataDir, ...gws.slice(1).flatMap((o) => ['--compare-data-dir', o.dataDir])], { timeoutMs: 120_000 });
    assert.equal(compared.code, 0, compared.stdout + compared.stderr);
    assert.match(compared.stdout, /the same as 3 other copies at every height both hold/);
    console.log(`# fork: four stores verify and hold the same blocks, at ${Date.now() - t0} ms`);
  });
});
