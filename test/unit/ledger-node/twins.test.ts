/**
 * ES256 high-S twins (docs/protocol.md §3.8): an ES256 signature (r, s) has a twin
 * (r, n - s) that verifies too, so anyone who sees a reading in gossip can make other
 * bytes of the same reading. Here a rogue observer does, and its twin is what commits;
 * the gateway that accepted the meter's own bytes must still count them committed,
 * receipt them, and answer a retransmission with "accepted" and the receipt again.
 * Two validators and that observer on an in-memory network.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  Alg, type CommittedReading, ReasonCode, TxType, decodeTx, encodeCoseSign1, sameReading, signTx, toHex, verifyReceipt,
} from '../../../protocols/index.js';
import { dataPaths, initCluster } from '../../../ledger-node/devchain.js';
import { loadKeyFile } from '../../../ledger-node/keyfile.js';
import { LedgerNode } from '../../../ledger-node/node.js';
import { MemoryNetwork } from '../../../ledger-node/p2p/memory.js';
import { highS } from '../../vectors/generate.js';
import { until } from '../../helpers/until.js';
import { inMemory } from '../../helpers/memory-store.js';

const FAST = { proposeBaseMs: 2000, proposeDeltaMs: 100, prevoteBaseMs: 500, prevoteDeltaMs: 50, precommitBaseMs: 500, precommitDeltaMs: 50 };

const root = mkdtempSync(join(tmpdir(), 'meterledger-twins-'));
const nodes: LedgerNode[] = [];
after(async () => {
  for (const n of nodes) await n.close().catch(() => {});
  rmSync(root, { recursive: true, force: true });
});

test('a high-S twin made by a rogue observer commits in place of the meter\'s bytes: the meter\'s gateway counts its reading committed, receipts it, and takes a retransmission', { timeout: 60_000 }, async () => {
  const dirs = [0, 1, 2].map((i) => join(root, `node${i}`));
  const { genesis, nodeIds, meterIds } = initCluster(dirs, { validators: 2, observers: 1, metersPerNode: 1, meterAlg: 'ES256' });
  const net = new MemoryNetwork();
  const warnings: string[] = [];
  const logger = { debug() {}, info() {}, error() {}, warn: (o: object, m?: string) => void warnings.push(`${m ?? ''} ${JSON.stringify(o)}`) };
  // A (validator-0) holds the meter; B (validator-1) proposes height 1, round 0; A waits long before starting a height.
  const open = (i: number, blockIntervalMs: number) => LedgerNode.open({
    openStore: inMemory, dataDir: dirs[i]!, genesis, carrier: net.carrier(nodeIds[i]!), timeouts: FAST, blockIntervalMs, verifyWorkers: 0, ...(i === 0 ? { logger } : {}),
  });
  const a = await open(0, 30_000);
  const b = await open(1, 100);
  const o = await open(2, 100);
  nodes.push(a, b, o);
  const meterId = meterIds[0]![0]!;
  const key = loadKeyFile(dataPaths(dirs[0]!).meterKey(meterId));
  assert.equal(key.alg, Alg.ES256);
  const mine = signTx(genesis.chainId, key.alg, key.secretKey, { type: TxType.Reading, meterId, seq: 1n, time: Date.now(), importWh: 42 });
  const tx = decodeTx(mine);
  const twin = encodeCoseSign1(tx.cose.protectedBytes, tx.cose.payload, highS(tx.cose.signature));
  assert.ok(sameReading(tx, decodeTx(twin)) && toHex(twin) !== toHex(mine), 'a real twin: same content, other bytes');

  const seen: CommittedReading[] = [];
  a.intake.onCommitted((c) => seen.push(c));
  const mqtt = { meterId, transport: 'mqtt' as const };
  assert.equal((await a.intake.submit(mine, mqtt)).status, 'accepted');
  // The rogue observer takes the twin as if a meter had sent it, and gossips it.
  assert.equal((await o.intake.submit(twin, mqtt)).status, 'accepted');
  await until('the twin commits', async () => (await a.getReceipt(meterId, 1n)) !== undefined, 20_000);
  const stored = (await a.getReceipt(meterId, 1n))!;
  assert.equal(toHex(stored.tx), toHex(twin), 'the twin\'s bytes are what committed');

  // The meter's gateway counts its own bytes committed: nothing left waiting, nothing dropped.
  await until('A has nothing waiting', () => a.status().pending === 0, 10_000);
  assert.deepEqual(warnings.filter((w) => /no longer valid|dropped/.test(w)), []);
  // ... and the meter got the receipt of its (meter, seq), which verifies and is its reading.
  await until('A emits the committed reading', () => seen.length >= 1, 10_000);
  assert.equal(seen[0]!.meterId, meterId);
  assert.equal(seen[0]!.seq, 1n);
  assert.ok(sameReading(verifyReceipt(genesis, seen[0]!.receipt).tx, tx));

  // A retransmission of the meter's own bytes (its PUBACK lost) is accepted and receipted again.
  const again = await a.intake.submit(mine, mqtt);
  assert.equal(again.status, 'accepted', again.status === 'rejected' ? again.message : '');
  await until('the receipt goes out again', () => seen.length >= 2, 5000);
  assert.equal(seen[1]!.seq, 1n);
  assert.equal(toHex(seen[1]!.receipt.tx), toHex(twin));
  // A "twin" whose signature does not verify is not the meter's reading: a replay.
  const forged = encodeCoseSign1(tx.cose.protectedBytes, tx.cose.payload, new Uint8Array(64).fill(1));
  const r = await a.intake.submit(forged, mqtt);
  assert.equal(r.status === 'rejected' && r.code, ReasonCode.SEQ_REPLAY);
  // Another reading with the same seq is a replay too.
  const other = signTx(genesis.chainId, key.alg, key.secretKey, { type: TxType.Reading, meterId, seq: 1n, time: Date.now(), importWh: 43 });
  const r2 = await a.intake.submit(other, mqtt);
  assert.equal(r2.status === 'rejected' && r2.code, ReasonCode.SEQ_REPLAY);
});
