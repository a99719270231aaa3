/**
 * The per-meter anti-replay window (docs/protocol.md §3.9, as RFC 4303 §3.4.3 and
 * RFC 9147 §4.5.1): test/vectors/seq-window.json step by step, the block rule through
 * checkTxs (the function proposals, sync and the audit share), and the meter record's
 * encoding, old records included.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_SEQ_WINDOW, MAX_SEQ_WINDOW, ReasonCode, RejectionError, parseGenesis, readingWindow, seqWindowOf } from '../../../protocols/index.js';
import { SignatureVerifier } from '../../../ledger-node/crypto/verifier.js';
import { type MeterRecord, SEEN_UNKNOWN, genesisMeters, operatorsOf, sameRecord, takeSeq } from '../../../ledger-node/state/meter.js';
import { ChainState } from '../../../ledger-node/state/layers.js';
import type { TxContext } from '../../../ledger-node/signatures.js';
import { decodeMeterRecord, encodeMeterRecord } from '../../../ledger-node/store/codec.js';
import { InvalidTxError, checkTxs } from '../../../ledger-node/blocks/validate.js';
import { encodeCbor } from '../../../protocols/index.js';
import { makeTestChain } from '../../helpers/devchain.js';
import { readVector } from '../../vectors/generate.js';

interface SeqWindowFile {
  readonly seqWindow: number;
  readonly steps: readonly { name: string; seq: string; result: string; lastSeq: string; seen: string }[];
}

test('seq-window.json: each seq is taken or refused as the vector says, and the record after it matches', () => {
  const v = readVector<SeqWindowFile>('seq-window.json');
  let rec = { lastSeq: 0n, seen: 0n };
  for (const st of v.steps) {
    let got = 'ok';
    try {
      rec = takeSeq(rec, BigInt(st.seq), v.seqWindow);
    } catch (e) {
      assert.ok(e instanceof RejectionError, String(e));
      got = e.code;
    }
    assert.equal(got, st.result, st.name);
    assert.equal(rec.lastSeq, BigInt(st.lastSeq), `${st.name}: lastSeq`);
    assert.equal(rec.seen.toString(16), st.seen, `${st.name}: seen`);
  }
  assert.ok(v.steps.filter((s) => s.result === ReasonCode.SEQ_REPLAY).length >= 4);
});

test('block rule: a meter\'s readings commit in any order inside the window, each once; below it they are refused', async () => {
  const c = makeTestChain();
  try {
    const id = c.meterIds[0]!;
    const g = c.genesis;
    assert.equal(seqWindowOf(g), DEFAULT_SEQ_WINDOW);
    const ctx: TxContext = { chainId: g.chainId, maxTxBytes: g.params.maxTxBytes, window: readingWindow(g), seqWindow: seqWindowOf(g), operators: operatorsOf(g), verifier: new SignatureVerifier(0) };
    const state = new ChainState(genesisMeters(g));
    const meter = (m: string): MeterRecord | undefined => state.committed.get('meter', m) as MeterRecord | undefined;
    const T = Date.now();
    let height = 1;
    const block = async (seqs: number[]): Promise<string> => {
      try {
        const { changes } = await checkTxs(ctx, state.committed, seqs.map((s) => c.reading(id, s, { time: T })), { height: height++, time: T });
        state.commit(changes);
        return 'ok';
      } catch (e) {
        assert.ok(e instanceof InvalidTxError, String(e));
        return e.code;
      }
    };
    // Another gateway's block with 3 and 4 first, the failed-over gateway's 1 and 2 after.
    assert.equal(await block([3, 4]), 'ok');
    assert.equal(await block([2, 1]), 'ok');
    assert.equal(await block([2]), ReasonCode.SEQ_REPLAY, 'taken once');
    assert.equal(await block([5, 5]), ReasonCode.SEQ_REPLAY, 'twice in one block');
    assert.equal(meter(id)!.lastSeq, 4n);
    assert.equal(await block([4 + DEFAULT_SEQ_WINDOW]), 'ok');
    assert.equal(await block([4]), ReasonCode.SEQ_REPLAY, 'a window below the highest: too old');
    assert.equal(await block([5]), 'ok', 'the oldest free seq inside the window');
    assert.equal(await block([5]), ReasonCode.SEQ_REPLAY);
  } finally {
    c.cleanup();
  }
});

test('genesis: params.seqWindow is absent by default (the hash of older chains is unchanged), 1..4096 when given', () => {
  const c = makeTestChain();
  try {
    const doc = JSON.parse(JSON.stringify(c.genesis)) as Record<string, unknown> & { params: Record<string, unknown> };
    assert.equal(c.genesis.params.seqWindow, undefined);
    assert.equal(seqWindowOf(parseGenesis({ ...doc, params: { ...doc.params, seqWindow: 32 } })), 32);
    assert.throws(() => parseGenesis({ ...doc, params: { seqWindow: 0 } }), /params\.seqWindow/);
    assert.throws(() => parseGenesis({ ...doc, params: { seqWindow: MAX_SEQ_WINDOW + 1 } }), /params\.seqWindow: must be at most 4096/);
  } finally {
    c.cleanup();
  }
});

test('meter record: the window survives encoding; a record from before the window decodes as unknown, to be rebuilt', () => {
  const rec: MeterRecord = { alg: -8, publicKey: new Uint8Array(32).fill(7), keyEpoch: 0, revoked: false, lastSeq: 300n, seen: (1n << 255n) | 5n };
  const back = decodeMeterRecord(encodeMeterRecord(rec), 't');
  assert.equal(back.seen, rec.seen);
  assert.ok(sameRecord(rec, back));
  assert.ok(!sameRecord(rec, { ...rec, seen: 4n }));
  const old = encodeCbor({ alg: -8, publicKey: rec.publicKey, keyEpoch: 0, revoked: false, lastSeq: 300n });
  assert.equal(decodeMeterRecord(old, 't').seen, SEEN_UNKNOWN);
  const fresh = encodeCbor({ alg: -8, publicKey: rec.publicKey, keyEpoch: 0, revoked: false, lastSeq: 0 });
  assert.equal(decodeMeterRecord(fresh, 't').seen, 0n);
});
