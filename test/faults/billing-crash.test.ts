/**
 * Crash during a bill run and during payments (issue 12): a gateway process over a chain
 * with accounts, a tariff, agreements, a mandate and January's readings
 * (test/helpers/billing-chain.ts) is killed with SIGKILL right after it acknowledged both
 * bills, and again right after it acknowledged a deposit and two payments. After each
 * restart what was acknowledged is committed (its receipt verifies with the genesis
 * alone), nothing is in the chain twice, a payment sent again is refused as paid, and
 * `meterledger verify` recomputes the bills and finds the money conserved.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { decodeBlock, decodeReceipt, sha256, toHex, verifyReceipt } from '../../protocols/index.js';
import { dataPaths } from '../../ledger-node/devchain.js';
import { LevelStore } from '../../ledger-node/store/level.js';
import { type BillingChain, buildBillingChain } from '../helpers/billing-chain.js';
import { GatewayProcess, cli, until } from './support.js';

const TOKEN = 'billing-crash-admin-token';

describe('fault: kill -9 during a bill run and during payments', { timeout: 180_000 }, () => {
  let bc: BillingChain | undefined;
  let gw: GatewayProcess | undefined;
  after(async () => {
    await gw?.stop();
    if (bc) rmSync(bc.chain.dataDir, { recursive: true, force: true });
  });

  test('acknowledged bills and payments survive SIGKILL, each once; a payment again is E_BILL_ALREADY_PAID; verify passes', async () => {
    bc = await buildBillingChain({ stopBefore: 'bills' });
    const dir = bc.chain.dataDir;
    writeFileSync(dataPaths(dir).genesis, JSON.stringify(bc.genesis, null, 2)); // the chain's own genesis, which the store belongs to
    const cfg = join(dir, 'crash-config.json');
    writeFileSync(cfg, JSON.stringify({ http: { adminToken: TOKEN }, ledger: { blockIntervalMs: 5000 } }), { mode: 0o600 });
    gw = await GatewayProcess.create(dir, ['--config', cfg, '--log-level', 'warn']);
    const post = async (name: string): Promise<{ status: number; body: { code?: string; txHash?: string } }> => {
      const r = await fetch(`${gw!.httpUrl}/api/v1/tx`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/cbor' }, body: bc!.tx(name) });
      return { status: r.status, body: await r.json() as { code?: string } };
    };
    const receipt = async (name: string): Promise<Uint8Array | undefined> => {
      const r = await fetch(`${gw!.httpUrl}/api/v1/tx/${toHex(sha256(bc!.tx(name)))}/receipt`, { headers: { authorization: `Bearer ${TOKEN}`, accept: 'application/cbor' } });
      return r.status === 200 ? new Uint8Array(await r.arrayBuffer()) : undefined;
    };
    // A block is cut 5 s after a transaction waits: the kill comes before, so what was
    // acknowledged is in the write-ahead only (checked in the stopped gateway's store).
    const committedAfterRestart = async (names: string[]): Promise<void> => {
      const store = await LevelStore.open(dataPaths(dir).store, { readOnly: true });
      try {
        for (const name of names) assert.equal(await store.txPosition(sha256(bc!.tx(name))), undefined, `${name} was not committed before the kill`);
      } finally {
        await store.close();
      }
      await gw!.start();
      await until(`${names.join(', ')} committed after the restart`, async () => (await Promise.all(names.map(receipt))).every((r) => r !== undefined), 30_000, 100);
      for (const name of names) verifyReceipt(bc!.genesis, decodeReceipt((await receipt(name))!));
    };

    // The bill run: both bills acknowledged (durable in the write-ahead), then no chance to commit cleanly.
    await gw.start();
    const bills = ['bill', 'bill (meter-2)'];
    for (const name of bills) assert.equal((await post(name)).status, 202, name);
    await gw.kill9();
    await committedAfterRestart(bills);
    const again = await post('bill');
    assert.ok(again.status === 202 || again.body.code === 'E_BILL_EXISTS', `the bill again: ${again.status} ${again.body.code}`);

    // Payments: money in, the meter's payment under the mandate, the owner's, then SIGKILL.
    const payments = ['deposit (mary)', 'payment signed by the meter, under the mandate', 'payment by the owner (ES256 account key)'];
    for (const name of payments) assert.equal((await post(name)).status, 202, name);
    await gw.kill9();
    await committedAfterRestart(payments);
    for (const name of payments.slice(1)) {
      const r = await post(name);
      assert.equal(r.body.code, 'E_BILL_ALREADY_PAID', `${name} again`);
    }
    const paid = await post('payment again: E_BILL_ALREADY_PAID');
    assert.equal(paid.body.code, 'E_BILL_ALREADY_PAID');
    assert.equal(await gw.stop(), 0, gw.stderr.slice(-2000));

    // Each transaction once in the chain's blocks.
    const store = await LevelStore.open(dataPaths(dir).store, { readOnly: true });
    const times = new Map<string, number>();
    try {
      for await (const { bytes } of store.blocks()) for (const t of decodeBlock(bytes).txs) times.set(toHex(sha256(t)), (times.get(toHex(sha256(t))) ?? 0) + 1);
    } finally {
      await store.close();
    }
    for (const name of [...bills, ...payments]) assert.equal(times.get(toHex(sha256(bc.tx(name)))), 1, `${name} is in the chain once`);
    assert.ok([...times.values()].every((n) => n === 1), 'no transaction is in the chain twice');
    const v = await cli(['verify', '--data-dir', dir]);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    assert.match(v.stdout, /money: 2 bills recomputed, 2 payments \(none twice, within their mandates\)/);
  });
});
