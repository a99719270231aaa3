/**
 * Issue #12, consensus, on a real cluster: four gateway processes (validators) over a real
 * nats-server on loopback, on a billing chain made by `meterledger testnet --billing`.
 * validator-0 is Byzantine (METERLEDGER_TEST_BYZANTINE_BILL, ledger-node/blocks/byzantine-bill.ts):
 * every bill it proposes carries a total one minor unit too high, signed with the biller's
 * key. A meter's readings are committed around one billing cycle; the chain is brought to
 * a height whose round-0 proposer is validator-0; then the right bill is issued
 * (`meterledger bill issue`) to validator-0 and to validator-1 (a validator's waiting
 * transactions go only into the blocks it proposes). validator-0 proposes the wrong bill; the three honest
 * validators refuse it by recomputing it (E_BILL_MISMATCH in their logs), the next round's
 * proposer commits the right bill, the owner pays it, all four hold the same balances,
 * and every store passes `meterledger verify`.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Genesis, TxType, chainCycle, parseGenesis, signTx } from '../../../protocols/index.js';
import { proposerOf } from '../../../ledger-node/consensus/proposer.js';
import { BYZANTINE_BILL_ENV } from '../../../ledger-node/blocks/byzantine-bill.js';
import { DEV_PAYEE, accountIdOf, clusterMeterId, dataPaths } from '../../../ledger-node/devchain.js';
import { loadKeyFile } from '../../../ledger-node/keyfile.js';
import { GatewayProcess, TEST_ADMIN_TOKEN, cli, logLines } from '../../helpers/gateway-process.js';
import { type NatsCluster, startNatsCluster } from '../../helpers/nats-cluster.js';
import { until } from '../../helpers/until.js';

const N = 4;
const CYCLE_S = 4;
const METER = clusterMeterId(0, 0);
const OWNER = accountIdOf(0);

describe('a Byzantine proposer\'s wrong bill on a real cluster', { timeout: 300_000 }, () => {
  const root = mkdtempSync(join(tmpdir(), 'meterledger-byzbill-'));
  let nats: NatsCluster;
  let genesis: Genesis;
  const gws: GatewayProcess[] = [];
  let tokenFile: string;

  before(async () => {
    mkdirSync(join(root, 'nats'));
    nats = await startNatsCluster({ size: 1, dir: join(root, 'nats') });
    const init = await cli(['testnet', '--validators', String(N), '--meters', '1', '--billing', '--cycle-s', String(CYCLE_S), '--out', join(root, 'net'), '--nats', nats.urls.join(',')]);
    assert.equal(init.code, 0, init.stderr);
    assert.match(init.stdout, /^billing: +EUR, a bill every 4 s per meter/m);
    genesis = parseGenesis(JSON.parse(readFileSync(join(root, 'net', 'node0', 'genesis.json'), 'utf8')));
    assert.ok(genesis.currency && genesis.billingCycle, 'a billing genesis: currency and cycle');
    assert.deepEqual(genesis.operators[0]!.roles, ['registrar', 'biller', 'custodian']);
    for (let i = 0; i < N; i++) {
      const dir = join(root, 'net', `node${i}`);
      const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
      if (i === 0) {
        assert.ok(cfg.billing?.autoIssue, 'testnet --billing turns autoIssue on in node0');
        delete cfg.billing; // the test issues the bill itself, when validator-0 proposes next
      }
      cfg.ledger = { blockIntervalMs: 300 };
      cfg.consensus = { proposeTimeoutMs: 1000, prevoteTimeoutMs: 400, precommitTimeoutMs: 400 };
      writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg), { mode: 0o600 });
      const gw = await GatewayProcess.create(dir, ['--log-level', 'warn']);
      if (i === 0) gw.env = { [BYZANTINE_BILL_ENV]: dataPaths(dir).operatorKey };
      gws.push(gw);
    }
    await Promise.all(gws.map((g) => g.start(60_000)));
    tokenFile = join(root, 'admin.token');
    writeFileSync(tokenFile, TEST_ADMIN_TOKEN + '\n', { mode: 0o600 });
  });

  after(async () => {
    await Promise.all(gws.map((g) => g.stop().catch(() => null)));
    await nats?.stopAll();
    rmSync(root, { recursive: true, force: true });
  });

  const admin = async (i: number, path: string): Promise<any> => {
    const res = await fetch(gws[i]!.httpUrl + path, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
    return res.status === 200 ? res.json() : undefined;
  };
  const height = async (i: number): Promise<number> => (await admin(i, '/api/v1/status')).height as number;
  const node0 = () => gws[0]!.dataDir;
  const meterKey = () => loadKeyFile(dataPaths(node0()).meterKey(METER));
  let seq = 0;
  /** A reading, sent to gateway `to` (a validator's waiting transactions go only into the blocks it proposes). */
  const post = async (to: number, time = Date.now(), importWh = 10_000 + seq * 500): Promise<void> => {
    const k = meterKey();
    const tx = signTx(genesis.chainId, k.alg, k.secretKey, { type: TxType.Reading, meterId: METER, seq: BigInt(++seq), time, importWh });
    const res = await fetch(`${gws[to]!.httpUrl}/api/v1/tx`, { method: 'POST', headers: { 'content-type': 'application/cbor', authorization: `Bearer ${TEST_ADMIN_TOKEN}` }, body: tx });
    assert.equal(res.status, 202, await res.text());
  };
  const committedEverywhere = async (n: number): Promise<boolean> => {
    for (let i = 0; i < N; i++) if (((await admin(i, `/api/v1/meters/${METER}/readings`))?.readings.length ?? 0) < n) return false;
    return true;
  };
  const env = (i: number) => ({ METERLEDGER_URL: gws[i]!.httpUrl, METERLEDGER_HTTP_ADMIN_TOKEN_FILE: tokenFile });

  test('validator-0 proposes a bill one cent too high; the honest three refuse it (E_BILL_MISMATCH); the right bill commits; same balances; every store verifies', async () => {
    assert.match(gws[0]!.stderr, /TEST HOOK: this validator proposes wrong bills/);
    await until('validators hear each other', async () => (await admin(0, '/api/v1/status')).consensus.peers.length >= 3, 60_000);
    // node0's first start submitted the billing set-up (accounts, deposit, tariff, agreement, mandate).
    await until('the set-up is committed everywhere', async () => {
      for (let i = 0; i < N; i++) if ((await admin(i, `/api/v1/meters/${METER}/agreement`)) === undefined || (await admin(i, `/api/v1/accounts/${OWNER}/mandates`))?.mandates.length !== 1) return false;
      return true;
    }, 60_000);
    const from = (await admin(1, `/api/v1/meters/${METER}/agreement`)).entries[0].from as number;

    // Readings around one whole cycle after the agreement starts; the period's bill is then due.
    const cycle = chainCycle(genesis)!;
    const n = Math.ceil((Math.max(from, Date.now()) + 200 - cycle.epoch) / cycle.lengthMs);
    const end = cycle.epoch + (n + 1) * cycle.lengthMs;
    const period = `cycle-${n}`;
    await post(1);
    await until('the period is over', () => Date.now() > end + 300, 30_000, 100);
    await post(1);
    await until('both readings committed on all four', () => committedEverywhere(2), 30_000);

    // Bring the chain to a height whose next block validator-0 proposes in round 0: each
    // reading goes to the next height's proposer, so each makes exactly one block.
    const validators = genesis.validators.map((v) => ({ id: v.id, power: v.power }));
    const proposerIndex = (height: number): number => genesis.validators.findIndex((v) => v.id === proposerOf(validators, height, 0));
    for (let k = 0; ; k++) {
      await until('all four at one height', async () => new Set(await Promise.all([0, 1, 2, 3].map(height))).size === 1, 30_000);
      const h = await height(0);
      if (proposerIndex(h + 1) === 0) break;
      assert.ok(k < 8, 'the height moves with each reading');
      await post(proposerIndex(h + 1));
      await until('the reading\'s block', async () => (await Promise.all([0, 1, 2, 3].map(height))).every((x) => x > h), 30_000);
    }
    const h = await height(0);

    // The biller sends its bill to two gateways (a gateway may withhold what it was sent):
    // first to validator-0, which holds it when it proposes h+1 in round 0 and makes it a
    // cent too high; then to validator-1, the proposer of round 1, with the right total.
    const issue = async (i: number): Promise<number> => {
      const r = await cli(['bill', 'issue', '--data-dir', node0(), '--meter', METER, '--period', period, '--payee', DEV_PAYEE], { env: env(i) });
      assert.equal(r.code, 0, r.stderr);
      return Number(/\((-?\d+) minor units\)/.exec(r.stdout)?.[1]);
    };
    const total = await issue(0);
    assert.equal(await issue(1), total);
    assert.ok(total > 0);
    for (let i = 0; i < N; i++) {
      await until(`the bill committed on node${i}`, async () => (await admin(i, `/api/v1/bills/${METER}/${period}`)) !== undefined, 60_000);
      assert.equal((await admin(i, `/api/v1/bills/${METER}/${period}`)).total, String(total), `node${i} holds the right bill`);
    }
    // Each honest validator refused validator-0's block at h+1 by recomputing its bill.
    for (let i = 1; i < N; i++) {
      const refused = logLines(gws[i]!.stderr).filter((l) => l.msg === 'invalid block: no vote for it' && l.code === 'E_BILL_MISMATCH');
      assert.ok(refused.length >= 1, `node${i} logged no E_BILL_MISMATCH: ${gws[i]!.stderr.slice(-3000)}`);
      assert.ok(refused.every((l) => l.proposer === 'validator-0' && l.height === h + 1), JSON.stringify(refused));
      assert.match(String(refused[0]!.reason), new RegExp(`total: submitted ${total + 1}, recomputed ${total}`));
    }
    // Height h+1 was decided in a later round, on an honest proposer's block.
    const block = await admin(1, `/api/v1/blocks/${h + 1}`);
    assert.notEqual(block.proposer, 'validator-0', JSON.stringify(block));
    assert.ok(block.commit.round >= 1, JSON.stringify(block.commit));

    // The owner pays the right bill through another gateway; all four hold the same balances.
    const ownerKey = dataPaths(node0()).accountKey(OWNER);
    const paid = await cli(['pay', '--key', ownerKey, '--account', OWNER, '--meter', METER, '--period', period], { env: env(2) });
    assert.equal(paid.code, 0, paid.stderr);
    await until('the payment committed on all four', async () => {
      for (let i = 0; i < N; i++) if ((await admin(i, `/api/v1/bills/${METER}/${period}`))?.paid !== true) return false;
      return true;
    }, 60_000);
    for (let i = 0; i < N; i++) {
      assert.equal((await admin(i, `/api/v1/accounts/${OWNER}`)).balance, String(5000 - total), `node${i}: ${OWNER}`);
      assert.equal((await admin(i, `/api/v1/accounts/${DEV_PAYEE}`)).balance, String(total), `node${i}: ${DEV_PAYEE}`);
    }
    await until('all four at one head', async () => new Set(await Promise.all([0, 1, 2, 3].map(async (i) => (await admin(i, '/api/v1/status')).headHash))).size === 1, 30_000);

    for (const g of gws) assert.equal(await g.stop(), 0, g.stderr.slice(-2000));
    for (const g of gws) {
      const v = await cli(['verify', '--data-dir', g.dataDir]);
      assert.equal(v.code, 0, `verify ${g.dataDir}: ${v.stdout}${v.stderr}`);
    }
  });

  test('the hook is refused on a chain that is not a dev or testnet chain (E_TEST_HOOK_REFUSED)', async () => {
    const dir = join(root, 'prod');
    const init = await cli(['init', '--data-dir', dir, '--meters', '1', '--chain-id', 'acme-production']);
    assert.equal(init.code, 0, init.stderr);
    const gw = await GatewayProcess.create(dir);
    gw.env = { [BYZANTINE_BILL_ENV]: dataPaths(dir).operatorKey };
    await assert.rejects(gw.start(20_000), /E_TEST_HOOK_REFUSED/);
    assert.match(gw.stderr, /METERLEDGER_TEST_BYZANTINE_BILL is a test-only hook and chain "acme-production" is not a dev or testnet chain/);
  });
});
