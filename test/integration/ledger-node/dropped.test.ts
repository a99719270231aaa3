/**
 * Accepted readings that a block made invalid before their commit are lost, and say so:
 * each is logged at warn with meter, seq and reason, counted (NodeMetrics.readingDropped),
 * and told to its meter through IntakePort.onDropped (the bridges turn it into a
 * rejection). At start-up, write-ahead entries already in blocks are only released.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { DEFAULT_SEQ_WINDOW, type DroppedReading, type Genesis, ReasonCode, TxType, signTx } from '../../../protocols/index.js';
import { dataPaths, initCluster } from '../../../ledger-node/devchain.js';
import { generateKeyPair, loadKeyFile } from '../../../ledger-node/keyfile.js';
import { type NodeMetrics, noopMetrics } from '../../../ledger-node/metrics.js';
import { LedgerNode } from '../../../ledger-node/node.js';
import { MemoryNetwork } from '../../../ledger-node/p2p/memory.js';
import { WriteAheadLog } from '../../../ledger-node/store/wal.js';
import { makeTestChain } from '../../helpers/devchain.js';
import { until } from '../../helpers/until.js';
import { inMemory } from '../../helpers/memory-store.js';

const DAY = 86_400_000;
const FAST = { proposeBaseMs: 2000, proposeDeltaMs: 100, prevoteBaseMs: 500, prevoteDeltaMs: 50, precommitBaseMs: 500, precommitDeltaMs: 50 };
const roots: string[] = [];
const nodes: LedgerNode[] = [];
after(async () => {
  for (const n of nodes) await n.close().catch(() => {});
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

/** A logger, metrics and drop listener that record what they are told. */
function recorders() {
  const warnings: { obj: Record<string, unknown>; msg: string }[] = [];
  const infos: { obj: Record<string, unknown>; msg: string }[] = [];
  const dropCounts: string[] = [];
  const logger = {
    debug() {}, error() {},
    info: (obj: object, msg?: string) => void infos.push({ obj: obj as Record<string, unknown>, msg: msg ?? '' }),
    warn: (obj: object, msg?: string) => void warnings.push({ obj: obj as Record<string, unknown>, msg: msg ?? '' }),
  };
  const metrics: NodeMetrics = { ...noopMetrics, readingDropped: (code) => void dropCounts.push(code) };
  return { warnings, infos, dropCounts, logger, metrics };
}

/** Two validators: A (validator-0) holds the meters and waits long before a block; B (validator-1) proposes height 1. */
async function twoGateways(rec: ReturnType<typeof recorders>) {
  const root = mkdtempSync(join(tmpdir(), 'meterledger-dropped-'));
  roots.push(root);
  const dirs = [0, 1].map((i) => join(root, `node${i}`));
  const { genesis, nodeIds, meterIds } = initCluster(dirs, { validators: 2, metersPerNode: 1 });
  const net = new MemoryNetwork();
  const open = (i: number) => LedgerNode.open({
    openStore: inMemory, dataDir: dirs[i]!, genesis, carrier: net.carrier(nodeIds[i]!), timeouts: FAST, verifyWorkers: 0,
    ...(i === 0 ? { blockIntervalMs: 30_000, logger: rec.logger, metrics: rec.metrics } : { blockIntervalMs: 100 }),
  });
  const a = await open(0);
  const b = await open(1);
  nodes.push(a, b);
  const meterId = meterIds[0]![0]!;
  const key = loadKeyFile(dataPaths(dirs[0]!).meterKey(meterId));
  const reading = (seq: bigint, k = key) => signTx(genesis.chainId, k.alg, k.secretKey, { type: TxType.Reading, meterId, seq, time: Date.now(), importWh: Number(seq) });
  const operator = loadKeyFile(dataPaths(dirs[0]!).operatorKey);
  return { genesis, a, b, meterId, reading, operator };
}

test('a meter that sent seq 1 to one gateway and seq 2 to another: seq 2 commits first, and seq 1 still commits (the seq window, docs/protocol.md §3.9)', { timeout: 90_000 }, async () => {
  const rec = recorders();
  const { a, b, meterId, reading } = await twoGateways(rec);
  const told: DroppedReading[] = [];
  a.intake.onDropped((d) => told.push(d));
  const mqtt = { meterId, transport: 'mqtt' as const };
  assert.equal((await a.intake.submit(reading(1n), mqtt)).status, 'accepted');
  assert.equal((await b.intake.submit(reading(2n), mqtt)).status, 'accepted');
  await until('seq 2 committed at A', async () => (await a.getReceipt(meterId, 2n)) !== undefined, 20_000, 25);
  assert.equal(a.status().pending, 1, 'seq 1 still waits at A, valid');
  await until('seq 1 committed at B', async () => (await b.getReceipt(meterId, 1n)) !== undefined, 60_000, 50);
  assert.deepEqual(told, []);
  assert.deepEqual(rec.dropCounts, []);
});

test('a meter that sent seq 1 to one gateway and seq 1 + seqWindow to another: that commits first, seq 1 is dropped, logged at warn, counted and told', { timeout: 60_000 }, async () => {
  const rec = recorders();
  const { a, b, meterId, reading } = await twoGateways(rec);
  const told: DroppedReading[] = [];
  a.intake.onDropped((d) => told.push(d));
  const mqtt = { meterId, transport: 'mqtt' as const };
  const first = await a.intake.submit(reading(1n), mqtt);
  assert.equal(first.status, 'accepted');
  const far = 1n + BigInt(DEFAULT_SEQ_WINDOW);
  assert.equal((await b.intake.submit(reading(far), mqtt)).status, 'accepted');
  await until('the far seq committed at A', async () => (await a.getReceipt(meterId, far)) !== undefined, 20_000, 25);
  await until('A told the meter', () => told.length === 1, 5000, 25);
  assert.equal(told[0]!.meterId, meterId);
  assert.equal(told[0]!.seq, 1n);
  assert.equal(told[0]!.code, ReasonCode.SEQ_REPLAY);
  assert.deepEqual(told[0]!.txHash, first.txHash);
  const w = rec.warnings.find((x) => /no longer valid/.test(x.msg));
  assert.ok(w, rec.warnings.map((x) => x.msg).join('\n'));
  assert.equal(w.obj.meterId, meterId);
  assert.equal(w.obj.seq, '1');
  assert.equal(w.obj.code, ReasonCode.SEQ_REPLAY);
  assert.deepEqual(rec.dropCounts, [ReasonCode.SEQ_REPLAY]);
  assert.equal(a.status().pending, 0);
});

test('a reading signed with a key that a peer\'s block then rotated is dropped with E_READING_BAD_SIGNATURE (it would make every proposal of its gateway invalid)', { timeout: 60_000 }, async () => {
  const rec = recorders();
  const { genesis, a, b, meterId, reading, operator } = await twoGateways(rec);
  const told: DroppedReading[] = [];
  a.intake.onDropped((d) => told.push(d));
  assert.equal((await a.intake.submit(reading(1n), { meterId, transport: 'mqtt' })).status, 'accepted');
  const next = generateKeyPair(genesisAlg(genesis, meterId));
  const rotate = signTx(genesis.chainId, operator.alg, operator.secretKey, { type: TxType.MeterRotate, meterId, time: Date.now(), alg: next.alg, publicKey: next.publicKey, keyEpoch: 1 }, 'operator-0');
  assert.equal((await b.submitTx(rotate)).status, 'accepted');
  await until('the rotation committed at A', () => a.getMeter(meterId)?.keyEpoch === 1, 20_000, 25);
  await until('A told the meter', () => told.length === 1, 5000, 25);
  assert.equal(told[0]!.code, ReasonCode.BAD_SIGNATURE);
  assert.match(told[0]!.message, /rotated/);
  assert.deepEqual(rec.dropCounts, [ReasonCode.BAD_SIGNATURE]);
  assert.equal(a.status().pending, 0, 'nothing left that would spoil A\'s proposals');
  // The meter re-signs with its new key and goes on, through A.
  assert.equal((await a.intake.submit(reading(2n, next), { meterId, transport: 'mqtt' })).status, 'accepted');
});

const genesisAlg = (g: Genesis, id: string) => (g.meters.find((m) => m.id === id)!.alg === 'ES256' ? -7 as const : -8 as const);

test('a waiting reading that block times leave behind (older than maxReadingPastMs) is dropped with E_READING_TIME_SKEW', { timeout: 30_000 }, async () => {
  const chain = makeTestChain({ meters: 1 });
  roots.push(chain.dataDir);
  const rec = recorders();
  let offset = 0;
  const node = await LedgerNode.open({ openStore: inMemory, dataDir: chain.dataDir, genesis: chain.genesis, blockIntervalMs: 300, verifyWorkers: 0, now: () => Date.now() + offset, logger: rec.logger, metrics: rec.metrics });
  nodes.push(node);
  const told: DroppedReading[] = [];
  node.intake.onDropped((d) => told.push(d));
  const id = chain.meterIds[0]!;
  assert.equal((await node.intake.submit(chain.reading(id, 1), { meterId: id, transport: 'mqtt' })).status, 'accepted');
  offset = 9 * DAY; // the gateway's clock jumps (NTP after a long outage): the next block is 9 days later
  await until('dropped', () => told.length === 1, 10_000, 25);
  assert.equal(told[0]!.code, ReasonCode.TIME_SKEW);
  assert.deepEqual(rec.dropCounts, [ReasonCode.TIME_SKEW]);
  assert.equal(await node.getReceipt(id, 1n), undefined);
});

test('start-up: a write-ahead entry already in a block is released quietly; one a block made invalid is logged at warn, counted and told to the first listener', { timeout: 30_000 }, async () => {
  const chain = makeTestChain({ meters: 1 });
  roots.push(chain.dataDir);
  const id = chain.meterIds[0]!;
  const mqtt = { meterId: id, transport: 'mqtt' as const };
  let node = await LedgerNode.open({ openStore: inMemory, dataDir: chain.dataDir, genesis: chain.genesis, blockIntervalMs: 10, verifyWorkers: 0 });
  const committed2 = chain.reading(id, 2);
  for (const bytes of [chain.reading(id, 1), committed2, chain.reading(id, 3)]) assert.equal((await node.intake.submit(bytes, mqtt)).status, 'accepted');
  await until('1-3 committed', async () => (await node.readings(id, 0n, 10)).length === 3, 5000, 25);
  await node.close();
  // What a crash can leave: reading 2 exactly as committed (its segment not yet released),
  // another reading with seq 1 (it lost to the committed one), and a reading still to commit.
  const { wal } = await WriteAheadLog.open(dataPaths(chain.dataDir).wal);
  await wal.append([{ no: 20, bytes: committed2 }, { no: 21, bytes: chain.reading(id, 1, { importWh: 99 }) }, { no: 22, bytes: chain.reading(id, 4) }]);
  await wal.close();

  const rec = recorders();
  node = await LedgerNode.open({ openStore: inMemory, dataDir: chain.dataDir, genesis: chain.genesis, blockIntervalMs: 10, verifyWorkers: 0, logger: rec.logger, metrics: rec.metrics });
  nodes.push(node);
  const told: DroppedReading[] = [];
  node.intake.onDropped((d) => told.push(d)); // as the bridges do, after the node opened
  await until('the drop reaches the first listener', () => told.length === 1, 5000, 25);
  assert.equal(told[0]!.seq, 1n);
  assert.equal(told[0]!.code, ReasonCode.SEQ_REPLAY);
  const dropWarnings = rec.warnings.filter((w) => w.obj.entry !== undefined);
  assert.deepEqual(dropWarnings.map((w) => [w.obj.entry, w.obj.meterId, w.obj.seq, w.obj.code]), [[21, id, '1', ReasonCode.SEQ_REPLAY]]);
  assert.ok(rec.infos.some((i) => i.obj.released === 1 && /already in blocks/.test(i.msg)), rec.infos.map((i) => i.msg).join('\n'));
  assert.deepEqual(rec.dropCounts, [ReasonCode.SEQ_REPLAY]);
  await until('4 committed', async () => (await node.readings(id, 0n, 10)).length === 4, 5000, 25);
});
