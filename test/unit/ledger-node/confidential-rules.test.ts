/**
 * Confidential meters on the ledger (docs/protocol.md §11.2, §11.6, §11.9): registration
 * with recipient keys (label 16), period keys (type 5) and sealed readings (label 12)
 * through checkTxs, the block rule proposals, sync, the audit and write-ahead replay
 * share; each refusal with its own code.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  Alg, Kem, ReasonCode, type RecipientKey, TxType, decodeAnyTx, kemPublicKey, periodKeySchedule, readingWindow, sealPeriodKey, sealReading, seqWindowOf,
  signPeriodKey, signSealedReading, signTx, toHex,
} from '../../../protocols/index.js';
import { SignatureVerifier } from '../../../ledger-node/crypto/verifier.js';
import { generateKeyPair } from '../../../ledger-node/keyfile.js';
import { genesisMeters, operatorsOf } from '../../../ledger-node/state/meter.js';
import { ChainState } from '../../../ledger-node/state/layers.js';
import type { TxContext } from '../../../ledger-node/signatures.js';
import { InvalidTxError, checkTxs } from '../../../ledger-node/blocks/validate.js';
import { decodeMeterRecord, encodeMeterRecord } from '../../../ledger-node/store/codec.js';
import { makeTestChain } from '../../helpers/devchain.js';
import { readVector } from '../../vectors/generate.js';

const rnd = (n: number): Uint8Array => crypto.getRandomValues(new Uint8Array(n));
const recipient = (id: string, kem: Kem): RecipientKey & { secretKey: Uint8Array } => {
  const secretKey = rnd(32);
  return { id, kem, publicKey: kemPublicKey(kem, secretKey), secretKey };
};

test('operator.json: a confidential registration decodes with its recipient keys, and an old one without', () => {
  const v = readVector<{ cases: { name: string; tx: string }[] }>('operator.json');
  const conf = v.cases.find((c) => c.name.startsWith('register a confidential'))!;
  const tx = decodeAnyTx(Buffer.from(conf.tx, 'hex'));
  assert.equal(tx.body.type, TxType.MeterRegister);
  const ids = (tx.body as { recipients?: RecipientKey[] }).recipients?.map((r) => r.id);
  assert.deepEqual(ids, ['auditor-1/enc-1', 'biller-1/enc-1', 'john/enc-1']);
  const old = decodeAnyTx(Buffer.from(v.cases[0]!.tx, 'hex'));
  assert.equal((old.body as { recipients?: unknown }).recipients, undefined);
});

test('registration label 16: unsorted, duplicate or unusable recipient keys are E_CONF_MALFORMED', () => {
  const c = makeTestChain({ meters: 0 });
  try {
    const m = generateKeyPair(Alg.EdDSA);
    const a = recipient('a/enc-1', Kem.X25519);
    const b = recipient('b/enc-1', Kem.P256);
    const reg = (recipients: RecipientKey[]) => c.operatorTx({ type: TxType.MeterRegister, meterId: 'meter-c', time: 1, alg: m.alg, publicKey: m.publicKey, recipients });
    assert.ok(decodeAnyTx(reg([a, b])));
    for (const [name, list] of [['unsorted', [b, a]], ['duplicate', [a, a]], ['empty', []], ['small-order X25519', [{ ...a, publicKey: new Uint8Array(32) }]]] as const) {
      assert.throws(() => decodeAnyTx(reg([...list])), (e: { code?: string }) => e.code === ReasonCode.CONF_MALFORMED, name);
    }
  } finally {
    c.cleanup();
  }
});

test('block rule: a confidential meter publishes a period key to exactly its recipients, then sealed readings; each refusal has its code', async () => {
  const c = makeTestChain({ meters: 1 });
  try {
    const g = c.genesis;
    const ctx: TxContext = { chainId: g.chainId, maxTxBytes: g.params.maxTxBytes, window: readingWindow(g), seqWindow: seqWindowOf(g), operators: operatorsOf(g), verifier: new SignatureVerifier(0) };
    const state = new ChainState(genesisMeters(g));
    const T = Date.now();
    let height = 1;
    const block = async (txs: Uint8Array[]): Promise<string> => {
      try {
        const { changes } = await checkTxs(ctx, state.committed, txs, { height: height++, time: T });
        state.commit(changes);
        return 'ok';
      } catch (e) {
        assert.ok(e instanceof InvalidTxError, String(e));
        return e.code;
      }
    };
    const meter = generateKeyPair(Alg.EdDSA);
    const owner = recipient('john/enc-1', Kem.P256);
    const biller = recipient('biller-1/enc-1', Kem.X25519);
    const auditor = recipient('auditor-1/enc-1', Kem.X25519);
    const recipients = [auditor, biller, owner].map(({ id, kem, publicKey }) => ({ id, kem, publicKey }));
    const id = 'meter-conf-1';
    assert.equal(await block([c.operatorTx({ type: TxType.MeterRegister, meterId: id, time: T, alg: meter.alg, publicKey: meter.publicKey, owner: 'john', recipients })]), 'ok');
    // The record keeps the recipients across the store's encoding.
    const rec = state.committed.get('meter', id) as Parameters<typeof encodeMeterRecord>[0];
    assert.deepEqual(decodeMeterRecord(encodeMeterRecord(rec), id).recipients?.map((r) => r.id), ['auditor-1/enc-1', 'biller-1/enc-1', 'john/enc-1']);

    const periodKey = rnd(32);
    const schedule = periodKeySchedule(periodKey, id, '2026-12');
    const pk = (to: RecipientKey[], key = periodKey, signer = meter) => signPeriodKey(g.chainId, signer.alg, signer.secretKey, sealPeriodKey({ chainId: g.chainId, meterId: id, period: '2026-12', time: T, periodKey: key, recipients: to, random: rnd }));
    const sealed = (seq: number, importWh: number, s = schedule) => signSealedReading(g.chainId, meter.alg, meter.secretKey, sealReading(g.chainId, s, { type: TxType.Reading, meterId: id, seq: BigInt(seq), time: T, importWh }));
    const clear = (seq: number) => signTx(g.chainId, meter.alg, meter.secretKey, { type: TxType.Reading, meterId: id, seq: BigInt(seq), time: T, importWh: 5 });

    assert.equal(await block([sealed(1, 100)]), ReasonCode.CONF_UNKNOWN_KEY, 'a reading under a period key not yet published');
    assert.equal(await block([pk(recipients.slice(1))]), ReasonCode.CONF_WRONG_RECIPIENTS, 'the auditor missing');
    const stranger = recipient('eve/enc-1', Kem.X25519);
    assert.equal(await block([pk([...recipients, stranger])]), ReasonCode.CONF_WRONG_RECIPIENTS, 'one recipient too many');
    assert.equal(await block([pk(recipients, periodKey, generateKeyPair(Alg.EdDSA))]), ReasonCode.BAD_SIGNATURE, 'a period key signed by another key');
    assert.equal(await block([pk(recipients), sealed(1, 100), sealed(2, 150)]), 'ok', 'the period key, then its readings, in one block');
    assert.equal(await block([pk(recipients)]), ReasonCode.TX_CONFLICT, 'the same period key again');
    assert.equal(await block([clear(3)]), ReasonCode.CONF_MODE_MISMATCH, 'a clear reading of a confidential meter');
    assert.equal(await block([sealed(2, 999)]), ReasonCode.SEQ_REPLAY, 'a second reading of seq 2 (other values: the ledger never holds a nonce reuse)');
    const other = periodKeySchedule(rnd(32), id, '2026-12');
    assert.equal(await block([sealed(3, 200, other)]), ReasonCode.CONF_UNKNOWN_KEY, 'a reading under another, unpublished key');
    assert.equal(await block([sealed(3, 200)]), 'ok');

    // A clear meter: no period key, no sealed reading.
    const clearId = c.meterIds[0]!;
    const k = c.meterKeys.get(clearId)!;
    const clearSchedule = periodKeySchedule(periodKey, clearId, '2026-12');
    const sealedOfClear = signSealedReading(g.chainId, k.alg, k.secretKey, sealReading(g.chainId, clearSchedule, { type: TxType.Reading, meterId: clearId, seq: 1n, time: T, importWh: 1 }));
    assert.equal(await block([sealedOfClear]), ReasonCode.CONF_MODE_MISMATCH, 'a sealed reading of a clear meter');
    const pkOfClear = signPeriodKey(g.chainId, k.alg, k.secretKey, sealPeriodKey({ chainId: g.chainId, meterId: clearId, period: '2026-12', time: T, periodKey, recipients, random: rnd }));
    assert.equal(await block([pkOfClear]), ReasonCode.CONF_MODE_MISMATCH, 'a period key of a clear meter');
    assert.equal(await block([c.reading(clearId, 1, { time: T })]), 'ok', 'its clear readings still go');
    assert.ok(toHex(schedule.keyId).length === 32);
  } finally {
    c.cleanup();
  }
});

test('registration: a recipient key that is the meter\'s own signing key (P-256 by x-coordinate) is refused', async () => {
  const c = makeTestChain({ meters: 0 });
  try {
    const g = c.genesis;
    const ctx: TxContext = { chainId: g.chainId, maxTxBytes: g.params.maxTxBytes, window: readingWindow(g), seqWindow: seqWindowOf(g), operators: operatorsOf(g), verifier: new SignatureVerifier(0) };
    const meter = generateKeyPair(Alg.ES256);
    const same = { id: 'meter/enc-1', kem: Kem.P256, publicKey: kemPublicKey(Kem.P256, meter.secretKey) };
    const tx = c.operatorTx({ type: TxType.MeterRegister, meterId: 'meter-p', time: 1, alg: meter.alg, publicKey: meter.publicKey, recipients: [same] });
    await assert.rejects(checkTxs(ctx, new ChainState([]).committed, [tx], { height: 1, time: Date.now() }), (e: InvalidTxError) => e.code === ReasonCode.CONF_MALFORMED);
  } finally {
    c.cleanup();
  }
});
