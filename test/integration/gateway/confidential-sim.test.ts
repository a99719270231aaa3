/**
 * A confidential dev chain end to end (issue 14): `init --confidential --billing`, a real
 * gateway process, `meterledger simulate` over real MQTT. Each simulated meter publishes a
 * period key per billing cycle and seals every reading; the gateway's autoIssue issues the
 * bills of these meters with the disclosures of billing.md §17.2, and the meters pay them.
 * Then: the values of every reading no bill discloses are nowhere in the committed blocks
 * or the store (the disclosed ones are, as a bill states them: the search can fail), each
 * bill's bundle passes `bill verify`, `reading decrypt` with the owner's recipient key file
 * opens the readings, and `meterledger verify` of the store passes.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  PERIOD_KEY_TX_TYPE, type PeriodKeyBody, type SealedReading, decodeAnyTx, decodeBlock, decodeSealedReadingTx, decryptReading, encodeCbor, fromHex,
  openPeriodKey, parseGenesis, toHex,
} from '../../../protocols/index.js';
import { DEV_BILLER_RECIPIENT, dataPaths } from '../../../ledger-node/devchain.js';
import { DEV_BILLING_PLAN_FILE, type DevBillingPlan } from '../../../ledger-node/billing/dev-setup.js';
import { loadRecipientKeyFile } from '../../../ledger-node/recipient-keyfile.js';
import { GatewayProcess, cli } from '../../helpers/gateway-process.js';
import { until } from '../../helpers/until.js';

const METERS = ['meter-0001', 'meter-0002'];

const needles = (v: number): Buffer[] => [Buffer.from(encodeCbor(v)), Buffer.from(String(v))];
const holds = (hay: Buffer, v: number): boolean => needles(v).some((n) => hay.includes(n));

interface ChainRead {
  blocks: Buffer[];
  periodKeys: { bytes: Uint8Array; body: PeriodKeyBody }[];
  disclosed: { meterId: string; seq: bigint; importWh: number }[];
}

/** The raw blocks `from`..`to` of a gateway, with the period keys and the bills' disclosures in them. */
async function readChain(gw: GatewayProcess, from: number, to: number): Promise<ChainRead> {
  const out: ChainRead = { blocks: [], periodKeys: [], disclosed: [] };
  for (let h = from; h <= to; h++) {
    const r = await gw.json<{ block: string }>(`/api/v1/blocks/${h}/raw`);
    assert.equal(r.status, 200);
    const bytes = Buffer.from(r.body.block, 'hex');
    out.blocks.push(bytes);
    for (const raw of decodeBlock(bytes).txs) {
      const tx = decodeAnyTx(raw, Infinity);
      if (tx.body.type === PERIOD_KEY_TX_TYPE) out.periodKeys.push({ bytes: raw, body: tx.body });
      if ('disclosures' in tx.body && tx.body.disclosures) {
        for (const d of tx.body.disclosures) out.disclosed.push({ meterId: tx.body.bill.meterId, seq: d.seq, importWh: d.importWh });
      }
    }
  }
  return out;
}

function filesUnder(dir: string): Buffer {
  return Buffer.concat(readdirSync(dir).map((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? filesUnder(p) : readFileSync(p);
  }));
}

describe('confidential dev chain: sealed simulated meters, bills with disclosures, paid', { timeout: 300_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'meterledger-conf-sim-'));
  let gw: GatewayProcess;

  before(async () => {
    const init = await cli(['init', '--data-dir', dir, '--meters', String(METERS.length), '--billing', '--confidential', '--cycle-s', '4']);
    assert.equal(init.code, 0, init.stderr);
    // The simulator's register gains 10 Wh a second: 40 Wh in a 4 s cycle, 0.48 cents at the
    // dev tariff's night price (a bill of 0, nothing to pay). Ten times the prices make every
    // cycle's bill a few cents whatever the hour the test runs at.
    const planFile = join(dir, DEV_BILLING_PLAN_FILE);
    const plan = JSON.parse(readFileSync(planFile, 'utf8')) as DevBillingPlan;
    const bands = (plan.tariff.bands as { name: string; pricesPerKWh: number[] }[]).map((b) => ({ ...b, pricesPerKWh: b.pricesPerKWh.map((p) => p * 10) }));
    writeFileSync(planFile, JSON.stringify({ ...plan, tariff: { ...plan.tariff, bands } }));
    const cfgFile = join(dir, 'config.json');
    const cfg = JSON.parse(readFileSync(cfgFile, 'utf8'));
    assert.equal(cfg.billing.autoIssue.recipientKeyFile, join('keys', 'recipients', `${DEV_BILLER_RECIPIENT}.key`), 'init names the biller\'s recipient key');
    cfg.ledger = { blockIntervalMs: 200 };
    cfg.billing.autoIssue = { ...cfg.billing.autoIssue, retryMinMs: 300, retryMaxMs: 2000 };
    writeFileSync(cfgFile, JSON.stringify(cfg));
    gw = await GatewayProcess.create(dir, ['--log-level', 'warn']);
    await gw.start(60_000);
  });

  after(async () => {
    await gw?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('init writes the recipient keys 0600 and names them in genesis', () => {
    const g = parseGenesis(JSON.parse(readFileSync(dataPaths(dir).genesis, 'utf8')));
    for (const [i, m] of g.meters.entries()) {
      assert.deepEqual(m.recipients?.map((r) => r.id), [`${DEV_BILLER_RECIPIENT}/enc-1`, `owner-000${i + 1}/enc-1`]);
    }
    for (const holder of [DEV_BILLER_RECIPIENT, 'owner-0001', 'owner-0002']) {
      assert.equal(statSync(dataPaths(dir).recipientKey(holder)).mode & 0o777, 0o600, `${holder}'s recipient key file is 0600`);
    }
  });

  test('simulate seals, bills are issued with disclosures and paid; nothing undisclosed in clear; bundles, decrypt and verify pass', async () => {
    const genesis = parseGenesis(JSON.parse(readFileSync(dataPaths(dir).genesis, 'utf8')));
    const chainId = genesis.chainId;
    // 2 meters at 10 readings a second in all for ~20 s: five cycles of 4 s.
    const sim = await cli(['simulate', '--data-dir', dir, '--mqtt', gw.mqttUrl, '--readings', '100', '--rate', '10', '--timeout-s', '60', '--json'], { timeoutMs: 180_000 });
    assert.equal(sim.code, 0, sim.stdout + sim.stderr + gw.stderr.slice(-3000));
    const s = JSON.parse(sim.stdout.trim().split('\n').at(-1)!) as Record<string, number>;
    assert.deepEqual([s.sent, s.receipted, s.rejected, s.missing, s.sealed_meters], [200, 200, 0, 0, 2], sim.stdout);
    assert.ok(s.period_keys! >= 2 * 4, `a period key per meter per cycle: ${s.period_keys}`);
    assert.ok(s.bills! >= 2, `bills came to the meters: ${sim.stdout}`);
    assert.ok(s.payments_paid! >= 2, `the meters paid them: ${sim.stdout}`);

    // The committed blocks, raw.
    const height = (await gw.json<{ height: number }>('/api/v1/status')).body.height;
    const { blocks, periodKeys, disclosed } = await readChain(gw, 1, height);
    const blockBytes = Buffer.concat(blocks);
    assert.ok(disclosed.length >= 4, `bills disclose their boundary readings: ${disclosed.length}`);

    // The owner opens each of its meter's readings with its own recipient key file.
    const opened = new Map<string, { seq: bigint; importWh: number; sealed: string }[]>();
    for (const [i, id] of METERS.entries()) {
      const owner = loadRecipientKeyFile(dataPaths(dir).recipientKey(`owner-000${i + 1}`));
      const keys = await Promise.all(periodKeys.filter((k) => k.body.meterId === id).map((k) => openPeriodKey(chainId, k.body, owner.key.id, owner.recipient)));
      const api = await gw.json<{ readings: { seq: string; importWh?: number; sealed?: string }[] }>(`/api/v1/meters/${id}/readings?fromSeq=0&limit=1000`);
      assert.equal(api.status, 200);
      assert.equal(api.body.readings.length, 100);
      opened.set(id, api.body.readings.map((r) => {
        assert.equal(r.importWh, undefined, 'the read API returns sealed readings sealed');
        const body: SealedReading = decodeSealedReadingTx(fromHex(r.sealed!)).body;
        const k = keys.find((x) => toHex(x.keyId) === toHex(body.sealed.keyId));
        assert.ok(k, `reading ${r.seq} is under a period key the owner can open`);
        return { seq: body.seq, importWh: decryptReading(chainId, k, body).importWh, sealed: r.sealed! };
      }));
    }

    // Every disclosed value is the value its reading opens to, and is in the blocks (the control).
    for (const d of disclosed) {
      assert.equal(opened.get(d.meterId)!.find((r) => r.seq === d.seq)?.importWh, d.importWh, `${d.meterId} seq ${d.seq} disclosed as it is`);
      assert.ok(holds(blockBytes, d.importWh), 'the control: a disclosed value is found in the blocks');
    }
    // No value of a reading that no bill discloses is in the blocks or the store.
    const disclosedValues = new Set(disclosed.map((d) => d.importWh));
    const secret = [...opened.values()].flat().map((r) => r.importWh).filter((v) => !disclosedValues.has(v));
    assert.ok(secret.length >= 150, `most readings stay sealed: ${secret.length}`);

    // `reading decrypt` with the owner's key file: one period key's readings of meter-0001.
    const pk = periodKeys.find((k) => k.body.meterId === METERS[0])!;
    const under = opened.get(METERS[0]!)!.filter((r) => toHex(decodeSealedReadingTx(fromHex(r.sealed)).body.sealed.keyId) === toHex(pk.body.keyId));
    assert.ok(under.length > 0);
    writeFileSync(join(dir, 'readings.json'), JSON.stringify({ readings: under.map((r) => ({ seq: String(r.seq), sealed: r.sealed })) }));
    writeFileSync(join(dir, 'period-key.hex'), toHex(pk.bytes));
    const dec = await cli(['reading', 'decrypt', join(dir, 'readings.json'), '--key', dataPaths(dir).recipientKey('owner-0001'), '--period-key', join(dir, 'period-key.hex'), '--data-dir', dir]);
    assert.equal(dec.code, 0, dec.stderr);
    assert.deepEqual(dec.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { importWh: number }).importWh), under.map((r) => r.importWh));
    // Another owner's key is not a recipient of meter-0001's period key.
    const other = await cli(['reading', 'decrypt', join(dir, 'readings.json'), '--key', dataPaths(dir).recipientKey('owner-0002'), '--period-key', join(dir, 'period-key.hex'), '--data-dir', dir]);
    assert.equal(other.code, 1);
    assert.match(other.stderr, /E_CONF_NOT_RECIPIENT/);

    // Each bill: its bundle verifies offline, and it is paid.
    const bills = await Promise.all(METERS.map(async (id) => {
      const out: string[] = [];
      for (let n = 0; n < 40; n++) {
        const r = await gw.json<{ payment: unknown }>(`/api/v1/bills/${id}/cycle-${n}`);
        if (r.status === 200) out.push(`cycle-${n}`);
      }
      return { id, periods: out };
    }));
    let verified = 0;
    for (const { id, periods } of bills) {
      for (const period of periods) {
        const res = await gw.get(`/api/v1/bills/${id}/${period}/bundle`);
        assert.equal(res.status, 200);
        const file = join(dir, `bundle-${id}-${period}.json`);
        writeFileSync(file, await res.text());
        const v = await cli(['bill', 'verify', file, '--genesis', dataPaths(dir).genesis]);
        assert.equal(v.code, 0, v.stdout + v.stderr);
        assert.match(v.stdout, /^valid bill/);
        verified++;
      }
    }
    assert.ok(verified >= 2, `bills verified: ${verified}`);
    const paid = (await Promise.all(bills.flatMap(({ id, periods }) => periods.map((p) => gw.json<{ payment: { by: string } | null }>(`/api/v1/bills/${id}/${p}`)))))
      .filter((r) => r.body.payment !== null);
    assert.ok(paid.length >= 2, `bills paid: ${paid.length} of ${verified}`);

    // autoIssue went on while the blocks above were read and checked: a bill committed since,
    // or accepted and still in the write-ahead at the stop, discloses its boundary readings
    // too, and its disclosures are in the store. Restarted without autoIssue, the gateway
    // commits what waits and issues nothing more; every block's disclosures are then known.
    await gw.stop();
    const cfgFile = join(dir, 'config.json');
    const cfg = JSON.parse(readFileSync(cfgFile, 'utf8')) as { billing: { autoIssue?: unknown } };
    delete cfg.billing.autoIssue;
    writeFileSync(cfgFile, JSON.stringify(cfg));
    await gw.start(60_000);
    const status = async (): Promise<{ height: number; pending: number }> => (await gw.json<{ height: number; pending: number }>('/api/v1/status')).body;
    await until('what waited at the stop commits after the restart', async () => (await status()).pending === 0);
    const { blocks: later, disclosed: disclosedLater } = await readChain(gw, height + 1, (await status()).height);
    for (const d of disclosedLater) disclosedValues.add(d.importWh);
    await gw.stop();
    const allBlocks = Buffer.concat([blockBytes, ...later]);
    const sealedToTheEnd = secret.filter((v) => !disclosedValues.has(v));
    assert.ok(sealedToTheEnd.length >= 140, `most readings stay sealed to the end: ${sealedToTheEnd.length}`);
    const store = Buffer.concat([filesUnder(dataPaths(dir).store), filesUnder(dataPaths(dir).wal)]);
    for (const v of sealedToTheEnd) {
      assert.equal(holds(allBlocks, v), false, `the blocks hold the undisclosed importWh ${v}`);
      assert.equal(store.includes(Buffer.from(encodeCbor(v))), false, `the store holds the undisclosed importWh ${v}`);
    }
    assert.ok(disclosed.some((d) => store.includes(Buffer.from(encodeCbor(d.importWh)))), 'the control: a disclosed value is found in the store');
    const audit = await cli(['verify', '--data-dir', dir], { timeoutMs: 120_000 });
    assert.equal(audit.code, 0, audit.stdout + audit.stderr);
    assert.match(audit.stdout, /^ok: \d+ blocks/);
    console.log(`# ${verified} bills verified, ${paid.length} paid, ${disclosed.length} readings disclosed, ${sealedToTheEnd.length} sealed values searched in ${allBlocks.length} B of blocks (${later.length} committed after the first read) and ${store.length} B of store`);
  });
});

describe('init --confidential without billing: simulate seals under a key per UTC month', { timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'meterledger-conf-sim-plain-'));
  let gw: GatewayProcess;
  before(async () => {
    const init = await cli(['init', '--data-dir', dir, '--meters', '2', '--confidential']);
    assert.equal(init.code, 0, init.stderr);
    assert.match(init.stdout, /sealed: +every meter confidential/);
    gw = await GatewayProcess.create(dir, ['--log-level', 'warn']);
    await gw.start(60_000);
  });
  after(async () => {
    await gw?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('every reading committed sealed, one period key per meter, the owner opens them', async () => {
    const sim = await cli(['simulate', '--data-dir', dir, '--mqtt', gw.mqttUrl, '--readings', '10', '--json'], { timeoutMs: 90_000 });
    assert.equal(sim.code, 0, sim.stdout + sim.stderr);
    const s = JSON.parse(sim.stdout.trim().split('\n').at(-1)!) as Record<string, number>;
    assert.deepEqual([s.sent, s.receipted, s.rejected, s.sealed_meters, s.period_keys], [20, 20, 0, 2, 2], sim.stdout);
    const genesis = parseGenesis(JSON.parse(readFileSync(dataPaths(dir).genesis, 'utf8')));
    const api = await gw.json<{ readings: { importWh?: number; sealed?: string }[] }>('/api/v1/meters/meter-0001/readings?fromSeq=0&limit=100');
    assert.equal(api.body.readings.length, 10);
    assert.ok(api.body.readings.every((r) => r.importWh === undefined && r.sealed !== undefined));
    // All owners are owner-1 without billing: one recipient key file opens every meter's key.
    const owner = loadRecipientKeyFile(dataPaths(dir).recipientKey('owner-1'));
    const height = (await gw.json<{ height: number }>('/api/v1/status')).body.height;
    let key: PeriodKeyBody | undefined;
    for (let h = 1; h <= height && !key; h++) {
      const raw = (await gw.json<{ block: string }>(`/api/v1/blocks/${h}/raw`)).body.block;
      for (const t of decodeBlock(fromHex(raw)).txs) {
        const b = decodeAnyTx(t, Infinity).body;
        if (b.type === PERIOD_KEY_TX_TYPE && b.meterId === 'meter-0001') key = b;
      }
    }
    assert.match(key!.period, /^\d{4}-\d{2}$/);
    const sch = await openPeriodKey(genesis.chainId, key!, owner.key.id, owner.recipient);
    const values = api.body.readings.map((r) => decryptReading(genesis.chainId, sch, decodeSealedReadingTx(fromHex(r.sealed!)).body).importWh);
    assert.equal(new Set(values).size, 10, 'ten readings, each its own register value');
  });
});
