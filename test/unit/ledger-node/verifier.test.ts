import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  Alg, Kem, RejectionError, type SealedReading, TxType, decodeAnyTx, encodeCbor, encodeSealedReadingBody, kemPublicKey, periodKeySchedule, publicKeyOf,
  randomSecretKey, sealPeriodKey, sealReading, sigStructure, signCoseSign1, signMessage, signPeriodKey, signSealedReading, signTx, verifySignature,
} from '../../../protocols/index.js';
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

/**
 * The same for sealed readings (docs/protocol.md §11.4): the worker's answer is what
 * decodeAnyTx and a verify make of the bytes, the COSE_Encrypt0 rebuilt as plain views of
 * the caller's bytes; a bad signature is SIG_BAD there, and a malformed sealed body (or a
 * period key) is left to the caller, whose decodeAnyTx refuses it with its own code.
 */
test('checkReading answers sealed readings as the calling thread would: body, signature, and what it leaves to the caller', async () => {
  const chainId = 'chain-test';
  const maxTxBytes = 1024;
  const rnd = (n: number): Uint8Array => crypto.getRandomValues(new Uint8Array(n));
  interface Case { name: string; bytes: Uint8Array; alg?: Alg; key?: Uint8Array; refused?: string; sigOk?: boolean }
  const cases: Case[] = [];
  for (const alg of [Alg.EdDSA, Alg.ES256]) {
    const sk = randomSecretKey(alg);
    const pk = publicKeyOf(alg, sk);
    // Meter ids of any length move where the COSE_Encrypt0 lies in the bytes.
    for (const meterId of ['m', `meter-${'x'.repeat(40)}`]) {
      const schedule = periodKeySchedule(rnd(32), meterId, '2026-12');
      const seal = (seq: bigint, more: object = {}): SealedReading => sealReading(chainId, schedule, { type: TxType.Reading, meterId, seq, time: 1_700_000_000_000 + Number(seq % 1000n), importWh: 7, ...more });
      const signBody = (payload: Uint8Array): Uint8Array => signCoseSign1(alg, sk, payload, chainId);
      for (const seq of [1n, 23n, 2n ** 32n, 2n ** 64n - 1n]) {
        const tx = signSealedReading(chainId, alg, sk, seal(seq, seq === 23n ? { exportWh: 3, powerW: -9 } : {}));
        cases.push({ name: `${alg} ${meterId.length} seq ${seq}`, bytes: tx, alg, key: pk, sigOk: true });
      }
      const good = signSealedReading(chainId, alg, sk, seal(5n));
      const flipped = Uint8Array.from(good);
      flipped[flipped.length - 2]! ^= 1;
      cases.push({ name: 'signature bit', bytes: flipped, alg, key: pk, sigOk: false });
      cases.push({ name: 'another key', bytes: good, alg, key: publicKeyOf(alg, randomSecretKey(alg)), sigOk: false });
      cases.push({ name: 'no key', bytes: good });
      const pooled = Buffer.alloc(good.length + 5);
      pooled.set(good, 5);
      cases.push({ name: 'in a pooled Buffer', bytes: pooled.subarray(5), alg, key: pk, sigOk: true });
      // Malformed sealed bodies, validly signed: refused by decodeAnyTx with their codes.
      const s = seal(6n);
      const other = (sealed: Partial<SealedReading['sealed']>): Uint8Array => signBody(encodeSealedReadingBody({ ...s, sealed: { ...s.sealed, ...sealed } }));
      cases.push({ name: 'IV of another seq', bytes: other({ iv: seal(7n).sealed.iv }), alg, key: pk, refused: 'E_CONF_MALFORMED' });
      cases.push({ name: 'short ciphertext', bytes: other({ ciphertext: s.sealed.ciphertext.subarray(1) }), alg, key: pk, refused: 'E_CONF_MALFORMED' });
      const a128 = Uint8Array.from(s.sealed.protectedBytes);
      a128[2] = 1; // alg A128GCM
      cases.push({ name: 'alg A128GCM', bytes: other({ protectedBytes: a128 }), alg, key: pk, refused: 'E_CONF_MALFORMED' });
      const enc0 = [s.sealed.protectedBytes, new Map([[5, s.sealed.iv]]), s.sealed.ciphertext];
      const mixed = encodeCbor(new Map<number, unknown>([[0, 1], [1, meterId], [2, 6n], [3, s.time], [4, 7], [12, enc0]]));
      cases.push({ name: 'clear and sealed at once', bytes: signBody(mixed), alg, key: pk, refused: 'E_READING_SCHEMA' });
      cases.push({ name: 'with a kid', bytes: signCoseSign1(alg, sk, encodeSealedReadingBody(s), chainId, 'op-1'), alg, key: pk, refused: 'E_READING_MALFORMED' });
      const recipients = [{ id: 'biller-1/enc-1', kem: Kem.X25519, publicKey: kemPublicKey(Kem.X25519, rnd(32)) }];
      const periodKey = signPeriodKey(chainId, alg, sk, sealPeriodKey({ chainId, meterId, period: '2026-12', time: 1, periodKey: rnd(32), recipients, random: rnd }));
      cases.push({ name: 'a period key', bytes: periodKey, alg, key: pk });
    }
  }
  for (const workers of [2, 0]) {
    const v = new SignatureVerifier(workers);
    try {
      const answers = await Promise.all(cases.map((c) => v.checkReading(c.bytes, chainId, maxTxBytes, c.alg, c.key)));
      answers.forEach((r, i) => {
        const c = cases[i]!;
        const what = `${c.name} (${workers} workers)`;
        if (c.refused !== undefined) {
          assert.equal(r.tx, undefined, `${what}: left to the caller`);
          assert.throws(() => decodeAnyTx(c.bytes, maxTxBytes), (e) => e instanceof RejectionError && e.code === c.refused, what);
          return;
        }
        const want = decodeAnyTx(c.bytes, maxTxBytes);
        if (!('sealed' in want.body)) {
          assert.equal(r.tx, undefined, `${what}: not a reading, left to the caller`);
          return;
        }
        assert.ok(r.tx, `${what}: answered by the worker`);
        assert.deepEqual(r.tx.body, want.body, what);
        assert.ok('sealed' in r.tx.body);
        for (const [f, part] of Object.entries(r.tx.body.sealed)) {
          assert.equal(Object.getPrototypeOf(part), Uint8Array.prototype, `${what}: ${f} is a plain Uint8Array`);
          assert.equal(part.buffer, c.bytes.buffer, `${what}: ${f} is a view of the caller's bytes`);
        }
        assert.equal(r.tx.hashHex, want.hashHex);
        assert.deepEqual([...r.tx.cose.payload], [...want.cose.payload]);
        assert.equal(r.signatureOk, c.sigOk, `${what}: signature`);
        if (c.key) assert.equal(r.signatureOk, verifySignature(c.alg!, c.key, sigStructure(want.cose.protectedBytes, want.cose.payload, chainId), want.cose.signature));
      });
    } finally {
      await v.close();
    }
  }
});
