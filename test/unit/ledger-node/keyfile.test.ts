import assert from 'node:assert/strict';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Alg } from '../../../protocols/index.js';
import { checkDataDirPermissions, dataPaths, initDevChain, isInitialized } from '../../../ledger-node/devchain.js';
import { generateKeyPair, loadKeyFile, readPrivateFile, saveKeyFile } from '../../../ledger-node/keyfile.js';
import { LedgerNode } from '../../../ledger-node/node.js';

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
    assert.throws(() => loadKeyFile(f), { code: 'E_KEY_PERMISSIONS' });
    const g = join(dir, 'g.key');
    writeFileSync(g, 'not a key', { mode: 0o600 });
    assert.throws(() => loadKeyFile(g), { code: 'E_KEY_INVALID' });
    assert.throws(() => loadKeyFile(join(dir, 'none.key')), { code: 'E_KEY_MISSING' });
    assert.throws(() => saveKeyFile(f, generateKeyPair(Alg.EdDSA)), { code: 'E_KEY_EXISTS' }, 'never overwrites a key');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('one rule for files holding secrets: private to the owner, or root\'s and readable by its group only', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'meterledger-keys-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const f = join(dir, 'k.key');
  saveKeyFile(f, generateKeyPair(Alg.EdDSA));
  for (const [mode, ok] of [[0o600, true], [0o400, true], [0o640, process.getuid?.() === 0], [0o660, false], [0o604, false], [0o606, false]] as const) {
    chmodSync(f, mode);
    if (ok) assert.equal(loadKeyFile(f).alg, Alg.EdDSA, mode.toString(8));
    else assert.throws(() => loadKeyFile(f), { code: 'E_KEY_PERMISSIONS', message: /^.* by others \(mode \d+\); run chmod 600/ }, mode.toString(8));
  }
  if (process.getuid?.() === 0) {
    chmodSync(f, 0o640);
    chownSync(f, 65534, 65534);
    assert.throws(() => loadKeyFile(f), { code: 'E_KEY_PERMISSIONS' }, 'group-readable only when root owns it');
    chownSync(f, 0, 0);
  }
  chmodSync(f, 0o600);
  assert.equal(readPrivateFile(f, 'token file').length > 0, true);
});

test('a key in a folder others may write to is refused: they could put their own key there', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'meterledger-keys-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const d = join(dir, 'shared');
  mkdirSync(d);
  const f = join(d, 'k.key');
  saveKeyFile(f, generateKeyPair(Alg.EdDSA));
  for (const mode of [0o777, 0o770, 0o1777]) {
    chmodSync(d, mode);
    assert.throws(() => loadKeyFile(f), { code: 'E_KEY_PERMISSIONS', message: /^.*shared, the folder of key file .* is writable by others/ }, mode.toString(8));
  }
  chmodSync(d, 0o755);
  assert.equal(loadKeyFile(f).alg, Alg.EdDSA);
});

test('the data dir: keys/ writable by others, or a world-writable data dir, stop the node before it reads a key', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'meterledger-keys-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const dataDir = join(dir, 'd');
  const { genesis } = initDevChain(dataDir, { meters: 1 });
  const p = dataPaths(dataDir);
  checkDataDirPermissions(dataDir);
  chmodSync(p.keys, 0o777);
  assert.throws(() => checkDataDirPermissions(dataDir), { code: 'E_KEY_PERMISSIONS', message: /^.*keys is writable by others \(mode 777\): others could replace the keys/ });
  await assert.rejects(LedgerNode.open({ dataDir, genesis, verifyWorkers: 0 }), { code: 'E_KEY_PERMISSIONS', message: /^.*keys is writable by others/ });
  chmodSync(p.keys, 0o700);
  chmodSync(p.meterKeys, 0o730);
  assert.throws(() => checkDataDirPermissions(dataDir), /meters is writable by others \(mode 730\)/);
  chmodSync(p.meterKeys, 0o700);
  chmodSync(dataDir, 0o777);
  assert.throws(() => checkDataDirPermissions(dataDir), /the data dir .* is writable by everyone \(mode 777\)/);
  for (const ok of [0o1777, 0o775, 0o700]) {
    chmodSync(dataDir, ok);
    checkDataDirPermissions(dataDir);
  }
});

test('a chain is never made over parts of one, nor over a data dir that cannot be looked into', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'meterledger-keys-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const d = join(dir, 'half');
  mkdirSync(join(d, 'store'), { recursive: true });
  assert.equal(isInitialized(d), false);
  assert.throws(() => initDevChain(d, { meters: 1 }), { code: 'E_DATADIR_NOT_EMPTY', message: /^.*half has store\/ but no genesis\.json/ });
  assert.equal(existsSync(join(d, 'keys')), false, 'no key written');
  // A data dir path through a file: the cause is named, not taken for "no chain yet".
  writeFileSync(join(dir, 'a-file'), '');
  assert.throws(() => isInitialized(join(dir, 'a-file')), { code: 'E_FS_NOT_FOUND', message: /^cannot look into .*a-file\/genesis\.json: a part of the path is not a directory \(ENOTDIR\)/ });
});
