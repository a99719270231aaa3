/**
 * Erasure of a billed period against a real gateway process (docs/protocol.md §11.8):
 * `init --confidential --billing`, `meterledger simulate` over real MQTT, the gateway's
 * autoIssue bills a period with its disclosures. Then the recipients' keys are erased with
 * `meterledger reading erase` (the biller's also from the running gateway, over its admin
 * route) while the simulated meter's period keys went with its process. After that:
 * `reading decrypt` with either key file fails E_KEY_ERASED, the gateway holds the key no
 * more, yet every receipt of the period, the bill's bundle (`bill verify`), the disclosed
 * readings (opened from the bill's content keys alone) and `meterledger verify` all pass,
 * and the gateway starts again with the erased key file.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  LedgerTxType, PERIOD_KEY_TX_TYPE, type SealedReading, decodeAnyTx, decodeBlock, decodeReceipt, decodeSealedReadingTx, fromHex, parseGenesis, toHex,
  verifyDisclosure, verifyReceipt,
} from '../../../protocols/index.js';
import { DEV_BILLER_RECIPIENT, dataPaths } from '../../../ledger-node/devchain.js';
import { GatewayProcess, cli } from '../../helpers/gateway-process.js';
import { until } from '../../helpers/until.js';

const METER = 'meter-0001';

describe('erasure of a billed confidential period on a real gateway', { timeout: 300_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'meterledger-conf-erase-'));
  let gw: GatewayProcess;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    const init = await cli(['init', '--data-dir', dir, '--meters', '1', '--billing', '--confidential', '--cycle-s', '4']);
    assert.equal(init.code, 0, init.stderr);
    const cfgFile = join(dir, 'config.json');
    const cfg = JSON.parse(readFileSync(cfgFile, 'utf8'));
    cfg.ledger = { blockIntervalMs: 200 };
    cfg.billing.autoIssue = { ...cfg.billing.autoIssue, retryMinMs: 300, retryMaxMs: 2000 };
    writeFileSync(cfgFile, JSON.stringify(cfg));
    gw = await GatewayProcess.create(dir, ['--log-level', 'warn']);
    await gw.start(60_000);
    env = { ...process.env, METERLEDGER_URL: gw.httpUrl, METERLEDGER_HTTP_ADMIN_TOKEN: gw.adminToken };
  });

  after(async () => {
    await gw?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('after erasure nobody opens the period\'s sealed readings; receipts, the bill, its disclosures and verify still pass', async () => {
    const genesis = parseGenesis(JSON.parse(readFileSync(dataPaths(dir).genesis, 'utf8')));
    const chainId = genesis.chainId;
    // ~20 s at 3 readings a second: five cycles of 4 s, the first ones billed (as in confidential-sim.test.ts).
    const sim = await cli(['simulate', '--data-dir', dir, '--mqtt', gw.mqttUrl, '--readings', '60', '--rate', '3', '--timeout-s', '60', '--json'], { timeoutMs: 120_000 });
    assert.equal(sim.code, 0, sim.stdout + sim.stderr + gw.stderr.slice(-3000));
    const s = JSON.parse(sim.stdout.trim().split('\n').at(-1)!) as Record<string, number>;
    assert.deepEqual([s.sent, s.receipted, s.rejected, s.sealed_meters], [60, 60, 0, 1], sim.stdout);

    // A billed period P: its bill (with disclosures), its period key and its sealed readings, from the blocks.
    let bill: { period: string; disclosures: { seq: bigint; contentKey: Uint8Array; importWh: number }[] } | undefined;
    const keyIdOf = new Map<string, string>();
    await until('a bill of a confidential period is committed', async () => {
      const height = (await gw.json<{ height: number }>('/api/v1/status')).body.height;
      for (let h = 1; h <= height && !bill; h++) {
        for (const raw of decodeBlock(fromHex((await gw.json<{ block: string }>(`/api/v1/blocks/${h}/raw`)).body.block)).txs) {
          const b = decodeAnyTx(raw, Infinity).body;
          if (b.type === PERIOD_KEY_TX_TYPE) keyIdOf.set(b.period, toHex(b.keyId));
          if (b.type === LedgerTxType.Bill && b.disclosures && b.bill.meterId === METER) bill = { period: b.bill.period.label, disclosures: [...b.disclosures] };
        }
      }
      return bill !== undefined;
    }, 60_000, 500);
    const P = bill!.period;
    const keyId = keyIdOf.get(P);
    assert.ok(keyId, `the period key of ${P} is on the chain`);
    const api = await gw.json<{ readings: { seq: string; sealed?: string }[] }>(`/api/v1/meters/${METER}/readings?fromSeq=0&limit=1000`);
    const ofP = api.body.readings.filter((r) => toHex(decodeSealedReadingTx(fromHex(r.sealed!)).body.sealed.keyId) === keyId);
    const disclosedSeqs = new Set(bill!.disclosures.map((d) => d.seq));
    const undisclosed = ofP.filter((r) => !disclosedSeqs.has(BigInt(r.seq)));
    assert.ok(undisclosed.length >= 3, `the period has readings its bill does not disclose: ${undisclosed.length} of ${ofP.length}`);
    writeFileSync(join(dir, 'period.json'), JSON.stringify({ readings: undisclosed }));
    const bundleFile = join(dir, 'bundle.json');
    const bundle = await gw.get(`/api/v1/bills/${METER}/${P}/bundle`);
    assert.equal(bundle.status, 200);
    writeFileSync(bundleFile, await bundle.text());

    const owner = dataPaths(dir).recipientKey('owner-0001');
    const biller = dataPaths(dir).recipientKey(DEV_BILLER_RECIPIENT);
    const decrypt = (key: string) => cli(['reading', 'decrypt', join(dir, 'period.json'), '--key', key, '--data-dir', dir], { env });
    // The control: before erasure both recipients open the undisclosed readings.
    for (const k of [owner, biller]) {
      const d = await decrypt(k);
      assert.equal(d.code, 0, d.stderr);
      assert.equal(d.stdout.trim().split('\n').length, undisclosed.length);
    }

    // Erase: the biller's key from the running gateway and its file, then the owner's file.
    const eb = await cli(['reading', 'erase', '--key', biller, '--http', gw.httpUrl], { env });
    assert.equal(eb.code, 0, eb.stdout + eb.stderr);
    assert.match(eb.stdout, new RegExp(`gateway .*: erased ${DEV_BILLER_RECIPIENT}/enc-1 and the [1-9]\\d* period keys? opened with it`));
    const eo = await cli(['reading', 'erase', '--key', owner], { env });
    assert.equal(eo.code, 0, eo.stdout + eo.stderr);
    assert.match(eo.stdout, /erased owner-0001\/enc-1/);
    for (const k of [owner, biller]) {
      assert.doesNotMatch(readFileSync(k, 'utf8'), /secretKey/, 'the secret is gone from the file');
      const d = await decrypt(k);
      assert.equal(d.code, 1, d.stdout);
      assert.match(d.stderr, /E_KEY_ERASED/);
    }
    // The gateway holds it no more: asked again, it has no such key.
    const again = await fetch(`${gw.httpUrl}/api/v1/admin/recipient-keys/erase`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${gw.adminToken}` }, body: JSON.stringify({ id: `${DEV_BILLER_RECIPIENT}/enc-1` }),
    });
    assert.deepEqual(await again.json(), { id: `${DEV_BILLER_RECIPIENT}/enc-1`, held: false, dropped: 0 });
    const anon = await fetch(`${gw.httpUrl}/api/v1/admin/recipient-keys/erase`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"id":"x"}' });
    assert.equal(anon.status, 401, 'the operator token is needed');

    // Still verifiable: every receipt of the period, the bill's bundle, the disclosed readings.
    for (const r of ofP) {
      const rc = await gw.json<{ cbor: string }>(`/api/v1/meters/${METER}/receipts/${r.seq}`);
      const v = verifyReceipt(genesis, decodeReceipt(fromHex(rc.body.cbor)));
      assert.equal(v.signatureChecked, true, `receipt of seq ${r.seq} verifies, the meter's signature too`);
    }
    const rf = join(dir, 'receipt.json');
    writeFileSync(rf, JSON.stringify((await gw.json(`/api/v1/meters/${METER}/receipts/${undisclosed[0]!.seq}`)).body));
    const rv = await cli(['receipt', 'verify', rf, '--genesis', dataPaths(dir).genesis]);
    assert.equal(rv.code, 0, rv.stdout + rv.stderr);
    const bv = await cli(['bill', 'verify', bundleFile, '--genesis', dataPaths(dir).genesis]);
    assert.equal(bv.code, 0, bv.stdout + bv.stderr);
    assert.match(bv.stdout, /^valid bill/);
    const sealedOf = new Map(api.body.readings.map((r) => [BigInt(r.seq), decodeSealedReadingTx(fromHex(r.sealed!)).body as SealedReading]));
    for (const d of bill!.disclosures) {
      const opened = verifyDisclosure(chainId, sealedOf.get(d.seq)!, { meterId: METER, seq: d.seq, contentKey: d.contentKey });
      assert.equal(opened.importWh, d.importWh, `disclosed reading ${d.seq} opens with its content key from the bill alone`);
    }

    await gw.stop();
    const audit = await cli(['verify', '--data-dir', dir], { timeoutMs: 120_000 });
    assert.equal(audit.code, 0, audit.stdout + audit.stderr);
    assert.match(audit.stdout, /^ok: \d+ blocks/);
    // The gateway starts again with the erased key file named in its config (and says so).
    await gw.start(60_000);
    assert.equal((await gw.json<{ height: number }>('/api/v1/status')).status, 200);
    assert.match(gw.stderr, /E_KEY_ERASED/);
    console.log(`# period ${P}: ${undisclosed.length} readings erased for good, ${bill!.disclosures.length} disclosed stay readable`);
  });
});
