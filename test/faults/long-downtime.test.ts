/**
 * Issue 16, the two faults failover.test.ts leaves out, on 4 validators and an observer
 * (real gateway processes) on a real 3-server NATS cluster with JetStream (stream of 3
 * replicas), every gateway given all three servers, meters of every gateway publishing at
 * QoS 1 all along and failing over when their gateway is down:
 *
 * 1. a validator killed (kill -9) and kept down for 2 minutes while the load goes on: it
 *    comes back, syncs the blocks it missed, its durable consumer delivers what was
 *    accepted meanwhile (nothing left pending), and it is ready and in consensus again;
 * 2. then the NATS server with the most gateways on it killed (kill -9) under load and
 *    restarted 20 s later: the gateways that were on it are on the other two within
 *    seconds, the stream keeps taking messages without it (R3 keeps a quorum of 2), and
 *    once it is back its replica catches up.
 *
 * At the end every acknowledged reading is committed on all five exactly once, all five
 * hold one chain, and every store verifies.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type JetStreamManager, type NatsConnection, connect } from 'nats';
import { type Genesis, parseGenesis } from '../../protocols/index.js';
import { clusterMeterId } from '../../ledger-node/devchain.js';
import { consumerName, streamName } from '../../ledger-node/p2p/jetstream.js';
import { type NatsCluster, startNatsCluster } from '../helpers/nats-cluster.js';
import { type Acked, GatewayProcess, cli, failoverMeter, metric, sleep, until } from './support.js';

const VALIDATORS = 4;
const GATEWAYS = 5; // node4 is the observer
const DOWN = 3; // the validator kept down
const DOWN_MS = 120_000;
const NATS_DOWN_MS = 20_000;
/** Pause between one meter's readings (one meter per gateway: ~4 readings/s each). */
const EVERY_MS = 250;

interface Status { height: number; headHash: string; nodeId: string; consensus: { peers: string[] } }

/** Names of the client connections a NATS server holds (its monitoring endpoint). */
async function clientNames(monitorPort: number): Promise<string[]> {
  const r = await fetch(`http://127.0.0.1:${monitorPort}/connz?limit=1000`, { signal: AbortSignal.timeout(2000) });
  const body = (await r.json()) as { connections?: { name?: string }[] };
  return (body.connections ?? []).map((c) => c.name ?? '');
}

describe('fault: a validator down for 2 minutes, then a NATS server killed, under load (JetStream R3)', { timeout: 330_000 }, () => {
  const root = mkdtempSync(join(tmpdir(), 'meterledger-fault-longdown-'));
  let nats: NatsCluster | undefined;
  let nc: NatsConnection | undefined;
  let jsm: JetStreamManager;
  const gws: GatewayProcess[] = [];
  const up: boolean[] = [];
  const acked: Acked[] = [];
  const moves = { n: 0 };
  let loading = true;
  let goHome = false;
  let loads: Promise<void>[] = [];
  let genesis: Genesis;
  let stream = '';
  const t0 = Date.now();
  const status = async (i: number): Promise<Status> => (await gws[i]!.json<Status>('/api/v1/status')).body;
  const heads = async (which: readonly number[]): Promise<Status[]> => Promise.all(which.map((i) => status(i)));

  before(async () => {
    mkdirSync(join(root, 'nats'));
    nats = await startNatsCluster({ size: 3, dir: join(root, 'nats'), jetstream: true, timeoutMs: 20_000 });
    const init = await cli(['testnet', '--validators', String(VALIDATORS), '--observers', '1', '--meters', '1', '--out', join(root, 'net'), '--nats', nats.urls.join(',')]);
    assert.equal(init.code, 0, init.stderr);
    genesis = parseGenesis(JSON.parse(readFileSync(join(root, 'net', 'node0', 'genesis.json'), 'utf8')));
    stream = streamName(genesis.chainId);
    for (let i = 0; i < GATEWAYS; i++) {
      const dir = join(root, 'net', `node${i}`);
      const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
      // Each gateway is given all three servers, its own first (nats.js shuffles them anyway).
      cfg.nats = { servers: [0, 1, 2].map((k) => nats!.urls[(i + k) % 3]!), stream: { replicas: 3 }, reconnect: { minMs: 250, maxMs: 2000 } };
      cfg.ledger = { blockIntervalMs: 500, meterRatePerSecond: 0 };
      cfg.consensus = { proposeTimeoutMs: 800, prevoteTimeoutMs: 400, precommitTimeoutMs: 400 };
      writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
      gws.push(await GatewayProcess.create(dir, ['--log-level', 'warn']));
      up.push(true);
    }
    await Promise.all(gws.map((g) => g.start(60_000)));
    await until('every gateway hears the other four', async () => {
      for (let i = 0; i < GATEWAYS; i++) if ((await status(i)).consensus.peers.length < GATEWAYS - 1) return false;
      return true;
    }, 30_000);
    nc = await connect({ servers: [...nats.urls], name: 'ml-test-inspect', maxReconnectAttempts: -1, reconnectTimeWait: 250 });
    jsm = await nc.jetstreamManager({ timeout: 5000 });
    await until('the stream and the four consumers exist', async () => {
      try {
        const s = await jsm.streams.info(stream);
        if (s.config.num_replicas !== 3) return false;
        for (let v = 0; v < VALIDATORS; v++) await jsm.consumers.info(stream, consumerName((await status(v)).nodeId));
        return true;
      } catch {
        return false;
      }
    }, 30_000);
    loads = gws.map((g, node) => failoverMeter({
      meterId: clusterMeterId(node, 0), home: node, gws, up, genesis, keyDir: g.dataDir, running: () => loading, acked, moves, everyMs: EVERY_MS, goHome: () => goHome,
    }));
  });

  after(async () => {
    loading = false;
    await Promise.all(loads).catch(() => undefined);
    await Promise.all(gws.map((g) => g.stop().catch(() => null)));
    await nc?.close().catch(() => undefined);
    await nats?.stopAll();
    rmSync(root, { recursive: true, force: true });
  });

  test('a validator down 2 minutes comes back: syncs, drains its consumer, is ready again', async () => {
    await sleep(3000);
    const downId = (await status(DOWN)).nodeId;
    up[DOWN] = false;
    await gws[DOWN]!.kill9();
    const tDown = Date.now();
    const h0 = (await status(0)).height;
    await sleep(DOWN_MS);
    const others = await heads([0, 1, 2, 4]);
    const missed = Math.min(...others.map((s) => s.height)) - h0;
    const info = await jsm.consumers.info(stream, consumerName(downId));
    const pendingBefore = info.num_pending;
    // A durable consumer with no inactivity threshold: it never expires while its validator is away.
    assert.ok(!info.config.inactive_threshold, `${downId}'s consumer expires after ${info.config.inactive_threshold} ns inactive`);
    // The three others went on without it, and the stream kept what was accepted for it.
    assert.ok(missed >= 60, `the chain grew by ${missed} blocks while ${downId} was down`);
    assert.ok(pendingBefore >= 100, `${downId}'s consumer had ${pendingBefore} messages pending`);

    const tBack = Date.now();
    await gws[DOWN]!.start(30_000, { until: 'listening' });
    up[DOWN] = true;
    // Every block it syncs queues the receipts of its readings (meterledger_receipts_waiting_blocks).
    let receiptBlocksMax = 0;
    await until(`${downId} catches up with the others`, async () => {
      receiptBlocksMax = Math.max(receiptBlocksMax, await metric(gws[DOWN]!.httpUrl, 'meterledger_receipts_waiting_blocks').catch(() => 0));
      const [me, ref] = await heads([DOWN, 0]);
      return me!.height >= ref!.height - 1 && me!.height > h0 + missed;
    }, 90_000, 500);
    const caughtUpS = (Date.now() - tBack) / 1000;
    // ... and they are all out soon after: no more than the block being fanned out waits.
    await until(`${downId}'s receipts catch up with its blocks`, async () => (await metric(gws[DOWN]!.httpUrl, 'meterledger_receipts_waiting_blocks')) <= 1, 30_000, 500);
    await until(`${downId} is ready`, async () => (await fetch(`${gws[DOWN]!.httpUrl}/readyz`)).status === 200, 30_000, 500);
    const synced = await metric(gws[DOWN]!.httpUrl, 'meterledger_sync_blocks_total');
    assert.ok(synced >= missed, `${downId} synced ${synced} blocks, missed ${missed}`);
    await until(`${downId}'s consumer has nothing pending or unacknowledged`, async () => {
      const c = await jsm.consumers.info(stream, consumerName(downId));
      return c.num_pending === 0 && c.num_ack_pending === 0;
    }, 60_000, 1000);
    await until(`${downId} hears the other four`, async () => (await status(DOWN)).consensus.peers.length === GATEWAYS - 1, 30_000);
    // It votes again: the chain goes on with it (any three of four suffice, so check its own
    // height grows in step) and the others hear it.
    const hNow = (await status(DOWN)).height;
    await until(`${downId} commits new blocks`, async () => (await status(DOWN)).height >= hNow + 5, 30_000, 500);
    // Its meter comes home, and what it takes there commits (checked with the rest at the end).
    goHome = true;
    const viaBack = (): number => acked.filter((a) => a.via === DOWN).length;
    const back0 = viaBack();
    await until(`${downId} acknowledges readings again`, () => Promise.resolve(viaBack() >= back0 + 10), 30_000, 500);
    console.log(`# long-downtime: ${downId} down ${Math.round((tBack - tDown) / 1000)} s, missed ${missed} blocks, ${pendingBefore} stream messages pending for it; caught up in ${caughtUpS.toFixed(1)} s (${synced} blocks synced; receipts of up to ${receiptBlocksMax} blocks waiting at a sample)`);
  });

  test('a NATS server killed under load: gateways move to the others, the R3 stream goes on, its replica catches up', async () => {
    const n = nats!;
    const gatewayName = (s: string): boolean => s.startsWith('meterledger/');
    const names = await Promise.all(n.monitorPorts.map((p) => clientNames(p)));
    const onEach = names.map((l) => l.filter(gatewayName));
    const victim = onEach.reduce((best, l, i) => (l.length > onEach[best]!.length ? i : best), 0);
    const moved = onEach[victim]!;
    const all = new Set(onEach.flat());
    assert.ok(moved.length >= 1, `no gateway on any server: ${JSON.stringify(onEach)}`);
    assert.equal(all.size, GATEWAYS, `gateways on NATS: ${[...all].join(', ')}`);
    const s0 = await jsm.streams.info(stream);
    const wasLeader = s0.cluster?.leader === `n${victim}`;

    // Sampled every second from the kill: the longest time each validator's consumer
    // delivered nothing new while the stream grew (for the log).
    const ids = await Promise.all([0, 1, 2, 3].map(async (v) => (await status(v)).nodeId));
    const stall = new Map<string, { seq: number; since: number; worst: number }>();
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        try {
          const last = (await jsm.streams.info(stream)).state.last_seq;
          for (const id of ids) {
            const d = (await jsm.consumers.info(stream, consumerName(id))).delivered.stream_seq;
            const now = Date.now();
            const st = stall.get(id) ?? { seq: d, since: now, worst: 0 };
            if (d !== st.seq || d >= last) Object.assign(st, { seq: d, since: now });
            st.worst = Math.max(st.worst, now - st.since);
            stall.set(id, st);
          }
        } catch {
          /* no answer during the election: the next sample */
        }
        await sleep(1000);
      }
    })();
    await n.kill9(victim);
    const tKill = Date.now();
    const survivors = [0, 1, 2].filter((i) => i !== victim);
    await until('every gateway is connected to one of the two other servers', async () => {
      try {
        const l = (await Promise.all(survivors.map((i) => clientNames(n.monitorPorts[i]!)))).flat().filter(gatewayName);
        return [...all].every((g) => l.includes(g));
      } catch {
        return false;
      }
    }, 20_000, 250);
    const reconnectS = (Date.now() - tKill) / 1000;
    await until('every gateway hears the other four again', async () => {
      for (let i = 0; i < GATEWAYS; i++) if ((await status(i)).consensus.peers.length < GATEWAYS - 1) return false;
      return true;
    }, 20_000, 500);
    const ackedAtKill = acked.length;
    const hKill = (await status(0)).height;
    await sleep(Math.max(0, NATS_DOWN_MS - (Date.now() - tKill)));
    const during = await jsm.streams.info(stream);
    const hDuring = (await status(0)).height;
    assert.ok(acked.length > ackedAtKill + 20, `readings acknowledged while n${victim} was down: ${acked.length - ackedAtKill}`);
    assert.ok(during.state.last_seq > s0.state.last_seq + 20, `stream took ${during.state.last_seq - s0.state.last_seq} messages without n${victim}`);
    assert.ok(hDuring > hKill + 5, `chain grew ${hDuring - hKill} blocks without n${victim}`);
    assert.ok(during.cluster?.leader && during.cluster.leader !== `n${victim}`, `stream leader ${during.cluster?.leader}`);

    await n.start(victim);
    // Every validator's consumer went on (whichever server led it): each has delivered and
    // acknowledged what the stream took while the server was down.
    const tStart = Date.now();
    let last = '';
    const drained = await until('every validator acknowledged on the stream what came while the server was down', async () => {
      try {
        const cs = await Promise.all(ids.map((id) => jsm.consumers.info(stream, consumerName(id))));
        last = cs.map((c) => `${c.name}: delivered ${c.delivered.stream_seq} ackFloor ${c.ack_floor.stream_seq} pending ${c.num_pending} ackPending ${c.num_ack_pending} redelivered ${c.num_redelivered} leader ${c.cluster?.leader}`).join('; ');
        return cs.every((c) => c.ack_floor.stream_seq >= during.state.last_seq);
      } catch (e) {
        last = (e as Error).message;
        return false;
      }
    }, 75_000, 1000).then(() => true, () => false);
    console.log(`# long-downtime: consumers after n${victim} came back (${((Date.now() - tStart) / 1000).toFixed(1)} s after its restart, ${((Date.now() - tKill) / 1000).toFixed(1)} s after the kill; stream last seq during the outage ${during.state.last_seq}): ${last}`);
    sampling = false;
    await sampler;
    console.log(`# long-downtime: longest stall of each consumer from the kill: ${[...stall].map(([id, x]) => `${id} ${(x.worst / 1000).toFixed(0)} s`).join(', ')}`);
    assert.ok(drained, `a consumer did not acknowledge what came while n${victim} was down: ${last}`);
    await until(`n${victim}'s stream replica is current again`, async () => {
      try {
        const s = await jsm.streams.info(stream);
        const r = s.cluster?.replicas ?? [];
        return r.length === 2 && r.every((x) => x.current && !x.offline);
      } catch {
        return false;
      }
    }, 60_000, 1000);
    console.log(`# long-downtime: n${victim} killed (${moved.length} gateways on it${wasLeader ? ', stream leader' : ''}), all on the others in ${reconnectS.toFixed(1)} s; stream +${during.state.last_seq - s0.state.last_seq} messages, chain +${hDuring - hKill} blocks while it was down`);
  });

  test('every acknowledged reading committed exactly once on all five, one chain, every store verifies', async () => {
    await sleep(3000);
    loading = false;
    await Promise.all(loads);
    assert.ok(acked.length > 400, `load too small (${acked.length} acknowledged)`);
    assert.ok(moves.n >= 1, `meters failed over ${moves.n} times`);
    assert.ok(acked.some((a) => a.via === 4), 'the observer acknowledged readings');

    const byMeter = new Map<string, bigint[]>();
    for (const a of acked) (byMeter.get(a.meterId) ?? byMeter.set(a.meterId, []).get(a.meterId)!).push(a.seq);
    /** Acknowledged readings not committed on gateway i, and seqs committed more than once there. */
    const check = async (i: number): Promise<{ missing: string[]; twice: string[] }> => {
      const missing: string[] = [];
      const twice: string[] = [];
      for (const [meterId, seqs] of byMeter) {
        const seen = new Map<string, number>();
        let from = '0';
        for (;;) {
          const r = await gws[i]!.json<{ readings: { seq: string }[] }>(`/api/v1/meters/${meterId}/readings?fromSeq=${from}&limit=1000`);
          for (const x of r.body.readings) seen.set(x.seq, (seen.get(x.seq) ?? 0) + 1);
          if (r.body.readings.length < 1000) break;
          from = (BigInt(r.body.readings.at(-1)!.seq) + 1n).toString();
        }
        for (const s of seqs) if (!seen.has(s.toString())) missing.push(`${meterId}/${s}`);
        for (const [s, k] of seen) if (k > 1) twice.push(`${meterId}/${s}x${k}`);
      }
      return { missing, twice };
    };
    await until('every acknowledged reading committed on all five', async () => {
      for (let i = 0; i < GATEWAYS; i++) if ((await check(i)).missing.length) return false;
      return true;
    }, 60_000, 1000).catch(() => undefined);
    const res = await Promise.all(gws.map((_, i) => check(i)));
    await until('one head on all five', async () => new Set((await heads([0, 1, 2, 3, 4])).map((s) => `${s.height}/${s.headHash}`)).size === 1, 30_000);
    const height = (await status(0)).height;
    console.log(`# long-downtime: ${acked.length} acknowledged (${acked.filter((a) => a.via === DOWN).length} by node${DOWN}, ${acked.filter((a) => a.via === 4).length} by the observer), ${moves.n} failovers; height ${height}; not committed per gateway: ${res.map((r) => r.missing.length).join('/')}; ${Math.round((Date.now() - t0) / 1000)} s to here`);
    assert.deepEqual(res.map((r) => r.missing.length), [0, 0, 0, 0, 0], `not committed: ${res.flatMap((r) => r.missing).slice(0, 8).join(' ')}`);
    assert.deepEqual(res.map((r) => r.twice), [[], [], [], [], []], 'committed more than once');

    for (const g of gws) assert.equal(await g.stop(), 0, g.stderr.slice(-2000));
    for (const g of gws) {
      const v = await cli(['verify', '--data-dir', g.dataDir], { timeoutMs: 120_000 });
      assert.equal(v.code, 0, `${g.dataDir}: ${v.stdout}${v.stderr}`);
    }
    console.log(`# long-downtime: whole file ${Math.round((Date.now() - t0) / 1000)} s`);
  });
});
