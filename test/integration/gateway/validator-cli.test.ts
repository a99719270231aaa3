/**
 * `meterledger validator ...` as operators run it (the bin, spawned): four validators'
 * data dirs made with keygen and a genesis of their cards; a fifth party's card; the
 * addition drafted, approved by three parties each with its own key file, possession
 * signed by the new key, sealed by an approver: the transaction is a type 20 change whose
 * approvals hold 3 of 4 (docs/protocol.md §13.2). Two approvals are refused at seal with
 * E_VALSET_APPROVAL, an add of an existing id at draft with E_VALSET_INVALID, a rotation
 * sealed by another validator with E_VALSET_APPROVAL.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ValidatorSetOp, approvalProblem, decodeSetChangeTx, parseGenesis } from '../../../protocols/index.js';

const MAIN = fileURLToPath(new URL('../../../gateway/cli/main.js', import.meta.url));

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { timeout: 30_000, env: { PATH: process.env.PATH ?? '' } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
    });
  });
}

let dir: string;
const d = (name: string): string => join(dir, name);
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'ml-valcli-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

async function ok(args: string[]): Promise<string> {
  const r = await cli(args);
  assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

test('validator add/approve/possess/seal: three of four parties approve a fifth with their own keys; short approvals and bad drafts are refused', { timeout: 180_000 }, async () => {
  const ids = ['gw-a', 'gw-b', 'gw-c', 'gw-d', 'gw-e'];
  for (const id of ids) writeFileSync(d(`${id}.card`), await ok(['keygen', '--data-dir', d(id), '--id', id, '--json']));
  await ok(['genesis', 'new', d('draft.json'), '--chain-id', 'valset-cli']);
  for (const id of ids.slice(0, 4)) await ok(['genesis', 'add-validator', d('draft.json'), '--card', d(`${id}.card`)]);
  await ok(['genesis', 'finalize', d('draft.json'), '--out', d('genesis.json')]);
  for (const id of ids) copyFileSync(d('genesis.json'), join(d(id), 'genesis.json'));
  const genesis = parseGenesis(JSON.parse(readFileSync(d('genesis.json'), 'utf8')));

  const bad = await cli(['validator', 'add', d('dup.json'), '--genesis', d('genesis.json'), '--card', d('gw-a.card')]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /E_VALSET_INVALID: gw-a is a validator already/);

  await ok(['validator', 'add', d('add.json'), '--genesis', d('genesis.json'), '--card', d('gw-e.card'), '--power', '1']);
  for (const id of ['gw-a', 'gw-b']) await ok(['validator', 'approve', d('add.json'), '--data-dir', d(id)]);
  await ok(['validator', 'possess', d('add.json'), '--data-dir', d('gw-e')]);
  const short = await cli(['validator', 'seal', d('add.json'), '--data-dir', d('gw-a'), '--out', d('add.tx')]);
  assert.equal(short.code, 1);
  assert.match(short.stderr, /E_VALSET_APPROVAL: approvals hold 2 of 4 voting power/);
  assert.ok(!readFileSync(d('add.json'), 'utf8').includes('secret'), 'the draft holds no secret');

  await ok(['validator', 'approve', d('add.json'), '--data-dir', d('gw-c')]);
  await ok(['validator', 'seal', d('add.json'), '--data-dir', d('gw-b'), '--out', d('add.tx')]);
  const tx = decodeSetChangeTx(new Uint8Array(readFileSync(d('add.tx'))));
  assert.equal(tx.kid, 'gw-b');
  assert.equal(tx.body.op, ValidatorSetOp.Add);
  assert.equal(tx.body.validator, 'gw-e');
  assert.equal(tx.body.seq, 1);
  assert.deepEqual(tx.body.approvals.map((a) => a.validator), ['gw-a', 'gw-b', 'gw-c']);
  assert.equal(approvalProblem(genesis.chainId, genesis.validators, tx.body), undefined);

  // A rotation: drafted with the new key's card, sealed only by the rotated validator itself.
  await ok(['keygen', '--data-dir', d('gw-a-next'), '--id', 'gw-a', '--json']).then((card) => writeFileSync(d('gw-a-next.card'), card));
  await ok(['validator', 'rotate-key', d('rot.json'), '--genesis', d('genesis.json'), '--id', 'gw-a', '--card', d('gw-a-next.card')]);
  for (const id of ['gw-a', 'gw-b', 'gw-c']) await ok(['validator', 'approve', d('rot.json'), '--data-dir', d(id)]);
  await ok(['validator', 'possess', d('rot.json'), '--data-dir', d('gw-a-next')]);
  const other = await cli(['validator', 'seal', d('rot.json'), '--data-dir', d('gw-b'), '--out', d('rot.tx')]);
  assert.equal(other.code, 1);
  assert.match(other.stderr, /E_VALSET_APPROVAL: a key rotation is sealed by gw-a itself/);
  await ok(['validator', 'seal', d('rot.json'), '--data-dir', d('gw-a'), '--out', d('rot.tx')]);
  const rot = decodeSetChangeTx(new Uint8Array(readFileSync(d('rot.tx'))));
  assert.equal(approvalProblem(genesis.chainId, genesis.validators, rot.body), undefined);
});
