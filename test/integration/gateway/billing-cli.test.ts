/**
 * The billing nouns of the CLI (dist/gateway/cli/main.js as child processes) against a
 * real gateway on a dev chain with money and a 4 s billing cycle (autoIssue and the dev
 * set-up plan removed, so every step is the CLI's): a registrar opens the owner's account
 * (a WebCrypto-style ES256 SPKI public key) and the payee's, a custodian deposits (the
 * same reference again moves nothing), a biller publishes a tariff (a malformed one is
 * refused with its code) and sets the agreement, the owner signs a mandate, readings
 * cross a period, the biller issues its bill (too early: E_BILL_NOT_READY), the owner
 * reads it, pays it (twice: E_BILL_ALREADY_PAID), sees the balance, disputes it, revokes
 * the mandate; the registrar rotates the owner's key.
 */
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Alg, TxType, chainCycle, formatInstant, parseGenesis, signTx, tariffFromJson } from '../../../protocols/index.js';
import { dataPaths, initDevChain } from '../../../ledger-node/devchain.js';
import { DEV_BILLING_PLAN_FILE } from '../../../ledger-node/billing/dev-setup.js';
import { generateKeyPair, loadKeyFile, saveKeyFile } from '../../../ledger-node/keyfile.js';
import { GatewayProcess, TEST_ADMIN_TOKEN, cli as run } from '../../helpers/gateway-process.js';
import { sleep, until } from '../../helpers/until.js';

const CYCLE_MS = 4000;
let dir: string;
let dataDir: string;
let gw: GatewayProcess;
let env: Record<string, string>;
let ownerKey: string;
let payeeKey: string;
let tokenFile: string;

const cli = (args: string[]) => run(args, { env, clean: true, timeoutMs: 30_000 });
const ok = async (args: string[]): Promise<string> => {
  const r = await cli(args);
  assert.equal(r.code, 0, `meterledger ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};
/** Fails with exit 1 and `code` on stderr. */
const refused = async (args: string[], code: string): Promise<string> => {
  const r = await cli(args);
  assert.equal(r.code, 1, `meterledger ${args.join(' ')} should fail: ${r.stdout}${r.stderr}`);
  assert.match(r.stderr, new RegExp(`^error: ${code}: `), r.stderr);
  return r.stderr;
};
const admin = async (path: string): Promise<any> => {
  const res = await fetch(gw.httpUrl + path, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
  return res.status === 200 ? res.json() : undefined;
};

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ml-billing-cli-'));
  dataDir = join(dir, 'chain');
  initDevChain(dataDir, { meters: 1, chainId: 'billing-cli-test', billing: { cycleMs: CYCLE_MS } });
  // Every billing step below is the CLI's: no set-up plan, no autoIssue.
  rmSync(join(dataDir, DEV_BILLING_PLAN_FILE));
  rmSync(join(dataDir, 'config.json'));
  tokenFile = join(dir, 'admin.token');
  writeFileSync(tokenFile, TEST_ADMIN_TOKEN + '\n', { mode: 0o600 });
  ownerKey = join(dir, 'owner.key');
  payeeKey = join(dir, 'payee.key');
  saveKeyFile(ownerKey, generateKeyPair(Alg.ES256));
  saveKeyFile(payeeKey, generateKeyPair(Alg.EdDSA));
  const config = join(dir, 'test-config.json');
  writeFileSync(config, JSON.stringify({ ledger: { blockIntervalMs: 200 } }));
  gw = await GatewayProcess.create(dataDir, ['--config', config]);
  await gw.start(30_000);
  env = { METERLEDGER_URL: gw.httpUrl, METERLEDGER_HTTP_ADMIN_TOKEN_FILE: tokenFile };
});
after(async () => {
  await gw?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('billing through the CLI: account, deposit, tariff, agreement, mandate, bill, pay, dispute, revoke, rotate', { timeout: 180_000 }, async () => {
  // account open: the owner's ES256 key as a browser exports it (SPKI PEM), the payee's as its key file.
  const pub = join(dir, 'owner.pub.pem');
  writeFileSync(pub, createPublicKey(loadKeyFile(ownerKey).privateKey).export({ format: 'pem', type: 'spki' }));
  assert.match(await ok(['account', 'open', '--data-dir', dataDir, '--account', 'owner-0001', '--owner-key', pub]), /^accepted: open account owner-0001 \(tx [0-9a-f]{64}\)/);
  await ok(['account', 'open', '--data-dir', dataDir, '--account', 'superenergy', '--owner-key', payeeKey]);
  await refused(['account', 'open', '--data-dir', dataDir, '--account', 'superenergy', '--owner-key', payeeKey], 'E_ACCOUNT_EXISTS');
  await until('the accounts are committed', async () => (await admin('/api/v1/accounts/superenergy')) !== undefined, 20_000);

  // account show as the owner (a session signed with its key): balance 0, epoch 0, its meter.
  const shown = await ok(['account', 'show', '--account', 'owner-0001', '--key', ownerKey]);
  assert.match(shown, /^balance +0\.00 EUR \(0 minor units\)$/m);
  assert.match(shown, /^key +ES256 [0-9a-f]{66}, epoch 0$/m);
  assert.match(shown, /^meters +meter-0001$/m);
  // The payee's key does not open the owner's session.
  await refused(['account', 'show', '--account', 'owner-0001', '--key', payeeKey], 'E_SESSION_BAD_SIGNATURE');

  // deposit: "12.34" EUR is 1234 minor units; the same reference again moves nothing.
  assert.match(await ok(['deposit', '--data-dir', dataDir, '--account', 'owner-0001', '--amount', '12.34', '--ref', 'bank-1']),
    /^accepted: deposit 12\.34 EUR \(1234 minor units\) to owner-0001, ref bank-1/);
  assert.match(await ok(['deposit', '--data-dir', dataDir, '--account', 'owner-0001', '--amount', '12.34', '--ref', 'bank-1']),
    /^already applied: reference bank-1 was deposited before; nothing moved again \(E_TRANSFER_DUPLICATE\)/);
  await refused(['deposit', '--data-dir', dataDir, '--account', 'owner-0001', '--amount', '1.234', '--ref', 'bank-2'], 'E_AMOUNT_INVALID');
  await refused(['deposit', '--data-dir', dataDir, '--account', 'owner-0001', '--amount=-5', '--ref', 'bank-2'], 'E_AMOUNT_INVALID');
  await refused(['deposit', '--data-dir', dataDir, '--account', 'nobody', '--amount', '5', '--ref', 'bank-3'], 'E_ACCOUNT_UNKNOWN');

  // tariff publish: malformed ones refused with their code, naming the field; a good one prints its content id.
  const effectiveFrom = Math.ceil((Date.now() + 3000) / 1000) * 1000;
  const tariffDoc = {
    tariff: 'flat', currency: { code: 'EUR', minorUnits: 2 }, effectiveFrom: formatInstant(effectiveFrom), localTime: { offset: '+00:00' },
    standingChargePerDay: 0, bands: [{ name: 'all', pricesPerKWh: [250000] }],
    schedule: [{ months: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], weekday: '0'.repeat(24), weekend: '0'.repeat(24) }],
  };
  const bad = join(dir, 'bad-tariff.json');
  writeFileSync(bad, JSON.stringify({ ...tariffDoc, bands: [{ name: 'all', pricesPerKWh: [-1] }] }));
  assert.match(await refused(['tariff', 'publish', bad, '--data-dir', dataDir], 'E_TARIFF_INVALID'), /bands\[0\]\.pricesPerKWh/);
  writeFileSync(bad, '{"tariff": "flat",');
  await refused(['tariff', 'publish', bad, '--data-dir', dataDir], 'E_TARIFF_JSON');
  const good = join(dir, 'tariff.json');
  writeFileSync(good, JSON.stringify(tariffDoc));
  const tariffId = tariffFromJson(tariffDoc).id;
  assert.match(await ok(['tariff', 'publish', good, '--data-dir', dataDir]), new RegExp(`^accepted: tariff ${tariffId} \\(flat, effective from `));
  await until('the tariff is committed', async () => ((await admin('/api/v1/tariffs')) as any).tariffs.length === 1, 20_000);

  // agreement set by the tariff's version id, from its effectiveFrom.
  assert.match(await ok(['agreement', 'set', '--data-dir', dataDir, '--meter', 'meter-0001', '--tariff', tariffId, '--from', formatInstant(effectiveFrom)]),
    /^accepted: agreement of meter-0001: flat from /);
  await refused(['agreement', 'set', '--data-dir', dataDir, '--meter', 'meter-0001', '--tariff', 'no-such-tariff', '--from', formatInstant(effectiveFrom)], 'E_TARIFF_UNKNOWN');

  // mandate sign: the owner's key, no admin token.
  const expires = Date.now() + 86_400_000;
  assert.match(await ok(['mandate', 'sign', '--key', ownerKey, '--account', 'owner-0001', '--payee', 'superenergy', '--meter', 'meter-0001',
    '--cap-per-bill', '5.00', '--cap-per-month', '2000', '--expires', formatInstant(expires)]),
  /^accepted: mandate of owner-0001 for superenergy: meters meter-0001, up to 5\.00 EUR a bill and 20\.00 EUR a month until .*autopay off/);
  // Another ES256 key cannot sign for the owner.
  const stranger = join(dir, 'stranger.key');
  saveKeyFile(stranger, generateKeyPair(Alg.ES256));
  await refused(['mandate', 'sign', '--key', stranger, '--account', 'owner-0001', '--payee', 'superenergy', '--meter', 'meter-0001',
    '--cap-per-bill', '5', '--cap-per-month', '5', '--expires', formatInstant(expires)], 'E_READING_BAD_SIGNATURE');

  // Readings around one whole cycle after the agreement starts.
  const genesis = parseGenesis(await admin('/api/v1/genesis'));
  const cycle = chainCycle(genesis)!;
  const meter = loadKeyFile(dataPaths(dataDir).meterKey('meter-0001'));
  const chainId = genesis.chainId;
  const post = async (seq: number, time: number, importWh: number): Promise<void> => {
    const tx = signTx(chainId, meter.alg, meter.secretKey, { type: TxType.Reading, meterId: 'meter-0001', seq: BigInt(seq), time, importWh });
    const res = await fetch(`${gw.httpUrl}/api/v1/tx`, { method: 'POST', headers: { 'content-type': 'application/cbor', authorization: `Bearer ${TEST_ADMIN_TOKEN}` }, body: tx });
    assert.equal(res.status, 202, await res.text());
  };
  const n = Math.ceil((Math.max(effectiveFrom, Date.now()) + 200 - cycle.epoch) / cycle.lengthMs);
  const start = cycle.epoch + n * cycle.lengthMs;
  const end = start + cycle.lengthMs;
  const period = `cycle-${n}`;
  await post(1, Date.now(), 10_000);
  await until('the period is over', () => Date.now() > end + 300, 20_000, 100);
  // No reading after the period's end yet: the engine says so, nothing is sent.
  await until('the first reading is committed', async () => ((await admin('/api/v1/meters/meter-0001/readings')) as any).readings.length === 1, 20_000);
  await refused(['bill', 'issue', '--data-dir', dataDir, '--meter', 'meter-0001', '--period', period, '--payee', 'superenergy'], 'E_BILL_NOT_READY');
  await post(2, Date.now(), 14_000);
  await until('the second reading is committed', async () => ((await admin('/api/v1/meters/meter-0001/readings')) as any).readings.length === 2, 20_000);
  await sleep(50);

  // bill issue: the engine's bill, accepted by the validator that recomputes it.
  const issued = await ok(['bill', 'issue', '--data-dir', dataDir, '--meter', 'meter-0001', '--period', period, '--payee', 'superenergy']);
  const total = Number(/\((-?\d+) minor units\)/.exec(issued)?.[1]);
  assert.match(issued, new RegExp(`^accepted: bill of meter-0001 for ${period}: `));
  // 4 kWh over the whole reading span, at 0.25 EUR/kWh: the period's share, rounded once per line.
  assert.ok(total > 0 && total <= 100, issued);
  await refused(['bill', 'issue', '--data-dir', dataDir, '--meter', 'meter-0001', '--period', period, '--payee', 'superenergy'], 'E_BILL_EXISTS');
  await until('the bill is committed', async () => (await admin(`/api/v1/bills/meter-0001/${period}`)) !== undefined, 20_000);

  // bill show as the owner.
  const bill = await ok(['bill', 'show', '--meter', 'meter-0001', '--period', period, '--key', ownerKey, '--account', 'owner-0001']);
  assert.match(bill, new RegExp(`^total +${(total / 100).toFixed(2)} EUR \\(${total} minor units\\)$`, 'm'));
  assert.match(bill, /^paid +no$/m);
  assert.match(bill, /^ {2}energy all tier 0, \d+ Wh/m);

  // pay: from the owner's account; twice is refused.
  assert.match(await ok(['pay', '--key', ownerKey, '--account', 'owner-0001', '--meter', 'meter-0001', '--period', period]),
    new RegExp(`^accepted: payment of ${(total / 100).toFixed(2)} EUR \\(${total} minor units\\) for meter-0001 ${period} from owner-0001 to superenergy`));
  await until('the payment is committed', async () => ((await admin(`/api/v1/bills/meter-0001/${period}`)) as any).paid === true, 20_000);
  await refused(['pay', '--key', ownerKey, '--account', 'owner-0001', '--meter', 'meter-0001', '--period', period], 'E_BILL_ALREADY_PAID');
  assert.match(await ok(['bill', 'show', '--meter', 'meter-0001', '--period', period]), /^paid +yes, .* by owner at height \d+$/m);
  assert.match(await ok(['account', 'show', '--account', 'owner-0001']), new RegExp(`^balance +.* \\(${1234 - total} minor units\\)$`, 'm'));
  assert.match(await ok(['account', 'show', '--account', 'superenergy', '--key', payeeKey]), new RegExp(`^balance +.* \\(${total} minor units\\)$`, 'm'));

  // dispute, seen on the bill.
  assert.match(await ok(['dispute', '--key', ownerKey, '--account', 'owner-0001', '--meter', 'meter-0001', '--period', period, '--reason', 'I was away', '--reading', '2']),
    new RegExp(`^accepted: dispute of meter-0001 ${period} by owner-0001`));
  await until('the dispute is committed', async () => ((await admin(`/api/v1/bills/meter-0001/${period}`)) as any).dispute !== null, 20_000);
  assert.match(await ok(['bill', 'show', '--meter', 'meter-0001', '--period', period]), /^dispute +open: I was away$/m);
  await refused(['dispute', '--key', ownerKey, '--account', 'owner-0001', '--meter', 'meter-0001', '--period', period, '--reason', 'again'], 'E_DISPUTE_EXISTS');

  // mandate revoke; a second one has nothing to revoke.
  assert.match(await ok(['mandate', 'revoke', '--key', ownerKey, '--account', 'owner-0001', '--payee', 'superenergy']), /^accepted: mandate of owner-0001 for superenergy revoked/);
  await until('the revocation is committed', async () => ((await admin('/api/v1/accounts/owner-0001/mandates')) as any).mandates[0]?.revoked === true, 20_000);
  await refused(['mandate', 'revoke', '--key', ownerKey, '--account', 'owner-0001', '--payee', 'superenergy'], 'E_MANDATE_UNKNOWN');

  // account rotate-key (a lost phone): epoch 1, and only the new key opens a session.
  const newKey = join(dir, 'owner-new.key');
  saveKeyFile(newKey, generateKeyPair(Alg.EdDSA));
  assert.match(await ok(['account', 'rotate-key', '--data-dir', dataDir, '--account', 'owner-0001', '--owner-key', newKey]), /^accepted: rotate the key of account owner-0001 to epoch 1/);
  await until('the rotation is committed', async () => ((await admin('/api/v1/accounts/owner-0001')) as any).keyEpoch === 1, 20_000);
  assert.match(await ok(['account', 'show', '--account', 'owner-0001', '--key', newKey]), /^key +Ed25519 [0-9a-f]{64}, epoch 1$/m);
  await refused(['account', 'show', '--account', 'owner-0001', '--key', ownerKey], 'E_SESSION_BAD_SIGNATURE');

  // Usage errors exit 2; a missing admin token is named.
  const r = await run(['deposit', '--data-dir', dataDir, '--account', 'owner-0001', '--amount', '1', '--ref', 'x'], { env: { METERLEDGER_URL: gw.httpUrl }, clean: true });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /no admin token/);
});
