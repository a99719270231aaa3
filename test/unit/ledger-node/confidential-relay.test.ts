/**
 * docs/protocol.md §11.6 "Order of arrival": a sealed reading that reaches a node before
 * its period key waits for it. Relayed by an observer in one gossip batch with its key
 * (the node checks a batch's transactions at once), relayed before a key that comes
 * later in a block from another validator, or sent by a meter right behind its key:
 * every reading commits, on every validator. The bounds of what waits are checked on
 * AwaitingKey itself.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import {
  Alg, Kem, TxType, kemPublicKey, peerSubjects, periodKeySchedule, sealPeriodKey, sealReading, signPeriodKey, signSealedReading, signTx,
} from '../../../protocols/index.js';
import { encodeTxBatch } from '../../../protocols/index.js';
import { AwaitingKey } from '../../../ledger-node/awaiting-key.js';
import { dataPaths, initCluster } from '../../../ledger-node/devchain.js';
import { generateKeyPair, loadKeyFile } from '../../../ledger-node/keyfile.js';
import { LedgerNode } from '../../../ledger-node/node.js';
import { sealEnvelope } from '../../../ledger-node/p2p/envelope.js';
import { MemoryNetwork } from '../../../ledger-node/p2p/memory.js';
import { until as untilEvery } from '../../helpers/until.js';
import { inMemory } from '../../helpers/memory-store.js';

const until = (what: string, cond: () => Promise<boolean> | boolean): Promise<void> => untilEvery(what, cond, 30_000, 25);
const rnd = (n: number): Uint8Array => crypto.getRandomValues(new Uint8Array(n));
const FAST = { proposeBaseMs: 300, proposeDeltaMs: 100, prevoteBaseMs: 150, prevoteDeltaMs: 50, precommitBaseMs: 150, precommitDeltaMs: 50 };

describe('sealed readings before their period key (2 validators, an observer\'s identity, in-memory network)', { timeout: 120_000 }, () => {
  const root = mkdtempSync(join(tmpdir(), 'meterledger-conf-relay-'));
  const dirs = Array.from({ length: 3 }, (_, i) => join(root, `node${i}`));
  const { genesis, nodeIds } = initCluster(dirs, { validators: 2, observers: 1, metersPerNode: 0 });
  const chainId = genesis.chainId;
  const net = new MemoryNetwork();
  const nodes: LedgerNode[] = [];
  after(async () => {
    for (const n of nodes) await n.close().catch(() => {});
    rmSync(root, { recursive: true, force: true });
  });

  const meterId = 'meter-conf-relay';
  const meter = generateKeyPair(Alg.EdDSA);
  const recipients = [{ id: 'biller-1/enc-1', kem: Kem.X25519, publicKey: kemPublicKey(Kem.X25519, rnd(32)) }];
  let seq = 0n;
  const periodKey = (period: string) => {
    const key = rnd(32);
    const tx = signPeriodKey(chainId, meter.alg, meter.secretKey, sealPeriodKey({ chainId, meterId, period, time: Date.now(), periodKey: key, recipients, random: rnd }));
    return { tx, schedule: periodKeySchedule(key, meterId, period) };
  };
  const sealed = (schedule: ReturnType<typeof periodKey>['schedule'], n: number) => Array.from({ length: n }, () => {
    seq++;
    return { seq, tx: signSealedReading(chainId, meter.alg, meter.secretKey, sealReading(chainId, schedule, { type: TxType.Reading, meterId, seq, time: Date.now(), importWh: 1000 + Number(seq) })) };
  });
  /** What the observer (not running: the test plays its part) relays: one signed gossip batch. */
  let wire: ReturnType<MemoryNetwork['carrier']> | undefined;
  const relay = (txs: Uint8Array[]) => {
    const key = loadKeyFile(dataPaths(dirs[2]!).validatorKey).privateKey;
    wire ??= net.carrier('observer-wire');
    wire.publish(peerSubjects(chainId).tx, sealEnvelope(chainId, nodeIds[2]!, key, 'tx', encodeTxBatch(txs), Date.now()).bytes);
  };
  const committedOnAll = async (rs: { seq: bigint }[]) => {
    for (const n of nodes) for (const r of rs) if ((await n.getReceipt(meterId, r.seq)) === undefined) return false;
    return true;
  };

  test('setup: two validators, a confidential meter', async () => {
    for (let i = 0; i < 2; i++) {
      nodes[i] = await LedgerNode.open({ openStore: inMemory, dataDir: dirs[i]!, genesis, carrier: net.carrier(nodeIds[i]!), timeouts: FAST, blockIntervalMs: 100, verifyWorkers: 0 });
    }
    const op = loadKeyFile(dataPaths(dirs[0]!).operatorKey);
    const reg = signTx(chainId, op.alg, op.secretKey, { type: TxType.MeterRegister, meterId, time: Date.now(), alg: meter.alg, publicKey: meter.publicKey, owner: 'john', recipients }, genesis.operators[0]!.id);
    const r = await nodes[0]!.intake.submit(reg, { meterId: '', transport: 'http' });
    assert.equal(r.status, 'accepted', r.status === 'rejected' ? r.message : '');
    await until('both validators know the meter', () => nodes.every((n) => n.intake.meterAuth(meterId) !== undefined));
  });

  test('an observer relays a period key and its readings in one batch: all commit on both validators', async () => {
    const k = periodKey('2026-11');
    const rs = sealed(k.schedule, 5);
    relay([k.tx, ...rs.map((r) => r.tx)]);
    await until('the 5 relayed sealed readings committed on both validators', () => committedOnAll(rs));
  });

  test('readings relayed before their key, which comes later through another validator\'s block: they wait, then commit', async () => {
    const k = periodKey('2026-12');
    const rs = sealed(k.schedule, 3);
    relay(rs.map((r) => r.tx));
    await until('both validators hold the 3 readings for their key', () => nodes.every((n) => n.intake.awaitingKeyCount === 3));
    // The meter's own gateway takes the key; the other validator gets it only in a block.
    const r = await nodes[0]!.intake.submit(k.tx, { meterId, transport: 'mqtt' });
    assert.equal(r.status, 'accepted', r.status === 'rejected' ? r.message : '');
    await until('the 3 readings committed on both validators', () => committedOnAll(rs));
    assert.deepEqual(nodes.map((n) => n.intake.awaitingKeyCount), [0, 0], 'nothing left waiting');
  });

  test('a meter publishing its key and readings without waiting for PUBACKs: all accepted', async () => {
    const k = periodKey('2027-01');
    const rs = sealed(k.schedule, 4);
    const res = await Promise.all([k.tx, ...rs.map((x) => x.tx)].map((tx) => nodes[1]!.intake.submit(tx, { meterId, transport: 'mqtt' })));
    for (const x of res) assert.equal(x.status, 'accepted', x.status === 'rejected' ? `${x.code}: ${x.message}` : '');
    await until('committed on both validators', () => committedOnAll(rs));
  });
});

describe('AwaitingKey: what waits for a period key is bounded', () => {
  test('one more than max is refused at once; one waiting past waitMs expires; a release resumes in arrival order', async () => {
    const a = new AwaitingKey({ max: 2, waitMs: 50 });
    const log: string[] = [];
    assert.ok(a.hold('m\u0000k1', () => log.push('r1'), () => log.push('x1')));
    assert.ok(a.hold('m\u0000k1', () => log.push('r2'), () => log.push('x2')));
    assert.equal(a.hold('m\u0000k2', () => log.push('r3'), () => log.push('x3')), false, 'full');
    a.release('m\u0000k1');
    assert.deepEqual(log, ['r1', 'r2']);
    assert.equal(a.size, 0);
    assert.ok(a.hold('m\u0000k2', () => log.push('r4'), () => log.push('x4')));
    await untilEvery('it expires', () => log.includes('x4'), 5000, 10);
    a.release('m\u0000k2');
    assert.deepEqual(log, ['r1', 'r2', 'x4'], 'an expired reading is not resumed');
    assert.equal(a.size, 0);
  });
});
