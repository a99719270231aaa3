import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Alg } from '../../../protocols/index.js';
import { dataPaths, initDevChain } from '../../../ledger-node/devchain.js';
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
    assert.throws(() => saveKeyFile(f, generateKeyPair(Alg.EdDSA)), /EEXIST/, 'never overwrites a key');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
