import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Alg, TxType, decodeAnyTx, publicKeyOf, randomSecretKey, sigStructure, signMessage, signTx, verifySignature } from '../../../protocols/index.js';
import { SignatureVerifier } from '../../../ledger-node/crypto/verifier.js';

test('the verify pool checks signatures in its workers: good ones pass, altered ones fail', async () => {
  const v = new SignatureVerifier(2);
  try {
    for (const alg of [Alg.EdDSA, Alg.ES256]) {
      const sk = randomSecretKey(alg);
      const pk = publicKeyOf(alg, sk);
      const msg = new TextEncoder().encode(`a reading, ${alg}`);
      const sig = signMessage(alg, sk, msg);
      assert.equal(await v.verify(alg, pk, msg, sig), true);
      const bad = Uint8Array.from(sig);
      bad[5]! ^= 1;
      assert.equal(await v.verify(alg, pk, msg, bad), false);
    }
  } finally {
    await v.close();
  }
});


/**
 * checkReading (the intake's hot path, ledger-node/crypto/tx-worker.ts): what comes back
 * is what decodeAnyTx and a verify on the calling thread make of the same bytes, in the
 * order asked, with workers and without.
 */
test('checkReading decodes and verifies as the calling thread would, answers in call order, and leaves the rest to it', async () => {
  const chainId = 'chain-test';
  const maxTxBytes = 1024;
  const ed = randomSecretKey(Alg.EdDSA);
  const p256 = randomSecretKey(Alg.ES256);
  const keys = [{ alg: Alg.EdDSA, sk: ed, pk: publicKeyOf(Alg.EdDSA, ed) }, { alg: Alg.ES256, sk: p256, pk: publicKeyOf(Alg.ES256, p256) }];
  interface Case { bytes: Uint8Array; alg?: Alg; key?: Uint8Array; decodes: boolean; sigOk?: boolean }
  const cases: Case[] = [];
  for (let i = 0; i < 700; i++) {
    const k = keys[i % 2]!;
    const body = { type: TxType.Reading, meterId: `m-${i % 7}`, seq: BigInt(i + 1), time: 1_700_000_000 + i, importWh: i * 10, ...(i % 3 === 0 ? { exportWh: i } : {}), ...(i % 5 === 0 ? { powerW: -i } : {}) } as const;
    let bytes = signTx(chainId, k.alg, k.sk, body);
    const kind = i % 10;
    if (kind === 1) {
      bytes = Uint8Array.from(bytes);
      bytes[bytes.length - 3]! ^= 1; // signature bit
      cases.push({ bytes, alg: k.alg, key: k.pk, decodes: true, sigOk: false });
    } else if (kind === 2) {
      cases.push({ bytes, decodes: true }); // no key: decoded, not verified
    } else if (kind === 3) {
      cases.push({ bytes, alg: k.alg, key: publicKeyOf(k.alg, randomSecretKey(k.alg)), decodes: true, sigOk: false }); // another key
    } else if (kind === 4) {
      cases.push({ bytes: bytes.subarray(0, bytes.length - 1), alg: k.alg, key: k.pk, decodes: false }); // truncated: refused on the caller's thread
    } else if (kind === 5) {
      cases.push({ bytes: signTx(chainId, k.alg, k.sk, { type: TxType.MeterRevoke, meterId: 'm-1', time: 1 }), alg: k.alg, key: k.pk, decodes: false }); // not a reading
    } else if (kind === 6) {
      cases.push({ bytes: signTx(chainId, k.alg, k.sk, body, 'op-1'), alg: k.alg, key: k.pk, decodes: false }); // a reading with kid: E_READING_MALFORMED there
    } else if (kind === 7) {
      // In a Buffer of the pool, as MQTT hands it over: the views must be plain Uint8Arrays over it.
      const b = Buffer.alloc(bytes.length + 9);
      b.set(bytes, 9);
      cases.push({ bytes: b.subarray(9), alg: k.alg, key: k.pk, decodes: true, sigOk: true });
    } else {
      cases.push({ bytes, alg: k.alg, key: k.pk, decodes: true, sigOk: true });
    }
  }
  for (const workers of [2, 0]) {
    const v = new SignatureVerifier(workers);
    try {
      const order: number[] = [];
      const answers = await Promise.all(cases.map((c, i) => v.checkReading(c.bytes, chainId, maxTxBytes, c.alg, c.key).then((r) => (order.push(i), r))));
      assert.deepEqual(order, cases.map((_, i) => i), 'answers in call order');
      answers.forEach((r, i) => {
        const c = cases[i]!;
        if (!c.decodes) {
          assert.equal(r.tx, undefined, `case ${i} is left to the caller`);
          return;
        }
        const want = decodeAnyTx(c.bytes, maxTxBytes);
        assert.ok(r.tx, `case ${i} decoded`);
        assert.deepEqual(r.tx.body, want.body);
        assert.equal(r.tx.hashHex, want.hashHex);
        assert.deepEqual([...r.tx.hash], [...want.hash]);
        assert.equal(r.tx.bytes, c.bytes);
        assert.equal(r.tx.cose.alg, want.cose.alg);
        for (const f of ['protectedBytes', 'payload', 'signature'] as const) {
          assert.equal(Object.getPrototypeOf(r.tx.cose[f]), Uint8Array.prototype, `${f} is a plain Uint8Array`);
          assert.deepEqual([...r.tx.cose[f]], [...want.cose[f]], `case ${i} ${f}`);
        }
        assert.equal(r.signatureOk, c.sigOk, `case ${i} signature`);
        if (c.key) assert.equal(r.signatureOk, verifySignature(c.alg!, c.key, sigStructure(want.cose.protectedBytes, want.cose.payload, chainId), want.cose.signature));
      });
    } finally {
      await v.close();
    }
  }
});
