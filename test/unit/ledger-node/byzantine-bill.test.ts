/**
 * The test-only Byzantine proposer hook (ledger-node/blocks/byzantine-bill.ts): refused on
 * a chain that is not a dev or testnet chain before any key file is read, refused with a
 * key that is no biller's, and it leaves transactions other than bills as they are. Its
 * wrong bills on a real cluster: test/integration/cluster/byzantine-bill.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Alg, TxType, decodeAnyTx, parseGenesis, signTx, toHex } from '../../../protocols/index.js';
import { BYZANTINE_BILL_ENV, byzantineBillFromEnv, byzantineBillRewrite, isTestChainId } from '../../../ledger-node/blocks/byzantine-bill.js';
import { generateKeyPair } from '../../../ledger-node/keyfile.js';

const biller = generateKeyPair(Alg.EdDSA);
const meter = generateKeyPair(Alg.EdDSA);
const genesisOf = (chainId: string) => parseGenesis({
  chainId, genesisTime: '2026-01-01T00:00:00Z',
  validators: [{ id: 'validator-0', alg: 'Ed25519', publicKey: toHex(generateKeyPair(Alg.EdDSA).publicKey), power: 1 }],
  operators: [{ id: 'operator-0', alg: 'Ed25519', publicKey: toHex(biller.publicKey), roles: ['biller'] }],
  meters: [{ id: 'meter-1', alg: 'Ed25519', publicKey: toHex(meter.publicKey), owner: 'owner-1' }],
  currency: { code: 'EUR', minorUnits: 2 },
});

test('the hook is honoured only on dev- and testnet- chains', () => {
  assert.ok(isTestChainId('dev-1a2b3c4d') && isTestChainId('testnet-1a2b3c4d'));
  assert.ok(!isTestChainId('acme-production') && !isTestChainId('my-dev-chain'));
  assert.throws(() => byzantineBillRewrite(genesisOf('acme-production'), biller), (e: Error & { code?: string }) => e.code === 'E_TEST_HOOK_REFUSED' && /not a dev or testnet chain/.test(e.message));
  // Refused before the file is read: a path that does not exist still says E_TEST_HOOK_REFUSED.
  assert.throws(() => byzantineBillFromEnv(genesisOf('acme-production'), { [BYZANTINE_BILL_ENV]: '/nonexistent/biller.key' }), (e: Error & { code?: string }) => e.code === 'E_TEST_HOOK_REFUSED');
  assert.equal(byzantineBillFromEnv(genesisOf('acme-production'), {}), undefined, 'unset: no hook, no error');
});

test('the hook needs a biller\'s key, and leaves other transactions alone', () => {
  assert.throws(() => byzantineBillRewrite(genesisOf('dev-1'), generateKeyPair(Alg.EdDSA)), (e: Error & { code?: string }) => e.code === 'E_TEST_HOOK_REFUSED' && /biller role/.test(e.message));
  const rewrite = byzantineBillRewrite(genesisOf('dev-1'), biller);
  const reading = decodeAnyTx(signTx('dev-1', meter.alg, meter.secretKey, { type: TxType.Reading, meterId: 'meter-1', seq: 1n, time: 1, importWh: 5 }), Infinity);
  assert.equal(rewrite(reading), undefined);
});
