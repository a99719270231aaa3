import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Alg } from '../../../protocols/index.js';
import { dataPaths, initDevChain, isInitialized } from '../../../ledger-node/devchain.js';
import { generateKeyPair, loadKeyFile, saveKeyFile } from '../../../ledger-node/keyfile.js';

test('init writes every key file with mode 0600 in 0700 folders', () => {
  const dir = mkdtempSync(join(tmpdir(), 'meterledger-keys-'));
  try {
    initDevChain(join(dir, 'd'), { meters: 3, meterAlg: 'mixed' });
    const p = dataPaths(join(dir, 'd'));
    const files = [p.validatorKey, p.operatorKey, ...readdirSync(p.meterKeys).map((f) => join(p.meterKeys, f))];
    assert.equal(files.length, 5);
    for (const f of files) assert.equal(statSync(f).mode & 0o777, 0o600, f);
    for (const d of [p.keys, p.meterKeys]) assert.equal(statSync(d).mode & 0o077, 0, d);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a key file readable by others is refused; a garbled one is named', () => {
  const dir = mkdtempSync(join(tmpdir(), 'meterledger-keys-'));
  try {
    const f = join(dir, 'k.key');
    saveKeyFile(f, generateKeyPair(Alg.ES256));
    assert.equal(loadKeyFile(f).alg, Alg.ES256);
    chmodSync(f, 0o644);
    assert.throws(() => loadKeyFile(f), /E_KEY_PERMISSIONS/);
    const g = join(dir, 'g.key');
    writeFileSync(g, 'not a key', { mode: 0o600 });
    assert.throws(() => loadKeyFile(g), /E_KEY_INVALID/);
    assert.throws(() => loadKeyFile(join(dir, 'none.key')), /E_KEY_MISSING/);
    assert.throws(() => saveKeyFile(f, generateKeyPair(Alg.EdDSA)), /E_KEY_EXISTS/, 'never overwrites a key');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('generating 10,000 P-256 and Ed25519 keys does not deadlock (Node 20: JWK export of a freshly generated key)', async () => {
  // Run in a child so that a deadlock is a timeout here, not a hung test runner. With the
  // export taken from the generating job's own KeyObject, about half of such runs of 5,000
  // P-256 keys hung on this machine.
  const { execFile } = await import('node:child_process');
  const mod = new URL('../../../ledger-node/keyfile.js', import.meta.url).href;
  const script = `const { generateKeyPair } = await import(${JSON.stringify(mod)});
    for (let i = 0; i < 10000; i++) generateKeyPair(i % 4 === 0 ? ${Alg.EdDSA} : ${Alg.ES256});
    console.log('done');`;
  const out = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
    const c = execFile(process.execPath, ['--input-type=module', '-e', script], { timeout: 60_000 }, (err, stdout) => resolve({ code: err ? (c.exitCode ?? -1) : 0, stdout }));
  });
  assert.equal(out.code, 0, 'key generation hung or failed');
  assert.equal(out.stdout.trim(), 'done');
});

test('a chain is never made over parts of one, nor over a data dir that cannot be looked into', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'meterledger-keys-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const d = join(dir, 'half');
  mkdirSync(join(d, 'store'), { recursive: true });
  assert.equal(isInitialized(d), false);
  assert.throws(() => initDevChain(d, { meters: 1 }), /E_DATADIR_NOT_EMPTY: .*half has store\/ but no genesis\.json/);
  assert.equal(existsSync(join(d, 'keys')), false, 'no key written');
  // A data dir path through a file: the cause is named, not taken for "no chain yet".
  writeFileSync(join(dir, 'a-file'), '');
  assert.throws(() => isInitialized(join(dir, 'a-file')), /E_FS_NOT_FOUND: cannot look into .*a-file\/genesis\.json: a part of the path is not a directory \(ENOTDIR\)/);
});
