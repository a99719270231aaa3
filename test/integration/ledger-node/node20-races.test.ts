/**
 * Two races of Node 20 that once took the process down, each run in a child process many
 * times so that a crash is an exit code here and a hang is a timeout (moved out of the unit
 * suite: they spawn processes, and their time depends on the machine's load).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { Alg } from '../../../protocols/index.js';

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
    const c = execFile(process.execPath, ['--input-type=module', '-e', script], { timeout: 600_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? c.exitCode : 0, signal: c.signalCode, stdout, stderr }));
  });
  assert.equal(out.signal, null, `aborted: ${out.stderr.split('\n').find((l) => /FATAL/.test(l)) ?? out.stderr.slice(-300)}`);
  assert.equal(out.code, 0, out.stderr.slice(-500));
  assert.equal(out.stdout.trim(), 'done');
});

test('generating 10,000 P-256 and Ed25519 keys does not deadlock (Node 20: JWK export of a freshly generated key)', async () => {
  // Run in a child so that a deadlock is a timeout here, not a hung test runner. With the
  // export taken from the generating job's own KeyObject, about half of such runs of 5,000
  // P-256 keys hung on this machine.
  const mod = new URL('../../../ledger-node/keyfile.js', import.meta.url).href;
  const script = `const { generateKeyPair } = await import(${JSON.stringify(mod)});
    for (let i = 0; i < 10000; i++) generateKeyPair(i % 4 === 0 ? ${Alg.EdDSA} : ${Alg.ES256});
    console.log('done');`;
  const out = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
    const c = execFile(process.execPath, ['--input-type=module', '-e', script], { timeout: 600_000 }, (err, stdout) => resolve({ code: err ? (c.exitCode ?? -1) : 0, stdout }));
  });
  assert.equal(out.code, 0, 'key generation hung or failed');
  assert.equal(out.stdout.trim(), 'done');
});
