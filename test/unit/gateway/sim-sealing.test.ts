/**
 * The simulator's confidential meter (gateway/sim/sealing.ts, docs/protocol.md §11.6): one
 * period key per billing cycle, published before the first reading sealed under it; each
 * reading sealed so that its recipients, and only they, open it to its values.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  Alg, Kem, PERIOD_KEY_TX_TYPE, type PeriodKeyBody, ReasonCode, RejectionError, TxType, decodeAnyTx, decodeSealedReadingTx, decryptReading,
  kemPublicKey, openPeriodKey, parseGenesis, recipientFromSecretKey, toHex, verifySignature, sigStructure,
} from '../../../protocols/index.js';
import { generateKeyPair } from '../../../ledger-node/keyfile.js';
import { SealingMeter, keyPeriodOf } from '../../../gateway/sim/sealing.js';

const secret = (b: number): Uint8Array => new Uint8Array(32).fill(b);
const EPOCH = Date.UTC(2026, 11, 1);
const meter = generateKeyPair(Alg.EdDSA);
const genesis = parseGenesis({
  chainId: 'sim-sealing-1', genesisTime: '2026-12-01T00:00:00Z',
  validators: [{ id: 'v', alg: 'Ed25519', publicKey: toHex(generateKeyPair(Alg.EdDSA).publicKey) }],
  meters: [{
    id: 'meter-0001', alg: 'Ed25519', publicKey: toHex(meter.publicKey), owner: 'owner-0001', recipients: [
      { id: 'operator-0/enc-1', kem: 'X25519', publicKey: toHex(kemPublicKey(Kem.X25519, secret(7))) },
      { id: 'owner-0001/enc-1', kem: 'P-256', publicKey: toHex(kemPublicKey(Kem.P256, secret(9))) },
    ],
  }, { id: 'meter-0002', alg: 'Ed25519', publicKey: toHex(generateKeyPair(Alg.EdDSA).publicKey) }],
  currency: { code: 'EUR', minorUnits: 2 }, billingCycle: { epoch: new Date(EPOCH).toISOString(), lengthMs: 4000 },
});

test('keyPeriodOf: the chain\'s cycle, else the UTC month', () => {
  assert.equal(keyPeriodOf(genesis, EPOCH + 3999), 'cycle-0');
  assert.equal(keyPeriodOf(genesis, EPOCH + 4000), 'cycle-1');
  assert.equal(keyPeriodOf({ ...genesis, billingCycle: undefined } as typeof genesis, Date.UTC(2026, 10, 30, 23, 59)), '2026-11');
});

test('a confidential meter of genesis: a period key per cycle, before its readings; the owner opens each reading, another key cannot', async () => {
  const conf = SealingMeter.recipientsIn(genesis);
  assert.deepEqual([...conf.keys()], ['meter-0001'], 'only the meter with recipients seals');
  const s = new SealingMeter(genesis, 'meter-0001', meter, conf.get('meter-0001')!);
  assert.throws(() => s.seal({ type: TxType.Reading, meterId: 'meter-0001', seq: 1n, time: EPOCH, importWh: 1 }), /call periodKeyFor first/);

  const keys: PeriodKeyBody[] = [];
  const sealed: Uint8Array[] = [];
  for (const [i, t] of [EPOCH + 100, EPOCH + 2000, EPOCH + 4100, EPOCH + 4200].entries()) {
    const k = s.periodKeyFor(t);
    if (k) {
      const tx = decodeAnyTx(k, Infinity);
      assert.equal(tx.body.type, PERIOD_KEY_TX_TYPE);
      assert.ok(verifySignature(meter.alg, meter.publicKey, sigStructure(tx.cose.protectedBytes, tx.cose.payload, genesis.chainId), tx.cose.signature), 'signed by the meter');
      keys.push(tx.body as PeriodKeyBody);
    }
    sealed.push(s.seal({ type: TxType.Reading, meterId: 'meter-0001', seq: BigInt(i + 1), time: t, importWh: 5_000_000 + i }));
  }
  assert.deepEqual(keys.map((k) => k.period), ['cycle-0', 'cycle-1'], 'one key per cycle, at its first reading');
  assert.deepEqual(keys[0]!.recipients.map((r) => r.recipientId), ['operator-0/enc-1', 'owner-0001/enc-1']);

  const owner = await Promise.all(keys.map((k) => openPeriodKey(genesis.chainId, k, 'owner-0001/enc-1', recipientFromSecretKey(Kem.P256, secret(9)))));
  const values = sealed.map((b, i) => decryptReading(genesis.chainId, owner[i < 2 ? 0 : 1]!, decodeSealedReadingTx(b).body).importWh);
  assert.deepEqual(values, [5_000_000, 5_000_001, 5_000_002, 5_000_003]);
  await assert.rejects(openPeriodKey(genesis.chainId, keys[0]!, 'owner-0001/enc-1', recipientFromSecretKey(Kem.P256, secret(8))),
    (e: unknown) => e instanceof RejectionError && e.code === ReasonCode.CONF_AUTH_FAILED);
});
