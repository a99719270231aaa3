/**
 * The `meterledger` bin as users run it: spawned with node on dist/gateway/cli/main.js,
 * against temp data dirs made by initDevChain. Exit codes: 0 ok, 1 error, 2 usage.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  Alg, TxType, checkConnectToken, decodeKey, decodeTx, encodeReceipt, fromHex, genesisHash, parseGenesis, publicKeyOf,
  randomSecretKey, sha256, sigStructure, signTx, toHex, verifySignature,
} from '../../../protocols/index.js';
import { initDevChain } from '../../../ledger-node/devchain.js';
import { silentLogger } from '../../../ledger-node/api.js';
import { startHttpApi } from '../../../gateway/http/server.js';
import { COMMANDS } from '../../../gateway/cli/commands/index.js';
import { makeFakeLedger } from '../../helpers/fake-ledger.js';
import { commitBatch } from '../../helpers/test-block.js';

const MAIN = fileURLToPath(new URL('../../../gateway/cli/main.js', import.meta.url));

interface Run { code: number | null; stdout: string; stderr: string }

function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { timeout: 20_000, env: { PATH: process.env.PATH ?? '', ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
    });
  });
}

let dir: string;
let dataDir: string;
let chainId: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'ml-cli-'));
  dataDir = join(dir, 'chain');
  chainId = initDevChain(dataDir, { meters: 2, meterAlg: 'mixed', chainId: 'cli-test' }).genesis.chainId;
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('meter token prints exactly two lines: username and a token that verifies with the meter key', { timeout: 30_000 }, async () => {
  const genesis = JSON.parse(readFileSync(join(dataDir, 'genesis.json'), 'utf8'));
  for (const [id, clientId] of [['meter-0001', undefined], ['meter-0002', 'meter-0002/other']] as const) {
    const r = await cli(['meter', 'token', '--data-dir', dataDir, '--meter', id, ...(clientId ? ['--client-id', clientId] : [])]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n');
    assert.equal(lines.length, 3, JSON.stringify(r.stdout));
    assert.equal(lines[2], '');
    assert.equal(lines[0], `username: ${id}`);
    const token = /^password: (ml1\.\d+\.[0-9a-f]{128})$/.exec(lines[1]!)?.[1];
    assert.ok(token, lines[1]);
    const k = decodeKey(genesis.meters.find((m: { id: string }) => m.id === id));
    const check = (cid: string) => checkConnectToken(token, chainId, id, cid, k.alg, k.publicKey, Date.now(), 60_000);
    assert.deepEqual(check(clientId ?? id), { ok: true }, 'bound to the meter id unless --client-id is given');
    assert.equal(check('someone-else').ok, false);
  }
  // A client id the gateway would refuse (CONNACK 2) is refused here.
  const r = await cli(['meter', 'token', '--data-dir', dataDir, '--meter', 'meter-0002', '--client-id', 'meter-0001']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--client-id must be "meter-0002" or "meter-0002\/<suffix>"/);
});

test('an unknown flag, a missing flag and an unknown command exit 2 with E_USAGE and no stack', { timeout: 30_000 }, async () => {
  for (const args of [
    ['meter', 'token', '--data-dir', dataDir, '--meter', 'meter-0001', '--bogus'],
    ['meter', 'token', '--data-dir', dataDir],
    ['frobnicate'],
    ['meter', 'frobnicate'],
    ['start', '--mqtt-prot', '1'],
    ['init', '--data-dir', join(dir, 'x'), '--meters', 'many'],
  ]) {
    const r = await cli(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /^error: E_USAGE: /, args.join(' '));
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
  const bare = await cli([]);
  assert.equal(bare.code, 2);
  assert.match(bare.stderr, /usage: meterledger <command>/);
});

// One process per command: on a loaded 2-core box each start can take seconds, so they run
// four at a time under a bound that does not depend on the machine's speed.
test('--help works for every command and names its flags', { timeout: 300_000 }, async () => {
  const top = await cli(['--help']);
  assert.equal(top.code, 0);
  const queue = [...COMMANDS];
  const worker = async (): Promise<void> => {
    for (let c = queue.shift(); c; c = queue.shift()) {
      assert.ok(top.stdout.includes(c.name), c.name);
      const r = await cli([...c.name.split(' '), '--help']);
      assert.equal(r.code, 0, `${c.name}: ${r.stderr}`);
      assert.match(r.stdout, new RegExp(`^usage: meterledger ${c.name}( |\n)`), c.name);
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  assert.match((await cli(['meter', 'token', '--help'])).stdout, /default: the meter id/);
});

test('errors print "error: CODE: message" and exit 1; --debug adds the stack', { timeout: 30_000 }, async () => {
  const r = await cli(['meter', 'token', '--data-dir', dataDir, '--meter', 'meter-9999']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^error: E_KEY_MISSING: no key file at .*meter-9999\.key\n$/);
  const d = await cli(['meter', 'token', '--data-dir', dataDir, '--meter', 'meter-9999', '--debug']);
  assert.equal(d.code, 1);
  assert.match(d.stderr, /\n\s+at /);
  const again = await cli(['init', '--data-dir', dataDir]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /^error: E_DATADIR_EXISTS: /);
});

test('start refuses a bad setting with E_CONFIG_INVALID naming the field, before opening anything', { timeout: 30_000 }, async () => {
  const r = await cli(['start', '--data-dir', dataDir, '--mqtt-port', 'abc']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^error: E_CONFIG_INVALID: mqtt\.port: must be an integer 0\.\.65535/);
  const e = await cli(['start', '--data-dir', dataDir], { METERLEDGER_LOG_LEVEL: 'chatty' });
  assert.match(e.stderr, /^error: E_CONFIG_INVALID: log\.level: .*METERLEDGER_LOG_LEVEL/);
});

test('init prints the chain id and where genesis and keys are', { timeout: 30_000 }, async () => {
  const d = join(dir, 'fresh');
  const r = await cli(['init', '--data-dir', d, '--meters', '1', '--meter-alg', 'ES256', '--chain-id', 'fresh-chain']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /chain id: fresh-chain/);
  assert.ok(r.stdout.includes(join(d, 'genesis.json')));
  assert.equal(JSON.parse(readFileSync(join(d, 'genesis.json'), 'utf8')).meters[0].alg, 'ES256');
});

test('meter sign: hex on stdout (or raw to --out) is a reading signed by the meter key', { timeout: 30_000 }, async () => {
  const genesis = JSON.parse(readFileSync(join(dataDir, 'genesis.json'), 'utf8'));
  const r = await cli(['meter', 'sign', '--data-dir', dataDir, '--meter', 'meter-0002', '--seq', '18446744073709551615', '--wh', '1234', '--time', '1700000000000']);
  assert.equal(r.code, 0, r.stderr);
  const tx = decodeTx(fromHex(r.stdout.trim()));
  assert.deepEqual(tx.body, { type: 1, meterId: 'meter-0002', seq: 2n ** 64n - 1n, time: 1_700_000_000_000, importWh: 1234 });
  const k = decodeKey(genesis.meters[1]);
  assert.ok(verifySignature(k.alg, k.publicKey, sigStructure(tx.cose.protectedBytes, tx.cose.payload, chainId), tx.cose.signature));
  const out = join(dir, 'tx.cbor');
  const f = await cli(['meter', 'sign', '--data-dir', dataDir, '--meter', 'meter-0002', '--seq', '5', '--wh', '1', '--out', out]);
  assert.equal(f.code, 0, f.stderr);
  assert.equal(decodeTx(new Uint8Array(readFileSync(out))).body.meterId, 'meter-0002');
  assert.equal((await cli(['meter', 'sign', '--data-dir', dataDir, '--meter', 'meter-0002', '--seq', '0', '--wh', '1'])).code, 2);
});

test('receipt verify: CBOR and endpoint JSON pass and say what they prove; a tampered one fails with 1', { timeout: 30_000 }, async () => {
  const node = makeFakeLedger();
  const gFile = join(dir, 'fake-genesis.json');
  writeFileSync(gFile, JSON.stringify(node.genesis));
  const receipt = (await node.getReceipt('meter-0001', 2n))!;
  const bytes = encodeReceipt(receipt);
  const cborFile = join(dir, 'r.cbor');
  writeFileSync(cborFile, bytes);
  const jsonFile = join(dir, 'r.json');
  writeFileSync(jsonFile, `  ${JSON.stringify({ seq: '2', cbor: Buffer.from(bytes).toString('hex') })}\n`);
  for (const f of [cborFile, jsonFile]) {
    const r = await cli(['receipt', 'verify', f, '--genesis', gFile]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /chain: +test-chain/);
    assert.match(r.stdout, /height: +1 /);
    assert.match(r.stdout, /meter: +meter-0001/);
    assert.match(r.stdout, /seq: +2\n/);
  }
  const bad = encodeReceipt({ ...receipt, index: 0 });
  writeFileSync(cborFile, bad);
  const r = await cli(['receipt', 'verify', cborFile, '--genesis', gFile]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^error: E_RECEIPT_INVALID: inclusion proof/);
  const other = await cli(['receipt', 'verify', jsonFile, '--genesis', join(dataDir, 'genesis.json')]);
  assert.equal(other.code, 1);
  assert.match(other.stderr, /E_RECEIPT_INVALID: receipt is for chain "test-chain"/);
});

test('receipt verify: a committed reading dated beyond any Date (time 2^53-1) verifies and prints, never E_INTERNAL', { timeout: 30_000 }, async () => {
  // Chains made before the block time rule (docs/protocol.md §3.5) may hold such a reading.
  const vSk = randomSecretKey(Alg.EdDSA);
  const mSk = randomSecretKey(Alg.EdDSA);
  const genesis = parseGenesis({
    chainId: 'far-future', genesisTime: '2026-01-01T00:00:00Z',
    validators: [{ id: 'validator-0', alg: 'Ed25519', publicKey: toHex(publicKeyOf(Alg.EdDSA, vSk)) }],
    meters: [{ id: 'meter-0001', alg: 'Ed25519', publicKey: toHex(publicKeyOf(Alg.EdDSA, mSk)) }],
  });
  const bytes = signTx(genesis.chainId, Alg.EdDSA, mSk, { type: TxType.Reading, meterId: 'meter-0001', seq: 1n, time: Number.MAX_SAFE_INTEGER, importWh: 7 });
  const { committed } = commitBatch(genesis.chainId, 1, genesisHash(genesis), 'validator-0', vSk, [{ bytes, meterId: 'meter-0001', seq: 1n, txHash: sha256(bytes) }]);
  const gFile = join(dir, 'far-genesis.json');
  writeFileSync(gFile, JSON.stringify(genesis));
  const rFile = join(dir, 'far.cbor');
  writeFileSync(rFile, encodeReceipt(committed[0]!.receipt));
  const r = await cli(['receipt', 'verify', rFile, '--genesis', gFile]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /reading: +7 Wh at 9007199254740991 ms since 1970 \(beyond any calendar date\)/);
  assert.match(r.stdout, /signature: +checked/);
});

test('verify --http audits a gateway\'s raw blocks against a genesis file', { timeout: 30_000 }, async () => {
  const node = makeFakeLedger();
  const gFile = join(dir, 'verify-genesis.json');
  writeFileSync(gFile, JSON.stringify(node.genesis));
  const api = await startHttpApi({
    node, scrapeMetrics: async () => ({ contentType: 'text/plain', body: '' }), readiness: () => [], mqttClients: () => 0,
    adminToken: 'cli-test-admin-token-0123', logger: silentLogger,
  }, '127.0.0.1', 0);
  // Raw blocks hold readings: the operator's (docs/http-api.md §Access).
  const env = { METERLEDGER_HTTP_ADMIN_TOKEN: 'cli-test-admin-token-0123' };
  try {
    const r = await cli(['verify', '--http', api.url, '--genesis', gFile], env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'ok: 1 blocks, 2 transactions\n');
    const wrong = await cli(['verify', '--http', api.url, '--genesis', join(dataDir, 'genesis.json')], env);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stdout, /^FAILED at height 0: the gateway serves chain "test-chain"/);
    assert.equal((await cli(['verify', '--http', api.url])).code, 2, '--http needs --genesis');
  } finally {
    await api.close();
  }
});
