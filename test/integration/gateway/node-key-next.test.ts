/**
 * A validator switches to its rotated node key by itself (docs/consensus.md "Changing the
 * validator set", ledger-node/node-keys.ts): the new key sits in
 * keys/validator.next.key before the rotation commits; the running gateway (the one
 * validator of a dev chain) keeps signing with the old key up to H + 1 and with the new
 * one from H + 2, without a restart, and makes the new key its key file once it is in
 * force. A restart afterwards finds only the new key and goes on committing; the store
 * verifies from genesis.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { decodeReceipt, decodeSetChanges, fromHex, toHex, verifyReceipt, verifyReceiptWithSetChanges } from '../../../protocols/index.js';
import { dataPaths } from '../../../ledger-node/devchain.js';
import { loadKeyFile } from '../../../ledger-node/keyfile.js';
import { cli } from '../../helpers/gateway-process.js';
import { TestMeter } from '../../helpers/mqtt-meter.js';
import { ROTATED_METER, type RotatedChain, rotatedChain } from '../../helpers/rotated-chain.js';

describe('a validator with keys/validator.next.key switches to it when its rotation is in force, without a restart', { timeout: 240_000 }, () => {
  const root = mkdtempSync(join(tmpdir(), 'meterledger-next-key-'));
  const dir = join(root, 'gw');
  let chain: RotatedChain;
  let oldKey: string;

  before(async () => {
    chain = await rotatedChain(dir, { readingsBefore: 2, nextKeyFile: true, gatewayArgs: ['--log-level', 'info'] });
    oldKey = chain.genesis.validators[0]!.publicKey;
  });

  after(async () => {
    await chain?.meter.close();
    await chain?.gw.stop();
    rmSync(root, { recursive: true, force: true });
  });

  const receiptOf = async (seq: bigint) => {
    const r = await chain.gw.json<{ height: number; cbor: string }>(`/api/v1/meters/${ROTATED_METER}/receipts/${seq}`);
    return decodeReceipt(fromHex(r.body.cbor));
  };

  test('readings keep committing past H + 2, certified by the new key; the block at H + 1 by the old one', async () => {
    await chain.readings(3);
    const changes = decodeSetChanges(fromHex((await chain.gw.json<{ cbor: string }>('/api/v1/validator-set/changes')).body.cbor));
    assert.equal(changes.length, 1);
    const last = await receiptOf(chain.seq);
    assert.ok(last.header.height >= chain.rotationHeight + 2, `the last reading at ${last.header.height}, the rotation at ${chain.rotationHeight}`);
    assert.throws(() => verifyReceipt(chain.genesis, last), /commit/, 'not the old key\'s certificate');
    const checked = verifyReceiptWithSetChanges(chain.genesis, last, changes);
    assert.notEqual(checked.validators[0]!.publicKey, oldKey);
    // The reading committed at H + 1 or below (before the new key is in force) is the old key's.
    let early;
    for (let s = chain.seq; s >= 1n; s--) {
      const r = await receiptOf(s);
      if (r.header.height <= chain.rotationHeight + 1) {
        early = r;
        break;
      }
    }
    assert.ok(early, 'a reading at or below H + 1');
    verifyReceipt(chain.genesis, early);
    assert.match(chain.gw.stderr, /node key rotated: signing with the new key from height \d+/);
  });

  test('the new key is the key file now (0600), validator.next.key is gone; a restart goes on with it and the store verifies', async () => {
    const paths = dataPaths(dir);
    assert.equal(existsSync(join(dir, 'keys', 'validator.next.key')), false);
    const now = loadKeyFile(paths.validatorKey);
    assert.equal(toHex(now.publicKey), verifyReceiptWithSetChanges(chain.genesis, await receiptOf(chain.seq),
      decodeSetChanges(fromHex((await chain.gw.json<{ cbor: string }>('/api/v1/validator-set/changes')).body.cbor))).validators[0]!.publicKey);
    assert.equal(statSync(paths.validatorKey).mode & 0o777, 0o600);

    await chain.meter.close();
    assert.equal(await chain.gw.stop(), 0, chain.gw.stderr.slice(-2000));
    await chain.gw.start(60_000);
    (chain as { meter: TestMeter }).meter = await TestMeter.connect(chain.gw.mqttUrl, chain.genesis, ROTATED_METER, loadKeyFile(paths.meterKey(ROTATED_METER)));
    await chain.readings(2);
    const st = (await chain.gw.json<{ role: string }>('/api/v1/status')).body;
    assert.equal(st.role, 'validator');
    await chain.meter.close();
    assert.equal(await chain.gw.stop(), 0, chain.gw.stderr.slice(-2000));
    const v = await cli(['verify', '--data-dir', dir], { timeoutMs: 120_000 });
    assert.equal(v.code, 0, v.stdout + v.stderr);
    assert.match(v.stdout, /^ok: \d+ blocks/m);
    assert.ok(readFileSync(paths.genesis).length > 0);
  });
});
