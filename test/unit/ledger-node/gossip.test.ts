/**
 * Gossip goes out in batches (one signed envelope per batch, not per reading), in accept
 * order: a burst of readings at one validator reaches its peer in a few 'tx' messages
 * holding all of them; an observer's burst commits in full and in order; malformed gossip
 * is dropped without harm.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { TxType, parsePeerEnvelope, peerSubjects, sha256, signTx, toHex } from '../../../protocols/index.js';
import { decodeTxBatch, encodeTxBatch } from '../../../protocols/index.js';
import { dataPaths, initCluster } from '../../../ledger-node/devchain.js';
import { loadKeyFile } from '../../../ledger-node/keyfile.js';
import { LedgerNode } from '../../../ledger-node/node.js';
import { sealEnvelope } from '../../../ledger-node/p2p/envelope.js';
import { MemoryNetwork } from '../../../ledger-node/p2p/memory.js';
import { until as untilEvery } from '../../helpers/until.js';
import { inMemory } from '../../helpers/memory-store.js';

const until = (what: string, cond: () => Promise<boolean> | boolean): Promise<void> => untilEvery(what, cond, 20_000, 25);

const FAST = { proposeBaseMs: 300, proposeDeltaMs: 100, prevoteBaseMs: 150, prevoteDeltaMs: 50, precommitBaseMs: 150, precommitDeltaMs: 50 };

describe('batched gossip (2 validators and 1 observer, in-memory network)', { timeout: 120_000 }, () => {
  const root = mkdtempSync(join(tmpdir(), 'meterledger-gossip-'));
  const dirs = Array.from({ length: 3 }, (_, i) => join(root, `node${i}`));
  const { genesis, nodeIds, meterIds } = initCluster(dirs, { validators: 2, observers: 1, metersPerNode: 2 });
  const net = new MemoryNetwork();
  const nodes: LedgerNode[] = [];
  const seqs = new Map<string, bigint>();
  after(async () => {
    for (const n of nodes) await n.close().catch(() => {});
    rmSync(root, { recursive: true, force: true });
  });

  const reading = (node: number, k: number) => {
    const id = meterIds[node]![k]!;
    const key = loadKeyFile(dataPaths(dirs[node]!).meterKey(id));
    const seq = (seqs.get(id) ?? 0n) + 1n;
    seqs.set(id, seq);
    return { id, seq, bytes: signTx(genesis.chainId, key.alg, key.secretKey, { type: TxType.Reading, meterId: id, seq, time: Date.now(), importWh: Number(seq) }) };
  };
  /** `n` readings over the node's two meters, submitted at once (one burst). */
  const burst = async (node: number, n: number) => {
    const rs = Array.from({ length: n }, (_, i) => reading(node, i % 2));
    const res = await Promise.all(rs.map((r) => nodes[node]!.intake.submit(r.bytes, { meterId: r.id, transport: 'mqtt' })));
    for (const x of res) assert.equal(x.status, 'accepted', x.status === 'rejected' ? x.message : '');
    return rs;
  };
  const allCommitted = async (node: number, rs: { id: string; seq: bigint }[]) =>
    (await Promise.all(rs.map((r) => nodes[node]!.getReceipt(r.id, r.seq)))).every((x) => x !== undefined);

  test('a burst of 60 readings at a validator reaches its peer in a few batches holding all 60, in order', async () => {
    for (let i = 0; i < 3; i++) {
      nodes[i] = await LedgerNode.open({ openStore: inMemory, dataDir: dirs[i]!, genesis, carrier: net.carrier(nodeIds[i]!), timeouts: FAST, blockIntervalMs: 100, verifyWorkers: 0 });
    }
    // A listener on the network sees what the peers see.
    const batches: Uint8Array[][] = [];
    net.carrier('tap').subscribe(peerSubjects(genesis.chainId).tx, (data) => {
      const env = parsePeerEnvelope(data);
      if (env.header.from === nodeIds[0]) batches.push(decodeTxBatch(env.payload));
    });
    const rs = await burst(0, 60);
    await until('the burst committed on the peer', () => allCommitted(1, rs));
    assert.ok(batches.length >= 1 && batches.length <= 10, `60 readings in ${batches.length} gossip messages (one per reading before batching)`);
    const gossiped = batches.flat().map((b) => toHex(sha256(b)));
    assert.deepEqual(gossiped, rs.map((r) => toHex(sha256(r.bytes))), 'every reading gossiped once, in accept order');
  });

  test('an observer\'s burst of 40 readings commits in full on both validators', async () => {
    const rs = await burst(2, 40);
    await until('the observer\'s burst committed on validator 0', () => allCommitted(0, rs));
    await until('... and on validator 1', () => allCommitted(1, rs));
  });

  test('malformed gossip (not an array, empty, a non-bstr entry, garbage) is dropped; the node goes on', async () => {
    // Genuinely signed by validator 1, so it passes the peer layer and reaches the driver.
    const key1 = loadKeyFile(dataPaths(dirs[1]!).validatorKey).privateKey;
    const injector = net.carrier('injector');
    const deliver = (payload: Uint8Array) =>
      injector.publish(peerSubjects(genesis.chainId).tx, sealEnvelope(genesis.chainId, nodeIds[1]!, key1, 'tx', payload, Date.now()).bytes);
    deliver(Uint8Array.of(0xff, 0x00, 0x13));
    deliver(encodeTxBatch([]));
    deliver(new TextEncoder().encode('not cbor at all'));
    deliver(Uint8Array.of(0x82, 0x41, 0x01, 0x01)); // [h'01', 1]
    const rs = await burst(0, 4);
    await until('readings after the garbage commit', () => allCommitted(1, rs));
    assert.throws(() => decodeTxBatch(encodeTxBatch([])), /array of 1\.\./);
  });
});
