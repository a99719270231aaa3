/**
 * test/vectors/state.json, the state rules step by step (docs/protocol.md §3.5, §3.6,
 * §9): each step is checked as a one-transaction block by checkTxs, the transaction part
 * of validateBlock (ledger-node/blocks/validate.ts), which decides block validity for
 * proposals, sync and the audit.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TxType, decodeTx, fromHex, parseGenesis, readingKey, readingWindow, sameReading, seqWindowOf } from '../../protocols/index.js';
import { SignatureVerifier } from '../../ledger-node/crypto/verifier.js';
import { InvalidTxError, checkTxs } from '../../ledger-node/blocks/validate.js';
import type { TxContext } from '../../ledger-node/signatures.js';
import { ChainState } from '../../ledger-node/state/layers.js';
import { genesisMeters, operatorsOf } from '../../ledger-node/state/meter.js';
import { readVector } from './generate.js';
import type { BlockFile, ReadingsFile, StateFile } from './types.js';

test('state.json: every step is valid or refused with its code, in order from block.json\'s genesis', async () => {
  const v = readVector<StateFile>('state.json');
  const genesis = parseGenesis(readVector<BlockFile>('block.json').genesis);
  assert.equal(v.chainId, genesis.chainId);
  assert.deepEqual(readingWindow(genesis), { maxPastMs: v.readingWindow.maxReadingPastMs, maxFutureMs: v.readingWindow.maxReadingFutureMs });
  const ctx: TxContext = { chainId: genesis.chainId, maxTxBytes: genesis.params.maxTxBytes, window: readingWindow(genesis), seqWindow: seqWindowOf(genesis), operators: operatorsOf(genesis), verifier: new SignatureVerifier(0) };
  const state = new ChainState(genesisMeters(genesis));
  let last = 0;
  let height = 0;
  for (const st of v.steps) {
    assert.ok(st.blockTime >= last, `${st.name}: block times never go back`);
    last = st.blockTime;
    let got: string;
    try {
      const { changes } = await checkTxs(ctx, state.committed, [fromHex(st.tx)], { height: height + 1, time: st.blockTime });
      state.commit(changes);
      height++;
      got = 'ok';
    } catch (e) {
      assert.ok(e instanceof InvalidTxError, String(e));
      got = e.code;
    }
    assert.equal(got, st.result, st.name);
  }
  assert.ok(v.steps.some((s) => s.result !== 'ok') && v.steps.some((s) => s.result === 'ok'));
});

test('block.json: its block is valid by the state rules at its header time (a conforming block, not only a well-encoded one)', async () => {
  const v = readVector<BlockFile>('block.json');
  const genesis = parseGenesis(v.genesis);
  const ctx: TxContext = { chainId: genesis.chainId, maxTxBytes: genesis.params.maxTxBytes, window: readingWindow(genesis), seqWindow: seqWindowOf(genesis), operators: operatorsOf(genesis), verifier: new SignatureVerifier(0) };
  const state = new ChainState(genesisMeters(genesis));
  const { decoded } = await checkTxs(ctx, state.committed, v.txs.map((t) => fromHex(t)), { height: v.header.height, time: v.header.time });
  assert.equal(decoded.length, v.header.txCount);
  assert.deepEqual(v.txs, readVector<ReadingsFile>('readings.json').cases.map((c) => c.tx), 'the reading vectors, byte for byte (the high-S one included)');
});

test('state.json sameReading: docs/protocol.md §3.8 identity of a reading (twins are the same reading, another payload is not)', () => {
  const v = readVector<StateFile>('state.json');
  assert.ok(v.sameReading.cases.some((c) => c.same && c.a !== c.b), 'a twin in other bytes is covered');
  for (const c of v.sameReading.cases) {
    const a = decodeTx(fromHex(c.a));
    const b = decodeTx(fromHex(c.b));
    assert.equal(sameReading(a, b), c.same, c.name);
    assert.equal(sameReading(b, a), c.same, c.name);
    if (c.same) assert.ok(a.body.type === TxType.Reading && b.body.type === TxType.Reading && readingKey(a.body.meterId, a.body.seq) === readingKey(b.body.meterId, b.body.seq));
  }
});
