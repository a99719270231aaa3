/**
 * `meterledger dispute answer` (the biller's credit note or rejection, docs/billing.md §20)
 * and `meterledger withdraw` (the custodian, §14) against a real gateway on a dev chain made
 * with billing (`init --billing`: accounts, deposits, tariff, agreement, mandate at the
 * first start; autoIssue issues the bills). The admin token comes from a file named in the
 * environment, never from a flag.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Genesis, TxType, parseGenesis, signTx } from '../../../protocols/index.js';
import { DEV_PAYEE, accountIdOf, dataPaths, initDevChain, meterIdOf } from '../../../ledger-node/devchain.js';
import { loadKeyFile } from '../../../ledger-node/keyfile.js';
import { GatewayProcess, TEST_ADMIN_TOKEN, cli } from '../../helpers/gateway-process.js';
import { sleep, until } from '../../helpers/until.js';

const METER = meterIdOf(0);
const OWNER = accountIdOf(0);
let dir: string;
let dataDir: string;
let gw: GatewayProcess;
let genesis: Genesis;
let env: Record<string, string>;

const run = (args: string[]) => cli(args, { env });
const ok = async (args: string[]): Promise<string> => {
  const r = await run(args);
  assert.equal(r.code, 0, `meterledger ${args.join(' ')}: ${r.stdout}${r.stderr}`);
  return r.stdout;
};
const refused = async (args: string[], code: string): Promise<void> => {
  const r = await run(args);
  // A usage error exits 2, a refusal 1.
  assert.equal(r.code, code === 'E_USAGE' ? 2 : 1, `meterledger ${args.join(' ')} should fail: ${r.stdout}${r.stderr}`);
  assert.match(r.stderr, new RegExp(`^error: ${code}: `), r.stderr);
};
const admin = async (path: string): Promise<any> => {
  const res = await fetch(gw.httpUrl + path, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
  return res.status === 200 ? res.json() : undefined;
};
const balance = async (account: string): Promise<bigint> => BigInt((await admin(`/api/v1/accounts/${account}`)).balance);

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ml-dispute-cli-'));
  dataDir = join(dir, 'chain');
  ({ genesis } = initDevChain(dataDir, { meters: 1, chainId: 'dispute-cli-test', billing: { cycleMs: 3000 } }));
  genesis = parseGenesis(JSON.parse(JSON.stringify(genesis)));
  const tokenFile = join(dir, 'admin.token');
  writeFileSync(tokenFile, TEST_ADMIN_TOKEN + '\n', { mode: 0o600 });
  gw = await GatewayProcess.create(dataDir, ['--log-level', 'warn']);
  await gw.start(30_000);
  env = { METERLEDGER_URL: gw.httpUrl, METERLEDGER_HTTP_ADMIN_TOKEN_FILE: tokenFile };
});
after(async () => {
  await gw?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('dispute answer: a rejection and a credit note by the biller; withdraw by the custodian', { timeout: 180_000 }, async () => {
  // `dispute` is a command and a group: flags after it run the owner's dispute, a word the biller's answer.
  assert.match((await run(['dispute', '--help'])).stdout, /^usage: meterledger dispute --key FILE/);
  assert.match((await run(['dispute', 'answer', '--help'])).stdout, /^usage: meterledger dispute answer --data-dir D/);
  await until('the billing set-up is committed', async () => (await admin(`/api/v1/accounts/${OWNER}/mandates`))?.mandates.length === 1, 30_000);
  // Readings until autoIssue has a bill with a total above zero committed; the owner pays it.
  const key = loadKeyFile(dataPaths(dataDir).meterKey(METER));
  let seq = 0;
  let bill: { period: string; total: string } | undefined;
  await until('a bill is committed', async () => {
    seq++;
    const tx = signTx(genesis.chainId, key.alg, key.secretKey, { type: TxType.Reading, meterId: METER, seq: BigInt(seq), time: Date.now(), importWh: seq * 2000 });
    const res = await fetch(`${gw.httpUrl}/api/v1/tx`, { method: 'POST', headers: { 'content-type': 'application/cbor', authorization: `Bearer ${TEST_ADMIN_TOKEN}` }, body: tx });
    assert.equal(res.status, 202, await res.text());
    bill = ((await admin(`/api/v1/meters/${METER}/bills`))?.bills as { period: string; total: string }[]).find((b) => BigInt(b.total) >= 2n);
    return bill !== undefined;
  }, 60_000, 700);
  const period = bill!.period;
  const total = BigInt(bill!.total);
  const ownerKey = dataPaths(dataDir).accountKey(OWNER);
  await ok(['pay', '--key', ownerKey, '--account', OWNER, '--meter', METER, '--period', period]);
  await until('the payment is committed', async () => (await admin(`/api/v1/bills/${METER}/${period}`)).paid === true, 20_000);
  const owner0 = await balance(OWNER);
  const payee0 = await balance(DEV_PAYEE);

  // Nothing to reject before a dispute; exactly one of --credit and --reject.
  const base = ['dispute', 'answer', '--data-dir', dataDir, '--meter', METER, '--period', period];
  await refused([...base, '--reject', '--note', 'nothing wrong'], 'E_DISPUTE_UNKNOWN');
  await refused([...base, '--note', 'what?'], 'E_USAGE');
  await refused([...base, '--reject', '--credit', '1', '--note', 'both'], 'E_USAGE');

  // The owner disputes; the biller rejects it, with a note the bill shows.
  await ok(['dispute', '--key', ownerKey, '--account', OWNER, '--meter', METER, '--period', period, '--reason', 'I was away']);
  await until('the dispute is committed', async () => (await admin(`/api/v1/bills/${METER}/${period}`)).dispute?.status === 'open', 20_000);
  assert.match(await ok([...base, '--reject', '--note', 'the readings are signed by your meter']), new RegExp(`^accepted: dispute of ${METER} ${period} rejected \\(tx [0-9a-f]{64}\\)`));
  await until('the rejection is committed', async () => (await admin(`/api/v1/bills/${METER}/${period}`)).dispute?.status === 'rejected', 20_000);
  assert.equal((await admin(`/api/v1/bills/${METER}/${period}`)).dispute.note, 'the readings are signed by your meter');

  // Disputed again; this time a credit note of 1 minor unit: it moves from the payee back to the owner.
  await sleep(5); // a later dispute carries a later time (§20)
  await ok(['dispute', '--key', ownerKey, '--account', OWNER, '--meter', METER, '--period', period, '--reason', 'the meter was replaced']);
  await until('the second dispute is committed', async () => (await admin(`/api/v1/bills/${METER}/${period}`)).dispute?.status === 'open', 20_000);
  await refused([...base, '--credit', String(total + 1n), '--note', 'too much'], 'E_CREDIT_EXCEEDS_BILL');
  await refused([...base, '--credit', '0.001', '--note', 'fraction'], 'E_AMOUNT_INVALID');
  assert.match(await ok([...base, '--credit', '0.01', '--note', 'a cent back']),
    new RegExp(`^accepted: credit note of 0\\.01 EUR \\(1 minor units\\) on ${METER} ${period} \\(tx [0-9a-f]{64}\\)`));
  await until('the credit note is committed', async () => (await admin(`/api/v1/bills/${METER}/${period}`)).credited === '1', 20_000);
  const credited = await admin(`/api/v1/bills/${METER}/${period}`);
  assert.equal(credited.dispute.status, 'credited');
  assert.equal(await balance(OWNER), owner0 + 1n);
  assert.equal(await balance(DEV_PAYEE), payee0 - 1n);

  // withdraw: the custodian pays 10.00 EUR out; the same reference again moves nothing; never below zero.
  assert.match(await ok(['withdraw', '--data-dir', dataDir, '--account', OWNER, '--amount', '10.00', '--ref', 'payout-1']),
    new RegExp(`^accepted: withdrawal 10\\.00 EUR \\(1000 minor units\\) from ${OWNER}, ref payout-1 \\(tx [0-9a-f]{64}\\)`));
  await until('the withdrawal is committed', async () => (await balance(OWNER)) === owner0 + 1n - 1000n, 20_000);
  assert.match(await ok(['withdraw', '--data-dir', dataDir, '--account', OWNER, '--amount', '10.00', '--ref', 'payout-1']),
    /^already applied: reference payout-1 was used before; nothing moved again \(E_TRANSFER_DUPLICATE\)/);
  await refused(['withdraw', '--data-dir', dataDir, '--account', OWNER, '--amount', String(owner0 + 1n), '--ref', 'payout-2'], 'E_ACCOUNT_INSUFFICIENT_FUNDS');
  await refused(['withdraw', '--data-dir', dataDir, '--account', 'nobody', '--amount', '1', '--ref', 'payout-3'], 'E_ACCOUNT_UNKNOWN');
  await refused(['withdraw', '--data-dir', dataDir, '--account', OWNER, '--amount', '1.234', '--ref', 'payout-4'], 'E_AMOUNT_INVALID');
  await sleep(1500);
  assert.equal(await balance(OWNER), owner0 + 1n - 1000n, 'the refused and repeated withdrawals moved nothing');

  // No admin token, no withdrawal: the secret comes from a file or the environment only.
  const r = await cli(['withdraw', '--data-dir', dataDir, '--account', OWNER, '--amount', '1', '--ref', 'payout-5'], { env: { METERLEDGER_URL: gw.httpUrl }, clean: true });
  assert.equal(r.code, 2, r.stdout + r.stderr);
  assert.match(r.stderr, /^error: E_USAGE: no admin token/);

  // The chain still audits: conservation (deposits minus withdrawals), caps, no double payment.
  assert.equal(await gw.stop(), 0, gw.stderr.slice(-2000));
  const v = await cli(['verify', '--data-dir', dataDir]);
  assert.equal(v.code, 0, v.stdout + v.stderr);
});
