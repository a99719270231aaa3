/**
 * The time rule on readings is a block rule (docs/protocol.md §3.5): a reading's time lies
 * in [header time - maxReadingPastMs, header time + maxReadingFutureMs] (genesis params,
 * default 8 days and 10 minutes), checked by every validator, by sync and by the audit;
 * the intake holds readings relayed by an observer to that window on its own clock.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import {
  Alg, DEFAULT_READING_WINDOW, ReasonCode, TxType, VoteType, decodeTx, encodeBlock, encodeCommit, genesisHash, headerHash,
  makeHeader, parseGenesis, readingWindow, seqWindowOf, signMessage, voteSignBytes,
} from '../../../protocols/index.js';
import { ChainAuditor, AuditError } from '../../../ledger-node/audit.js';
import { SignatureVerifier } from '../../../ledger-node/crypto/verifier.js';
import { dataPaths } from '../../../ledger-node/devchain.js';
import { loadKeyFile } from '../../../ledger-node/keyfile.js';
import { LedgerNode } from '../../../ledger-node/node.js';
import { selectTxs } from '../../../ledger-node/blocks/produce.js';
import type { TxContext } from '../../../ledger-node/signatures.js';
import { ChainState } from '../../../ledger-node/state/layers.js';
import { genesisMeters, operatorsOf } from '../../../ledger-node/state/meter.js';
import { type TestChain, makeTestChain } from '../../helpers/devchain.js';
import { inMemory } from '../../helpers/memory-store.js';

const DAY = 86_400_000;
const chains: TestChain[] = [];
after(() => {
  for (const c of chains) c.cleanup();
});
const chain = (): TestChain => {
  const c = makeTestChain({ meters: 2 });
  chains.push(c);
  return c;
};

/** Block `height` over `txs` at `time`, committed by the dev chain's one validator. */
function committedBlock(c: TestChain, txs: Uint8Array[], time: number, prevHash = genesisHash(c.genesis), height = 1) {
  const v = loadKeyFile(dataPaths(c.dataDir).validatorKey);
  const header = makeHeader({ chainId: c.genesis.chainId, height, time, prevHash, proposer: c.genesis.validators[0]!.id }, txs);
  const blockHash = headerHash(header);
  const signature = signMessage(Alg.EdDSA, v.secretKey, voteSignBytes(c.genesis.chainId, VoteType.Precommit, height, 0, blockHash));
  return { header, block: encodeBlock({ header, txs }), commit: encodeCommit({ height, round: 0, blockHash, signatures: [{ validator: header.proposer, signature }] }) };
}

test('genesis: the reading window defaults to 8 days / 10 minutes; explicit bounds are kept; a chain without them hashes as before', () => {
  const c = chain();
  const doc = JSON.parse(JSON.stringify(c.genesis)) as Record<string, unknown> & { params: Record<string, unknown> };
  assert.deepEqual(readingWindow(c.genesis), { maxPastMs: 8 * DAY, maxFutureMs: 600_000 });
  assert.deepEqual(DEFAULT_READING_WINDOW, readingWindow(c.genesis));
  assert.equal(c.genesis.params.maxReadingPastMs, undefined, 'absent stays absent (the hash of older chains is unchanged)');
  const explicit = parseGenesis({ ...doc, params: { ...doc.params, maxReadingPastMs: DAY, maxReadingFutureMs: 60_000 } });
  assert.deepEqual(readingWindow(explicit), { maxPastMs: DAY, maxFutureMs: 60_000 });
  assert.notDeepEqual(genesisHash(explicit), genesisHash(c.genesis));
  assert.throws(() => parseGenesis({ ...doc, params: { maxReadingFutureMs: 0 } }), /params\.maxReadingFutureMs/);
  assert.throws(() => parseGenesis({ ...doc, params: { maxReadingPastMs: 1.5 } }), /params\.maxReadingPastMs/);
});

test('audit: a committed block holding a meter-signed reading dated 1970 fails at that height with E_READING_TIME_SKEW', async () => {
  const c = chain();
  const id = c.meterIds[0]!;
  const now = Date.now();
  const good = committedBlock(c, [c.reading(id, 1, { time: now - 1000 })], now);
  const bad = committedBlock(c, [c.reading(id, 2, { time: 0 })], now + 1000, headerHash(good.header), 2);
  const auditor = new ChainAuditor(c.genesis, new SignatureVerifier(0));
  await auditor.add(good.block, good.commit);
  await assert.rejects(auditor.add(bad.block, bad.commit), (e: unknown) => {
    assert.ok(e instanceof AuditError);
    assert.equal(e.height, 2);
    assert.match(e.reason, /E_READING_TIME_SKEW: time 1970-01-01T00:00:00\.000Z is more than 691200000 ms before the block time/);
    return true;
  });
  // The edges are inside: exactly 8 days before and 10 minutes after the header time.
  const edges = committedBlock(c, [c.reading(id, 2, { time: now + 1000 - 8 * DAY }), c.reading(c.meterIds[1]!, 1, { time: now + 1000 + 600_000 })], now + 1000, headerHash(good.header), 2);
  await auditor.add(edges.block, edges.commit);
  assert.equal(auditor.height, 2);
});

test('selectTxs: a proposal leaves out readings outside the window of its time; one too new holds back its meter\'s later transactions', () => {
  const c = chain();
  const [a, b] = c.meterIds as [string, string];
  const ctx: TxContext = { chainId: c.genesis.chainId, maxTxBytes: 1024, window: readingWindow(c.genesis), seqWindow: seqWindowOf(c.genesis), operators: operatorsOf(c.genesis), verifier: new SignatureVerifier(0) };
  const base = new ChainState(genesisMeters(c.genesis)).committed;
  const T = Date.now();
  const waiting = [
    c.reading(a, 1, { time: T + 11 * 60_000 }), // too new for a block at T: waits
    c.reading(a, 2, { time: T }), // held behind seq 1 (else seq 1 would become a replay)
    c.reading(b, 1, { time: T - 9 * DAY }), // too old: left out for good
    c.reading(b, 2, { time: T }),
    c.operatorTx({ type: TxType.MeterRevoke, meterId: a, time: 0 }), // meter a is held: so is its revocation
  ].map((bytes) => decodeTx(bytes));
  const now = selectTxs(ctx, base, waiting, { height: 1, time: T }, 100);
  assert.deepEqual(now.decoded.map((t) => `${(t.body as { meterId: string }).meterId}/${t.body.type === TxType.Reading ? t.body.seq : 'revoke'}`), [`${b}/2`]);
  const later = selectTxs(ctx, base, waiting, { height: 1, time: T + 2 * 60_000 }, 100);
  assert.deepEqual(later.decoded.map((t) => `${(t.body as { meterId: string }).meterId}/${t.body.type === TxType.Reading ? t.body.seq : 'revoke'}`), [`${a}/1`, `${a}/2`, `${b}/2`, `${a}/revoke`]);
});

test('intake: a reading relayed by an observer is held to the block window on the node\'s clock (1970 refused, 7.5 days old taken); a device\'s to its own', async () => {
  const c = chain();
  const [a, b] = c.meterIds as [string, string];
  const node = await LedgerNode.open({ openStore: inMemory, dataDir: c.dataDir, genesis: c.genesis, blockIntervalMs: 60_000, verifyWorkers: 0 });
  try {
    const peer = { meterId: '', transport: 'peer' as const };
    const r1970 = await node.intake.submit(c.reading(a, 1, { time: 0 }), peer);
    assert.equal(r1970.status === 'rejected' && r1970.code, ReasonCode.TIME_SKEW);
    const ahead = await node.intake.submit(c.reading(a, 1, { time: Date.now() + 11 * 60_000 }), peer);
    assert.equal(ahead.status === 'rejected' && ahead.code, ReasonCode.TIME_SKEW);
    const old = c.reading(b, 1, { time: Date.now() - 7.5 * DAY });
    assert.equal((await node.intake.submit(old, peer)).status, 'accepted', 'inside the block window: relayed readings are not held to this gateway\'s configuration');
    const direct = await node.intake.submit(c.reading(b, 2, { time: Date.now() - 7.5 * DAY }), { meterId: b, transport: 'mqtt' });
    assert.equal(direct.status === 'rejected' && direct.code, ReasonCode.TIME_SKEW, 'from a device: ledger.maxPastMs (7 days)');
  } finally {
    await node.close();
  }
});

test('intake: readings relayed faster than twice a meter\'s allowance are E_READING_RATE_LIMITED', async () => {
  const c = chain();
  const a = c.meterIds[0]!;
  const node = await LedgerNode.open({ openStore: inMemory, dataDir: c.dataDir, genesis: c.genesis, blockIntervalMs: 60_000, verifyWorkers: 0, meterRatePerSecond: 1, meterBurst: 2 });
  try {
    const codes = [];
    for (let s = 1; s <= 6; s++) {
      const r = await node.intake.submit(c.reading(a, s), { meterId: '', transport: 'peer' });
      codes.push(r.status === 'accepted' ? 'ok' : r.code);
    }
    assert.deepEqual(codes.slice(0, 4), ['ok', 'ok', 'ok', 'ok'], 'a burst of 2 x 2');
    assert.ok(codes.slice(4).includes(ReasonCode.RATE_LIMITED), codes.join(' '));
  } finally {
    await node.close();
  }
});

test('a genesis window narrower than the configured one bounds the intake too (a device\'s reading 2 days old on a 1-day chain)', async () => {
  const c = chain();
  const doc = JSON.parse(JSON.stringify(c.genesis)) as Record<string, unknown> & { params: Record<string, unknown> };
  const genesis = parseGenesis({ ...doc, params: { ...doc.params, maxReadingPastMs: DAY } });
  const warned: string[] = [];
  const logger = { debug() {}, info() {}, error() {}, warn: (_o: unknown, m?: string) => void warned.push(m ?? '') };
  const node = await LedgerNode.open({ openStore: inMemory, dataDir: c.dataDir, genesis, blockIntervalMs: 60_000, verifyWorkers: 0, logger });
  try {
    const a = c.meterIds[0]!;
    const r = await node.intake.submit(c.reading(a, 1, { time: Date.now() - 2 * DAY }), { meterId: a, transport: 'mqtt' });
    assert.equal(r.status === 'rejected' && r.code, ReasonCode.TIME_SKEW);
    assert.ok(warned.some((m) => /wider than genesis allows/.test(m)), warned.join('\n'));
  } finally {
    await node.close();
  }
});
