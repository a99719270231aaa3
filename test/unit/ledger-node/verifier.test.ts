import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Alg, publicKeyOf, randomSecretKey, signMessage } from '../../../protocols/index.js';
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

