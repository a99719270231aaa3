import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
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

test('starting the verify pool 100 times does not abort the process (Node 20 require(esm) race)', async () => {
  // In a child: the failure is a SIGABRT of the whole process. With piscina loading the
  // ES module worker file directly, 4 of 5 such runs aborted on this machine with
  // "v8::Module::IsGraphAsync must be used on an instantiated module".
  const mod = new URL('../../../ledger-node/crypto/verifier.js', import.meta.url).href;
  const script = `const { SignatureVerifier } = await import(${JSON.stringify(mod)});
    for (let i = 0; i < 100; i++) {
      const v = new SignatureVerifier(2);
      await v.verify(-8, new Uint8Array(32), new Uint8Array(10), new Uint8Array(64));
      await v.close();
    }
    console.log('done');`;
  const out = await new Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>((resolve) => {
    const c = execFile(process.execPath, ['--input-type=module', '-e', script], { timeout: 120_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? c.exitCode : 0, signal: c.signalCode, stdout, stderr }));
  });
  assert.equal(out.signal, null, `aborted: ${out.stderr.split('\n').find((l) => /FATAL/.test(l)) ?? out.stderr.slice(-300)}`);
  assert.equal(out.code, 0, out.stderr.slice(-500));
  assert.equal(out.stdout.trim(), 'done');
});
