/**
 * A gateway takes a validator-set change (docs/protocol.md §13.6): a power change of the
 * dev chain's one validator, approved and sealed with its node key, posted to
 * POST /api/v1/tx without a token, commits; its receipt is public; the same number again
 * is E_VALSET_SEQ, approvals by a key of no member E_VALSET_APPROVAL, a change of an
 * unknown validator E_VALSET_INVALID. The chain goes on past H + 2 and the store verifies.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  Alg, type ValidatorSetChange, ValidatorSetOp, VALSET_TX_TYPE, approvalSignBytes, encodeValidatorSetTxBody, randomSecretKey, signCoseSign1, signMessage,
} from '../../../protocols/index.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dataPaths } from '../../../ledger-node/devchain.js';
import { loadKeyFile } from '../../../ledger-node/keyfile.js';
import { makeTestChain } from '../../helpers/devchain.js';
import { GatewayProcess, cli } from '../../helpers/gateway-process.js';
import { until } from '../../helpers/until.js';

const chain = makeTestChain({ meters: 1 });
const gw = await GatewayProcess.create(chain.dataDir);
after(async () => {
  await gw.stop();
  chain.cleanup();
});

const validator = chain.genesis.validators[0]!;
const nodeKey = loadKeyFile(dataPaths(chain.dataDir).validatorKey);

function changeTx(c: ValidatorSetChange, approver: Uint8Array = nodeKey.secretKey): Uint8Array {
  const msg = approvalSignBytes(chain.genesis.chainId, c);
  const body = encodeValidatorSetTxBody({ type: VALSET_TX_TYPE, time: Date.now(), ...c, approvals: [{ validator: validator.id, signature: signMessage(Alg.EdDSA, approver, msg) }] });
  return signCoseSign1(Alg.EdDSA, nodeKey.secretKey, body, chain.genesis.chainId, validator.id);
}

const post = (bytes: Uint8Array): Promise<Response> =>
  fetch(`${gw.httpUrl}/api/v1/tx`, { method: 'POST', headers: { 'content-type': 'application/cbor' }, body: bytes });

test('POST /api/v1/tx takes a sealed type 20 change without a token; it commits, its receipt is public; bad ones are refused with their codes', { timeout: 120_000 }, async () => {
  await gw.start(60_000);
  const change = changeTx({ seq: 1, op: ValidatorSetOp.Power, validator: validator.id, power: validator.power + 2 });
  const r = await post(change);
  assert.equal(r.status, 202, await r.clone().text());
  const { txHash } = (await r.json()) as { txHash: string };
  let receipt: Response | undefined;
  await until('the change commits', async () => (receipt = await fetch(`${gw.httpUrl}/api/v1/tx/${txHash}/receipt`)).status === 200, 30_000);
  const view = (await receipt!.json()) as { height: number; type: number };
  assert.equal(view.type, VALSET_TX_TYPE);

  const again = await post(changeTx({ seq: 1, op: ValidatorSetOp.Power, validator: validator.id, power: validator.power + 5 }));
  assert.equal(again.status, 422);
  assert.equal(((await again.json()) as { code: string }).code, 'E_VALSET_SEQ');
  const stranger = await post(changeTx({ seq: 2, op: ValidatorSetOp.Power, validator: validator.id, power: 9 }, randomSecretKey(Alg.EdDSA)));
  assert.equal(stranger.status, 422);
  assert.match(JSON.stringify(await stranger.json()), /E_VALSET_APPROVAL.*bad approval signature/);
  const unknown = await post(changeTx({ seq: 2, op: ValidatorSetOp.Remove, validator: 'nobody' }));
  assert.equal(unknown.status, 422);
  assert.equal(((await unknown.json()) as { code: string }).code, 'E_VALSET_INVALID');

  // Readings after H + 2 commit under the new set.
  const meter = chain.meterIds[0]!;
  for (let seq = 1; seq <= 3; seq++) {
    const rr = await fetch(`${gw.httpUrl}/api/v1/tx`, { method: 'POST', headers: { 'content-type': 'application/cbor', ...gw.operator }, body: chain.reading(meter, seq) });
    assert.equal(rr.status, 202);
    await until(`reading ${seq} commits`, async () => (await gw.get(`/api/v1/meters/${meter}/receipts/${seq}`)).status === 200, 30_000);
  }
  const head = (await gw.json<{ height: number }>('/api/v1/blocks')).body;
  assert.ok(head.height >= view.height + 2, `head ${head.height} past ${view.height} + 2`);

  // GET /api/v1/validator-set (public): power 1 until H + 1, 3 from H + 2; unknown above head + 2.
  const setAt = async (h: number) => (await fetch(`${gw.httpUrl}/api/v1/validator-set?height=${h}`)).json() as Promise<{ totalPower: number; changes: number; validators: { id: string; power: number }[] }>;
  assert.deepEqual((await setAt(view.height + 1)).validators.map((v) => [v.id, v.power]), [[validator.id, validator.power]]);
  const after2 = await setAt(view.height + 2);
  assert.deepEqual([after2.totalPower, after2.changes], [validator.power + 2, 1]);
  const tooFar = await fetch(`${gw.httpUrl}/api/v1/validator-set?height=${head.height + 3}`);
  assert.equal(tooFar.status, 404);
  assert.equal(((await tooFar.json()) as { error: { code: string } }).error.code, 'E_VALSET_HEIGHT_UNKNOWN');
  const changes = (await (await fetch(`${gw.httpUrl}/api/v1/validator-set/changes`)).json()) as { changes: { seq: number; op: string; height: number; from: number; txHash: string }[]; cbor: string };
  assert.deepEqual(changes.changes.map((c) => [c.seq, c.op, c.height, c.from, c.txHash]), [[1, 'power', view.height, view.height + 2, txHash]]);
  const cbor = await fetch(`${gw.httpUrl}/api/v1/validator-set/changes`, { headers: { accept: 'application/cbor' } });
  assert.equal(Buffer.from(await cbor.arrayBuffer()).toString('hex'), changes.cbor);

  // receipt verify follows the changes from the API to the receipt of reading 3 (height >= H + 2).
  const receiptFile = join(chain.dataDir, 'r3.json');
  writeFileSync(receiptFile, await (await gw.get(`/api/v1/meters/${meter}/receipts/3`)).text());
  const rv = await cli(['receipt', 'verify', receiptFile, '--genesis', join(chain.dataDir, 'genesis.json'), '--set-changes-http', gw.httpUrl]);
  assert.equal(rv.code, 0, rv.stderr);
  assert.match(rv.stdout, /certified: by the validator set of height \d+ .*followed from genesis/);
  assert.equal(await gw.stop(), 0);
  const v = await cli(['verify', '--data-dir', chain.dataDir], { timeoutMs: 60_000 });
  assert.equal(v.code, 0, v.stderr + v.stdout);
});
